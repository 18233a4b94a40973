#!/usr/bin/env bash
# The browser test: the demo page (web/demo.html), served by the mock analyzer
# from one origin, drives jobrelay on another origin in headless Chromium, and
# must end each run with "PASS" in #verdict and no console error.
#
#   browser_test.sh JOBRELAY_BIN MOCK_BIN WEB_DIR
#
# Runs (BROWSER_TEST_MODES, default all three):
#   longpoll  submit, wait with GET /results/{id}?wait=N, succeed
#   events    submit, wait with an EventSource on links.events, succeed; the
#             stream itself must have carried the job (no long-poll fallback)
#   cancel    submit, DELETE once running, then GET answers 404
# Environment: CHROMIUM (default: chromium on PATH), BROWSER_TEST_MODES,
# BROWSER_TEST_CHROMIUM_FLAGS (extra browser flags, split on spaces),
# BROWSER_TEST_KEEP=1 (keep the logs directory).
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 JOBRELAY_BIN MOCK_BIN WEB_DIR" >&2
  exit 2
fi
jobrelay=$1 mock=$2 web=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z $chromium ]]; then
  echo "browser_test: chromium is not installed: run scripts/install-deps.sh --test" \
       "(Debian package 'chromium') or set CHROMIUM=/path/to/chrome" >&2
  exit 1
fi
if ! command -v python3 >/dev/null; then
  echo "browser_test: python3 is not installed: run scripts/install-deps.sh --test" >&2
  exit 1
fi

# The test sets every setting it relies on; a JOBRELAY_* variable left in the
# caller's shell would override them (or stop start-up as unknown).
for var in $(compgen -e | grep '^JOBRELAY_' || true); do unset "$var"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jobrelay-browser.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ ${BROWSER_TEST_KEEP:-0} == 1 ]]; then echo "logs kept in $tmp" >&2; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# address_from_log PID LOG_FILE PREFIX
source "$(dirname "$0")/../support/shell/address_from_log.sh"

"$mock" --listen 127.0.0.1:0 --duration-ms 1500 --static "$web" >"$tmp/mock.log" 2>&1 &
pids+=($!)
mock_addr=$(address_from_log "$!" "$tmp/mock.log" "mock analyzer on ")
origin="http://$mock_addr"

# Fast upstream polls so a 1.5 s job shows progress; rate limits stay at
# their defaults, which a well-behaved page must live with.
cat >"$tmp/jobrelay.json" <<JSON
{
  "server": {"listen": "127.0.0.1:0", "threads": 2, "cors": {"allowed_origins": ["$origin"]}},
  "upstream": {"base_url": "$origin"},
  "polling": {"upstream_initial_ms": 100, "upstream_backoff": 1.2, "upstream_max_ms": 300},
  "log": {"level": "info"}
}
JSON
"$jobrelay" --config "$tmp/jobrelay.json" >"$tmp/jobrelay.log" 2>&1 &
pids+=($!)
api="http://$(address_from_log "$!" "$tmp/jobrelay.log" "jobrelay listening on ")"
echo "mock analyzer (page origin) $origin, jobrelay $api, $("$chromium" --version 2>/dev/null)"

id='j_[A-Za-z0-9_-]+'
declare -A query=(
  [longpoll]="mode=longpoll"
  [events]="mode=events"
  [cancel]="mode=longpoll&action=cancel"
)
declare -A expect=(
  [longpoll]="^PASS longpoll succeeded $id transport=longpoll "
  [events]="^PASS events succeeded $id transport=events "
  [cancel]="^PASS longpoll canceled $id\$"
)
read -r -a extra_flags <<<"${BROWSER_TEST_CHROMIUM_FLAGS:-}"
flag_args=()
for f in "${extra_flags[@]}"; do flag_args+=("--chromium-flag=$f"); done

failed=()
for mode in ${BROWSER_TEST_MODES:-longpoll events cancel}; do
  if [[ -z ${query[$mode]:-} ]]; then
    echo "browser_test: unknown mode '$mode' (longpoll, events, cancel)" >&2
    exit 2
  fi
  url="$origin/web/demo.html?api=$api&auto=1&${query[$mode]}&timeout=30"
  echo "== $mode: $url"
  # In the background + wait: bash runs a trap only once its foreground
  # command is done, but `wait` returns at once on a signal. The runner stops
  # its own browser when it is killed.
  python3 "$here/run_page.py" --chromium "$chromium" --timeout 40 --log "$tmp/chromium-$mode.log" \
    --expect "${expect[$mode]}" "${flag_args[@]}" "$url" &
  pids+=($!)
  if wait "$!"; then
    echo "== $mode: ok"
  else
    echo "== $mode: FAILED"
    failed+=("$mode")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "--- jobrelay log (last 30 lines)"; tail -n 30 "$tmp/jobrelay.log"
  echo "--- mock log (last 10 lines)"; tail -n 10 "$tmp/mock.log"
  echo "browser_test: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "browser_test: all passed"
