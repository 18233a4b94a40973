#!/usr/bin/env bash
# A quick single-core measurement (the side-by-side benchmark comes later):
#   1. GET /results/{id} of a finished job: req/s, p50/p99
#   2. POST /analyze (each starts a real job): req/s, p50/p99
#   3. RSS with HELD_JOBS running jobs held
# jobrelay pinned to core 0 with one I/O thread; wrk and the mock on core 1.
#   DURATION (10s) CONNS (64) HELD_JOBS (10000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
dir=$("$root/scripts/build.sh" Release | tail -n 1)
duration=${DURATION:-10s}; conns=${CONNS:-64}; held=${HELD_JOBS:-10000}
pids=()
empty_config=$(mktemp --suffix=.json); echo '{}' > "$empty_config"
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$empty_config"; }
trap cleanup EXIT

wait_up() { for _ in $(seq 1 100); do curl -fsS "$1/healthz" >/dev/null 2>&1 && return; sleep 0.1; done; exit 1; }
# start_pair PORT MOCK_PORT MOCK_DURATION_MS FIRST_POLL_MS: a mock and a jobrelay in front of it
start_pair() {
  taskset -c 1 "$dir/jobrelay-mock-analyzer" --listen "127.0.0.1:$2" --duration-ms "$3" >/dev/null 2>&1 &
  pids+=($!)
  env JOBRELAY_SERVER__THREADS=1 JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND=0 \
    JOBRELAY_RATE_LIMIT__POLL__RATE_PER_SECOND=0 JOBRELAY_LIMITS__MAX_JOBS=2000000 \
    JOBRELAY_LOG__LEVEL=warn JOBRELAY_POLLING__UPSTREAM_INITIAL_MS="$4" \
    taskset -c 0 "$dir/jobrelay" --config "$empty_config" --listen "127.0.0.1:$1" --upstream "http://127.0.0.1:$2" 2>/dev/null &
  pids+=($!); server_pid=$!
  wait_up "http://127.0.0.1:$1"
}
rss_mb() { awk '/VmRSS/{printf "%.1f MB", $2/1024}' "/proc/$1/status"; }

start_pair 18090 18091 1 20
url=http://127.0.0.1:18090
id=$(curl -fsS -X POST "$url/analyze" -H 'Content-Type: application/json' -d '{"document":"bench.pdf"}' \
  | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
for _ in $(seq 1 100); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/results/$id") == 200 ]] && break; sleep 0.05
done
echo "== 1. GET /results/{id} of a finished job: wrk -t1 -c$conns -d$duration"
taskset -c 1 wrk -t1 -c"$conns" -d"$duration" --latency "$url/results/$id" | grep -E "Requests/sec|  50%|  99%|Non-2xx|Socket"

start_pair 18092 18093 3600000 1000
echo "== 2. POST /analyze: wrk -t1 -c8 -d$duration"
taskset -c 1 wrk -t1 -c8 -d"$duration" --latency -s "$root/bench/lua/post_analyze.lua" \
  "http://127.0.0.1:18092/analyze" | grep -E "Requests/sec|  50%|  99%|Non-2xx|Socket"

start_pair 18094 18095 3600000 1000
base_rss=$(rss_mb "$server_pid")
LIMIT=$held taskset -c 1 wrk -t1 -c1 -d120s -s "$root/bench/lua/post_n.lua" "http://127.0.0.1:18094/analyze" >/dev/null
sleep 2  # let every job reach its first upstream poll
echo "== 3. $(curl -fsS http://127.0.0.1:18094/stats | sed -n 's/.*"total":\([0-9]*\).*/\1/p') running jobs held: RSS $(rss_mb "$server_pid") (empty: $base_rss)"
