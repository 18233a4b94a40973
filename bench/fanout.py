#!/usr/bin/env python3
"""Scenario D client: submits N jobs (POST /analyze, CONC in flight over CONC
keep-alive connections), then sweeps: polls every unfinished job at most once
a second (CONC in flight) until all are terminal (200 or 500) or TIMEOUT
seconds pass. Standard library only: raw HTTP/1.1 over asyncio streams.
Prints one line of key=value pairs:
  submitted submit_s total_s succeeded failed pending post_errors
  get_unexpected transport_errors get_requests client_cpu_s submit_cpu_s
total_s runs from the first submit to the end of the sweep that saw the last
job terminal (resolution: one sweep). client_cpu_s / submit_cpu_s are this
process's own CPU seconds (all, and during the submit phase): close to the
wall time means the client, not the server, set the pace.
usage: fanout.py HOST PORT [N=10000] [CONC=64] [TIMEOUT=120]"""
import asyncio
import re
import sys
import time

BODY = b'{"document":"bench.pdf"}'
ID_RE = re.compile(rb'"id":"([^"]+)"')


class Conn:
    """One keep-alive connection; reopened when the server closes it."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, head, body=b""):
        """Sends one request, returns (status, body). Raises on transport errors."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            # The selector transport recv()s into a fresh 256 KiB bytes object,
            # which glibc serves by mmap + mremap + munmap: three syscalls per
            # answer, half the client's CPU. Answers here are < 2 KiB.
            self.writer.transport.max_size = 16 * 1024
        try:
            self.writer.write(head + body)
            head_in = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head_in[9:12])
            lower = head_in.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                end = lower.index(b"\r\n", at + 2)
                data = await self.reader.readexactly(int(lower[at + 17:end]))
            elif b"\r\ntransfer-encoding: chunked" in lower:
                data = await self._chunked()
            else:
                data = b""
            if b"\r\nconnection: close" in lower:
                self.close()
            return status, data
        except BaseException:
            self.close()
            raise

    async def _chunked(self):
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(chunk[:-2])

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def parallel(conns, items, work):
    """Runs work(conn, item) for every item, one worker per connection."""
    it = iter(items)

    async def worker(conn):
        for item in it:  # a shared iterator: each item goes to exactly one worker
            await work(conn, item)

    await asyncio.gather(*(worker(c) for c in conns))


async def main():
    host, port = sys.argv[1], int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    conc = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0
    if not host.startswith("127.") and host != "localhost":
        sys.exit("fanout.py: refusing a non-loopback target " + host)
    conns = [Conn(host, port) for _ in range(conc)]
    c = dict(post_errors=0, get_unexpected=0, transport_errors=0, get_requests=0, succeeded=0, failed=0)
    post_head = (f"POST /analyze HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(BODY)}\r\n\r\n").encode()
    get_head = f" HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()

    cpu0, t0 = time.process_time(), time.monotonic()
    deadline = t0 + timeout
    ids = []

    async def submit(conn, _):
        if time.monotonic() > deadline:
            c["post_errors"] += 1
            return
        try:
            status, data = await conn.request(post_head, BODY)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            c["transport_errors"] += 1
            c["post_errors"] += 1
            return
        m = ID_RE.search(data) if status == 202 else None
        if m:
            ids.append(m.group(1).decode())
        else:
            c["post_errors"] += 1

    await parallel(conns, range(n), submit)
    submit_s, submit_cpu = time.monotonic() - t0, time.process_time() - cpu0
    submitted = len(ids)

    pending, last_terminal = ids, time.monotonic()
    while pending and time.monotonic() < deadline:
        sweep_start = time.monotonic()
        still = []

        async def poll(conn, job):
            c["get_requests"] += 1
            try:
                status, _ = await conn.request(b"GET /results/" + job.encode() + get_head)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                c["transport_errors"] += 1
                still.append(job)  # retried next sweep
                return
            if status == 200:
                c["succeeded"] += 1
            elif status == 500:
                c["failed"] += 1
            elif status == 202:
                still.append(job)
            else:  # 404 or anything else: the job is lost; count it, stop polling it
                c["get_unexpected"] += 1

        await parallel(conns, pending, poll)
        if len(still) < len(pending):
            last_terminal = time.monotonic()
        pending = still
        if pending:
            await asyncio.sleep(max(0.0, sweep_start + 1.0 - time.monotonic()))
    for conn in conns:
        conn.close()
    print(f"submitted={submitted} submit_s={submit_s:.2f} total_s={last_terminal - t0:.2f} "
          f"succeeded={c['succeeded']} failed={c['failed']} pending={len(pending)} "
          f"post_errors={c['post_errors']} get_unexpected={c['get_unexpected']} "
          f"transport_errors={c['transport_errors']} get_requests={c['get_requests']} "
          f"client_cpu_s={time.process_time() - cpu0:.2f} submit_cpu_s={submit_cpu:.2f}", flush=True)
    sys.exit(3 if pending else 0)


asyncio.run(main())
