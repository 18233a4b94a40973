#!/usr/bin/env python3
"""The two Python halves of bench/soak.sh. Standard library only: raw HTTP/1.1
over asyncio streams.

soak.py route LISTEN_PORT SHORT_PORT LONG_PORT
  jobrelay's upstream. The bundled mock has one job length and the soak needs
  two (short jobs for the steady flow, long ones to hold requests on), so this
  forwards each POST to the short mock, or to the long one when the body
  contains "long", with the mock's own Host: the mock builds its
  Operation-Location from Host, so jobrelay then polls that mock directly and
  only submits pass through here. Runs until SIGTERM, then prints
  forwarded=N errors=N.

soak.py load HOST PORT [--options]
  For DURATION seconds, RATE new short jobs a second (POST /analyze), each
  followed to its end by one client: most poll GET /results/{id} honouring
  Retry-After, WAIT_PCT % hold long polls (?wait=30 with If-None-Match),
  EVENTS_PCT % read the event stream until it ends. Meanwhile LONG_JOBS long
  jobs carry HELD_POLLS long polls (?wait=60) and HELD_STREAMS event streams
  between them; a long job that ends is replaced at once. Prints a progress
  line every 15 s and a last line "summary key=value ...".
  Errors (all expected to be 0): post_failed (no 202 with an id), unexpected
  (any other status, by request kind and status), transport_errors, timeouts
  (a request not answered in time), late (a job not terminal by its length +
  60 s), bad_stream_end (a stream that ended without a succeeded event),
  unfinished (short jobs still followed 30 s after the end).
"""
import argparse
import asyncio
import collections
import random
import re
import signal
import sys
import time

ID_RE = re.compile(rb'"id":"([^"]+)"')
STATUS_RE = re.compile(rb'"status":"([a-z]+)"')  # the job document's first "status" is the job's
IDLE_S = 30.0  # pooled connections idle longer are closed: jobrelay and the mock drop them at 60 s (idle_timeout)


def header(head_lower, name):
    """One header's value from a lower-cased response head, or None."""
    at = head_lower.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    end = head_lower.index(b"\r\n", at + 2)
    return head_lower[at + len(name) + 3:end].strip()


class Conn:
    """One keep-alive connection (fanout.py's, plus headers and streamed bodies)."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def send(self, data):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            # asyncio recv()s into a fresh 256 KiB buffer by default, which glibc
            # serves with mmap + munmap per answer (see fanout.py); answers are small.
            self.writer.transport.max_size = 16 * 1024
        self.writer.write(data)

    async def head(self):
        """Reads a response head: (status, lower-cased head)."""
        head_in = await self.reader.readuntil(b"\r\n\r\n")
        return int(head_in[9:12]), head_in.lower()

    async def body(self, lower):
        n = header(lower, b"content-length")
        if n is not None:
            return await self.reader.readexactly(int(n))
        if header(lower, b"transfer-encoding") == b"chunked":
            parts = []
            while (chunk := await self.chunk()) is not None:
                parts.append(chunk)
            return b"".join(parts)
        return b""

    async def chunk(self):
        """The next chunk of a chunked body, None after the last (no trailers expected)."""
        size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
        data = await self.reader.readexactly(size + 2)
        return data[:-2] if size else None

    async def request(self, data):
        """Sends one request, returns (status, lower-cased head, body). Raises on transport errors."""
        try:
            await self.send(data)
            status, lower = await self.head()
            body = b"" if status in (204, 304) else await self.body(lower)  # never a body, whatever the head says
            if header(lower, b"connection") == b"close":
                self.close()
            return status, lower, body
        except BaseException:  # cancellation too: a half-read answer leaves the connection unusable
            self.close()
            raise

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Pool:
    """Idle keep-alive connections, newest first out."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.idle = collections.deque()  # (conn, last use), oldest on the left

    def get(self):
        return self.idle.pop()[0] if self.idle else Conn(self.host, self.port)

    def put(self, conn):
        now = time.monotonic()
        while self.idle and now - self.idle[0][1] > IDLE_S:
            self.idle.popleft()[0].close()
        if conn.writer is not None:
            self.idle.append((conn, now))


TRANSPORT = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


class Load:
    def __init__(self, a):
        self.a = a
        self.pool = Pool(a.host, a.port)
        self.c = collections.Counter()
        self.unexpected = collections.Counter()
        self.hostport = f"{a.host}:{a.port}"
        self.start = self.end = 0.0
        self.max_lag = 0.0
        self.slots = asyncio.Semaphore(a.conns)

    # ---- requests
    def get_head(self, path, etag=None):
        inm = b"If-None-Match: " + etag + b"\r\n" if etag else b""
        return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + self.hostport.encode() + b"\r\n" + inm + b"\r\n"

    def post(self, long):
        body = b'{"document":"soak-long.pdf"}' if long else b'{"document":"soak.pdf"}'
        return (f"POST /analyze HTTP/1.1\r\nHost: {self.hostport}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def call(self, data, timeout=10.0, held=False):
        """One request on a pooled connection: (status, head, body), or None (counted).
        Short requests take one of CONNS slots: when the event loop falls behind,
        due polls pile up, and each would otherwise open one more connection."""
        if held:
            return await self.call_on(self.pool.get(), data, timeout)
        async with self.slots:
            return await self.call_on(self.pool.get(), data, timeout)

    async def call_on(self, conn, data, timeout):
        try:
            r = await asyncio.wait_for(conn.request(data), timeout)
        except asyncio.TimeoutError:
            self.c["timeouts"] += 1
            return None
        except TRANSPORT:
            self.c["transport_errors"] += 1
            return None
        self.pool.put(conn)
        return r

    async def submit(self, long):
        """POST /analyze: (id, etag) or None (counted)."""
        r = await self.call(self.post(long))
        if r is None:
            self.c["post_failed"] += 1
            return None
        status, head, body = r
        m = ID_RE.search(body) if status == 202 else None
        if not m:
            self.c["post_failed"] += 1
            if status != 202:
                self.unexpected[f"POST {status}"] += 1
            return None
        self.c["long_jobs" if long else "jobs"] += 1
        return m.group(1).decode(), header(head, b"etag")

    # ---- followers; each returns when the job has ended (or on an error, counted)
    async def follow_poll(self, job, deadline):
        while True:
            r = await self.call(self.get_head(f"/results/{job}"))
            if r is None:
                return
            status, head, _ = r
            self.c["polls"] += 1
            if status == 200:
                self.c["done_poll"] += 1
                return
            if status != 202:
                self.unexpected[f"GET {status}"] += 1
                return
            if time.monotonic() > deadline:
                self.c["late"] += 1
                return
            await asyncio.sleep(float(header(head, b"retry-after") or 1))

    async def follow_wait(self, job, etag, deadline, wait_s, done_key):
        while True:
            r = await self.call(self.get_head(f"/results/{job}?wait={wait_s}", etag), wait_s + 15, held=True)
            if r is None:
                return
            status, head, _ = r
            self.c["long_polls"] += 1
            if status == 200:
                self.c[done_key] += 1
                return
            if status not in (202, 304):  # 304: the job did not change within wait_s
                self.unexpected[f"GET?wait {status}"] += 1
                return
            if time.monotonic() > deadline:
                self.c["late"] += 1
                return
            etag = header(head, b"etag") or etag

    async def follow_events(self, job, deadline, done_key):
        conn = self.pool.get()
        last = None
        try:
            await conn.send(self.get_head(f"/results/{job}/events"))
            status, lower = await asyncio.wait_for(conn.head(), 10)
            if status != 200:
                await asyncio.wait_for(conn.body(lower), 10)
                self.unexpected[f"GET/events {status}"] += 1
                self.pool.put(conn)
                return
            buf = b""
            while True:
                # a keep-alive comment comes every 15 s of quiet, so 30 s without a chunk is a hang
                chunk = await asyncio.wait_for(conn.chunk(), min(30.0, max(1.0, deadline - time.monotonic())))
                if chunk is None:
                    break
                buf += chunk
                *events, buf = buf.split(b"\n\n")
                for ev in events:
                    m = STATUS_RE.search(ev)
                    if m:
                        last = m.group(1)
                        self.c["events"] += 1
        except asyncio.TimeoutError:
            conn.close()
            self.c["timeouts" if time.monotonic() < deadline else "late"] += 1
            return
        except TRANSPORT:
            conn.close()
            self.c["transport_errors"] += 1
            return
        except asyncio.CancelledError:
            conn.close()
            raise
        self.pool.put(conn)
        if last == b"succeeded":
            self.c[done_key] += 1
        else:
            self.c["bad_stream_end"] += 1

    # ---- the two populations
    async def short_job(self, kind):
        sub = await self.submit(False)
        if sub is None:
            return
        job, etag = sub
        deadline = time.monotonic() + self.a.job_ms / 1000 + 60
        if kind == "wait":
            await self.follow_wait(job, etag, deadline, 30, "done_wait")
        elif kind == "events":
            await self.follow_events(job, deadline, "done_events")
        else:
            await self.follow_poll(job, deadline)

    async def long_slot(self, polls, streams, delay):
        """Keeps one long job with polls long polls and streams event streams on it."""
        await asyncio.sleep(delay)
        while time.monotonic() < self.end:
            sub = await self.submit(True)
            if sub is None:
                await asyncio.sleep(1)
                continue
            job, etag = sub
            deadline = time.monotonic() + self.a.long_job_ms / 1000 + 60
            await asyncio.gather(
                *(self.follow_wait(job, etag, deadline, 60, "done_long_wait") for _ in range(polls)),
                *(self.follow_events(job, deadline, "done_long_events") for _ in range(streams)))

    def errors(self):
        return (sum(self.c[k] for k in ("post_failed", "transport_errors", "timeouts", "late",
                                         "bad_stream_end", "unfinished")) + sum(self.unexpected.values()))

    def line(self):
        return " ".join(f"{k}={v}" for k, v in sorted(self.c.items())) + \
            " unexpected=" + (",".join(f"{k.replace(' ', '_')}:{v}" for k, v in sorted(self.unexpected.items())) or "0") + \
            f" max_lag_s={self.max_lag:.2f} errors={self.errors()}"

    async def progress(self):
        while True:
            await asyncio.sleep(15)
            print(f"t={time.monotonic() - self.start:.0f} {self.line()}", flush=True)

    async def run(self):
        a = self.a
        self.start = time.monotonic()
        self.end = self.start + a.duration
        reporter = asyncio.create_task(self.progress())
        # the long jobs start spread over their first 30 s, so that they end spread out too
        n = a.long_jobs
        slots = [asyncio.create_task(self.long_slot(
            len(range(i, a.held_polls, n)), len(range(i, a.held_streams, n)), 30.0 * i / n)) for i in range(n)]
        rng = random.Random(1)
        short = set()
        interval, t, i = 1.0 / a.rate, self.start, 0
        while t < self.end:
            now = time.monotonic()
            if t > now:
                await asyncio.sleep(t - now)
            else:
                self.max_lag = max(self.max_lag, now - t)  # the client falling behind its schedule
            x = rng.random() * 100
            kind = "wait" if x < a.wait_pct else "events" if x < a.wait_pct + a.events_pct else "poll"
            task = asyncio.create_task(self.short_job(kind))
            short.add(task)
            task.add_done_callback(short.discard)
            i += 1
            t = self.start + i * interval  # from the start, so rounding does not drift the rate
        load_cpu = time.process_time()
        # the held population is not waited for: its jobs run on for minutes
        for s in slots:
            s.cancel()
        if short:
            _, left = await asyncio.wait(set(short), timeout=a.job_ms / 1000 + 30)
            self.c["unfinished"] += len(left)
            for task in left:
                task.cancel()
        await asyncio.gather(*slots, *short, return_exceptions=True)
        reporter.cancel()
        for conn, _ in self.pool.idle:
            conn.close()
        print(f"summary {self.line()} load_cpu_s={load_cpu:.1f} client_cpu_s={time.process_time():.1f}", flush=True)


async def route(listen_port, short_port, long_port):
    counts = collections.Counter()
    start = time.monotonic()

    async def exchange(upstream, port, data):
        """Sends data to the mock on port, returns its answer's head. A connection
        idle for IDLE_S is replaced first: the mock closes keep-alive connections
        idle for 60 s, and the long mock's see a submit only every few minutes."""
        u = upstream.get(port)
        if u is not None and time.monotonic() - u[2] > IDLE_S:
            u[1].close()
            u = None
        if u is None:
            u = upstream[port] = [*await asyncio.open_connection("127.0.0.1", port), 0.0]
        u[1].write(data)
        rhead = await u[0].readuntil(b"\r\n\r\n")
        u[2] = time.monotonic()
        return u[0], rhead

    async def forward(reader, writer):
        upstream = {}  # mock port -> [reader, writer, last use], opened on first use
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError as e:
                    if e.partial:
                        counts["errors"] += 1
                    break  # jobrelay closed a pooled connection
                method, target = head.split(b" ", 2)[:2]
                body = await reader.readexactly(int(header(head.lower(), b"content-length") or 0))
                port = long_port if b"long" in body else short_port
                ur, rhead = await exchange(upstream, port, b"%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                                           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                           % (method, target, port, len(body), body))
                rbody = await ur.readexactly(int(header(rhead.lower(), b"content-length") or 0))
                writer.write(rhead + rbody)
                counts["forwarded"] += 1
        except TRANSPORT as e:
            counts["errors"] += 1
            if counts["errors"] <= 20:  # the first few, to tell a reset from a bad message
                print(f"t={time.monotonic() - start:.1f} {type(e).__name__}: {e}", flush=True)
        finally:
            writer.close()
            for u in upstream.values():
                u[1].close()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    server = await asyncio.start_server(forward, "127.0.0.1", listen_port, backlog=1024)
    await stop.wait()
    server.close()
    print(f"forwarded={counts['forwarded']} errors={counts['errors']}", flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "route":
        if len(sys.argv) != 5:
            sys.exit("usage: soak.py route LISTEN_PORT SHORT_PORT LONG_PORT")
        asyncio.run(route(*(int(x) for x in sys.argv[2:5])))
        return
    p = argparse.ArgumentParser(description="soak load client (bench/soak.sh)")
    p.add_argument("mode", choices=["load"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--duration", type=float, default=600)
    p.add_argument("--rate", type=float, default=200, help="new short jobs a second")
    p.add_argument("--job-ms", type=float, default=3000, help="the short mock's job length")
    p.add_argument("--long-job-ms", type=float, default=120000, help="the long mock's job length")
    p.add_argument("--wait-pct", type=float, default=10)
    p.add_argument("--events-pct", type=float, default=10)
    p.add_argument("--long-jobs", type=int, default=50)
    p.add_argument("--held-polls", type=int, default=200)
    p.add_argument("--held-streams", type=int, default=50)
    p.add_argument("--conns", type=int, default=64, help="connections for short requests (POST, plain GET)")
    a = p.parse_args()
    if not a.host.startswith("127.") and a.host != "localhost":
        sys.exit("soak.py: refusing a non-loopback target " + a.host)
    if a.rate <= 0 or a.long_jobs < 1:
        sys.exit("soak.py: --rate must be > 0 and --long-jobs >= 1")
    asyncio.run(Load(a).run())


if __name__ == "__main__":
    main()
