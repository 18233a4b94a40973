#!/usr/bin/env bash
# User-space instructions per job under callgrind, for a fixed amount of work
# per job: one POST, one upstream submit, one upstream poll (the bundled mock
# finishes jobs at once, the first poll comes after 1 s), one GET of the
# result. Unlike timings, the count barely moves with the machine's noise, so
# it judges a change to the per-job path (session 8's note and bench/README).
#   bench/job_instructions.sh [BINARY] [JOBS=300]   OUT (callgrind file)
# Needs valgrind and python3. Counts only what runs inside Asio's scheduler
# (start-up and shutdown are left out).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/release/jobrelay}; jobs=${2:-300}
mock=$(dirname "$bin")/jobrelay-mock-analyzer
[[ -x $mock ]] || mock="$root/build/release/jobrelay-mock-analyzer"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
port=${PORT:-19510} mock_port=${MOCK_PORT:-19511}
out=${OUT:-$(mktemp --suffix=.callgrind)}
empty_config=$(mktemp --suffix=.json); echo '{}' > "$empty_config"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$empty_config"; }
trap cleanup EXIT

"$mock" --listen "127.0.0.1:$mock_port" --duration-ms 0 >/dev/null 2>&1 &
pids+=($!)
env JOBRELAY_SERVER__THREADS=1 JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND=0 \
  JOBRELAY_RATE_LIMIT__POLL__RATE_PER_SECOND=0 JOBRELAY_LOG__LEVEL=warn \
  JOBRELAY_POLLING__UPSTREAM_INITIAL_MS=1000 \
  valgrind --tool=callgrind --callgrind-out-file="$out" --collect-atstart=no \
  --toggle-collect='boost::asio::detail::scheduler::run*' \
  "$bin" --config "$empty_config" --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$mock_port" \
  >/dev/null 2>&1 &
server=$!
for _ in $(seq 150); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done
python3 "$root/bench/job_instructions.py" 127.0.0.1 "$port" "$jobs" 5
kill -INT "$server"; wait "$server" || true
total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "jobs=$jobs instructions=$total per_job=$((total / jobs)) callgrind=$out"
