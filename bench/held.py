#!/usr/bin/env python3
"""Opens N connections that each hold a long poll or an event stream on one job,
then keeps them open for HOLD seconds. Standard library only.
usage: held.py HOST PORT JOB_ID N longpoll|events HOLD_SECONDS"""
import asyncio
import sys


async def hold(host, port, path, ready, stop):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    ready.release()
    await stop.wait()
    writer.close()


async def main():
    host, port, job, n, mode, hold_s = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
    path = f"/results/{job}?wait=3600" if mode == "longpoll" else f"/results/{job}/events"
    ready, stop = asyncio.Semaphore(0), asyncio.Event()
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(hold(host, port, path, ready, stop)))
        if i % 200 == 199:
            await asyncio.sleep(0.05)  # do not overflow the listen backlog
    for _ in range(n):
        await ready.acquire()
    print(f"holding {n} {mode} connections", flush=True)
    await asyncio.sleep(hold_s)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


asyncio.run(main())
