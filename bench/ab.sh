#!/usr/bin/env bash
# A/B of two jobrelay binaries on the hot poll path (GET of a finished job, or
# of a running one with STATE=running):
# alternates OLD and NEW, each a fresh server pinned to core 0 with one I/O
# thread, wrk and the bundled mock on core 1; prints req/s, p99 and requests
# per second of server CPU (read from /proc). Compare ratios inside one run.
#   bench/ab.sh OLD_BINARY NEW_BINARY [ROUNDS=3]    DURATION (5s) CONNS (64)
#   STATE (finished | running)
#   THREADS (1) SERVER_CPU (0): more I/O threads on more cores, e.g.
#     THREADS=2 SERVER_CPU=0,1 (then the server shares core 1 with wrk: its
#     req/cpu-s, not its req/s, is the figure to compare)
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
mock=$(dirname "$new")/jobrelay-mock-analyzer
[[ -x $mock ]] || mock="$root/build/release/jobrelay-mock-analyzer"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
port=${PORT:-18190} mock_port=${MOCK_PORT:-19190}
pids=()
empty_config=$(mktemp --suffix=.json); echo '{}' > "$empty_config"
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$empty_config"; }
trap cleanup EXIT
state=${STATE:-finished}
case $state in
  finished) job_ms=100 want=200 ;;
  running) job_ms=3600000 want=running ;;  # 202 once the first upstream poll said "running"
  *) echo "STATE must be finished or running" >&2; exit 1 ;;
esac
taskset -c 1 "$mock" --listen "127.0.0.1:$mock_port" --duration-ms "$job_ms" >/dev/null 2>&1 &
pids+=($!)

measure() {
  local bin=$1 pid id t0 t1 out answer
  JOBRELAY_SERVER__THREADS=${THREADS:-1} JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND=0 \
    JOBRELAY_RATE_LIMIT__POLL__RATE_PER_SECOND=0 JOBRELAY_LOG__LEVEL=warn \
    taskset -c "${SERVER_CPU:-0}" "$bin" --config "$empty_config" --listen "127.0.0.1:$port" \
    --upstream "http://127.0.0.1:$mock_port" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  id=$(curl -fs -X POST "127.0.0.1:$port/analyze" -H 'Content-Type: application/json' -d '{"document":"x"}' |
       sed -E 's/.*"id":"([^"]+)".*/\1/')
  for _ in $(seq 100); do
    answer=$(curl -s -w ' %{http_code}' "127.0.0.1:$port/results/$id")
    [[ $answer == *\"status\":\"$want\"* || ${answer##* } == "$want" ]] && break; sleep 0.05
  done
  read -r u0 t0 < <(awk '{print $14, $14 + $15}' "/proc/$pid/stat")
  out=$(taskset -c 1 wrk -t1 -c"${CONNS:-64}" -d"${DURATION:-5s}" --latency "http://127.0.0.1:$port/results/$id")
  read -r u1 t1 < <(awk '{print $14, $14 + $15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk -v name="$bin" -v ticks=$((t1 - t0)) -v uticks=$((u1 - u0)) -v secs="${DURATION:-5s}" '
    /Requests\/sec/ {r = $2} / 99%/ {p = $2}
    END { sub(/s$/, "", secs); cpu = ticks / 100 / secs;
          printf "%-40s %9.0f req/s  p99 %-8s cpu %3.0f%% (user %2.0f%%)  %9.0f req/cpu-s\n",
                 name, r, p, cpu * 100, uticks / 100 / secs * 100, r / cpu }' <<<"$out"
}

for _ in $(seq "$rounds"); do measure "$old"; measure "$new"; done
