#!/usr/bin/env python3
"""Opens one page in headless Chromium and waits for its verdict.

The page (web/demo.html?auto=1...) writes "PASS ..." or "FAIL ..." into
#verdict when it is done. `--dump-dom` cannot wait for that: it dumps at the
load event, and `--virtual-time-budget` fast-forwards the page's timers, so a
client honouring Retry-After would race through its budget in milliseconds
while the real job still runs. So this drives Chromium over the DevTools
protocol on a pipe (no port to find, nothing to install beyond python3): it
navigates, reads #verdict every 200 ms in real time, and also collects the
console errors the page cannot see itself (CORS refusals, failed event
streams), which a page-side console.error hook misses.

Exit status: 0 when the verdict matches --expect and the browser logged no
error; 1 otherwise; 2 when the browser could not be driven at all.
"""
import argparse
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# Chromium logs every 4xx/5xx answer as a console error. The page judges the
# statuses it gets (a 404 after DELETE is the expected outcome), so these
# lines are not failures by themselves; anything else at error level is.
IGNORED_ERRORS = re.compile(r"^Failed to load resource: the server responded with a status of \d+")


class BrowserGone(Exception):
    pass


class CdpError(Exception):
    pass


class Cdp:
    """Chrome DevTools Protocol over --remote-debugging-pipe: JSON messages,
    each ended by a NUL byte; commands on the browser's fd 3, answers and
    events on its fd 4."""

    def __init__(self, proc):
        self.proc = proc
        self.out = proc.stdin
        self.inp = proc.stdout.fileno()
        self.buffer = b""
        self.last_id = 0
        self.errors = []

    def call(self, method, params=None, session=None, timeout=10.0):
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.out.write(json.dumps(message).encode() + b"\0")
        self.out.flush()
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply is None:
                raise CdpError(f"{method}: no answer in {timeout} s")
            if reply.get("id") == self.last_id:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self._event(reply)

    def pump(self, seconds):
        """Handles events for `seconds` (instead of sleeping, so the pipe
        never fills up)."""
        deadline = time.monotonic() + seconds
        while (message := self._read(deadline)) is not None:
            self._event(message)

    def _read(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.inp], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.inp, 1 << 16)
            if not chunk:
                raise BrowserGone("the browser closed the DevTools pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def _event(self, message):
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.errors.append(f"exception: {text}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error" and not IGNORED_ERRORS.match(entry.get("text", "")):
                where = f" ({entry['url']})" if entry.get("url") else ""
                self.errors.append(f"{entry.get('source', 'browser')}: {entry.get('text')}{where}")


def run(args, profile):
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--remote-debugging-pipe", f"--user-data-dir={profile}",
        *args.chromium_flag, "about:blank",
    ]
    log = open(args.log, "ab") if args.log else subprocess.DEVNULL
    # The shell moves our pipes to the fds the browser expects: commands in on
    # 3, answers out on 4; its own stdout goes to the log with stderr.
    proc = subprocess.Popen(
        ["sh", "-c", 'exec "$@" 3<&0 4>&1 </dev/null >&2', "sh", args.chromium, *flags],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    try:
        return drive(Cdp(proc), args)
    finally:
        try:
            proc.stdin.close()  # the browser exits when its pipe closes
            proc.wait(timeout=5)
        except (subprocess.TimeoutExpired, OSError):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def drive(cdp, args):
    target = cdp.call("Target.createTarget", {"url": "about:blank"}, timeout=30)["targetId"]
    session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Page"):
        cdp.call(f"{domain}.enable", session=session)
    navigation = cdp.call("Page.navigate", {"url": args.url}, session=session, timeout=30)
    if navigation.get("errorText"):
        print(f"verdict: FAIL cannot load the page: {navigation['errorText']}")
        return 1
    expression = "document.getElementById('verdict')?.textContent ?? ''"
    verdict = ""
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            verdict = cdp.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                               session=session)["result"].get("value") or ""
        except CdpError:
            verdict = ""  # between documents: no context to evaluate in yet
        if verdict:
            break
        cdp.pump(0.2)
    if verdict:
        # A short grace period: errors that follow the verdict still count.
        cdp.pump(0.5)
        verdict = cdp.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                           session=session)["result"].get("value") or verdict
    else:
        verdict = f"FAIL no verdict in the page after {args.timeout:g} s"
    try:
        cdp.call("Browser.close", timeout=5)
    except (CdpError, BrowserGone):
        pass
    print(f"verdict: {verdict}")
    # Retries repeat the same error: each once, with its count.
    for error in dict.fromkeys(cdp.errors):
        count = cdp.errors.count(error)
        print(f"browser error: {error}" + (f" (x{count})" if count > 1 else ""))
    ok = re.search(args.expect, verdict) is not None and not cdp.errors
    if not re.search(args.expect, verdict):
        print(f"expected a verdict matching: {args.expect}")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the verdict")
    parser.add_argument("--expect", default=r"^PASS ", help="regex the verdict must match")
    parser.add_argument("--log", help="file for the browser's own output")
    parser.add_argument("--chromium-flag", action="append", default=[], help="extra browser flag")
    args = parser.parse_args()
    # ctest's timeout sends SIGTERM: turn it into an exception so that the
    # finally blocks stop the browser and remove the profile.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    profile = tempfile.mkdtemp(prefix="jobrelay-chromium-")
    try:
        return run(args, profile)
    except (BrowserGone, CdpError) as err:
        print(f"verdict: FAIL browser: {err}")
        return 2
    finally:
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
