"""Fixed work per job for bench/job_instructions.sh: N POSTs one after the
other on one keep-alive connection, a pause for every job to finish
upstream, then one GET each. Exits non-zero unless every POST was 202 and
every GET 200, so a count is never taken over work that did not happen."""
import json
import socket
import sys
import time

host, port, jobs, pause_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sock = socket.create_connection((host, port))
stream = sock.makefile("rb")


def request(method, path, body=b""):
    head = (f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body)
    status = int(stream.readline().split()[1])
    length = 0
    while True:
        line = stream.readline()
        if line in (b"\r\n", b""):
            break
        name, value = line.decode().split(":", 1)
        if name.lower() == "content-length":
            length = int(value)
    return status, stream.read(length)


ids = []
for i in range(jobs):
    status, body = request("POST", "/analyze", b'{"document":"doc-%d.pdf","options":{"lang":"en"}}' % i)
    if status != 202:
        sys.exit(f"POST answered {status}")
    ids.append(json.loads(body)["id"])
time.sleep(pause_s)
statuses = {}
for job_id in ids:
    status, _ = request("GET", "/results/" + job_id)
    statuses[status] = statuses.get(status, 0) + 1
print("GET statuses", statuses)
if statuses != {200: jobs}:
    sys.exit("not every job was finished when asked")
