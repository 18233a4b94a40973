#!/usr/bin/env bash
# What the shared Redis store costs (issue 7), in one run, side by side:
#  1. GET of a finished and of a running job with store.backend memory vs
#     redis: latency on one connection (-c1: the added round trip) and
#     throughput on 64 connections. Rounds alternate memory/redis, so a noisy
#     neighbour hits both alike.
#  2. How many running jobs one replica can hold before Redis is the
#     bottleneck: with JOBS running jobs (a 10-minute mock), Redis' CPU time
#     over WINDOW_S seconds -> Redis CPU per job -> jobs per Redis core.
# jobrelay on SERVER_CPU (one I/O thread); wrk, the mock and redis-server on
# LOAD_CPU. Prints a table and writes it under RESULTS_DIR.
#   ROUNDS (2) DURATION (8) JOBS (20000) WINDOW_S (30) LEASE_MS (10000)
#   SERVER_CPU (0) LOAD_CPU (1) PORT (18600) RESULTS_DIR (/tmp/jobrelay-bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for tool in wrk curl python3 taskset redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "needs $tool (scripts/install-deps.sh --test; apt-get install wrk)" >&2; exit 1; }
done
rounds=${ROUNDS:-2}; secs=${DURATION:-8}; jobs=${JOBS:-20000}; window=${WINDOW_S:-30}
lease_ms=${LEASE_MS:-10000}
server_cpu=${SERVER_CPU:-0}; load_cpu=${LOAD_CPU:-1}; port=${PORT:-18600}
hz=$(getconf CLK_TCK)
dir=$("$root/scripts/build.sh" Release | tail -n 1)
results=${RESULTS_DIR:-/tmp/jobrelay-bench}; stamp=$(date -u +%Y%m%d-%H%M%S)
raw=$results/redis-$stamp; table=$results/redis-$stamp.md
mkdir -p "$raw"; echo '{}' > "$raw/empty.json"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# shellcheck source=bench/processes.sh
source "$root/bench/processes.sh"
trap cleanup EXIT

redis_port=$port; mock_port=$((port + 1)); relay_port=$((port + 2))
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_redis() {
  taskset -c "$load_cpu" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    > "$raw/redis.log" 2>&1 &
  redis_pid=$!; pids+=("$redis_pid")
  for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return; sleep 0.05; done
  log "redis-server did not start"; exit 1
}
start_mock() {  # DURATION_MS
  taskset -c "$load_cpu" "$dir/jobrelay-mock-analyzer" --listen "127.0.0.1:$mock_port" --duration-ms "$1" \
    > "$raw/mock.log" 2>&1 &
  mock_pid=$!; pids+=("$mock_pid")
  wait_up "http://127.0.0.1:$mock_port/stats" "$mock_pid" || { log "the mock did not start"; exit 1; }
}
start_relay() {  # BACKEND
  env JOBRELAY_SERVER__THREADS=1 JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND=0 \
    JOBRELAY_RATE_LIMIT__POLL__RATE_PER_SECOND=0 JOBRELAY_LIMITS__MAX_JOBS=2000000 \
    JOBRELAY_LOG__LEVEL=warn JOBRELAY_STORE__BACKEND="$1" \
    JOBRELAY_STORE__REDIS_URL="redis://127.0.0.1:$redis_port/0" JOBRELAY_STORE__LEASE_MS="$lease_ms" \
    taskset -c "$server_cpu" "$dir/jobrelay" --config "$raw/empty.json" --listen "127.0.0.1:$relay_port" \
    --upstream "http://127.0.0.1:$mock_port" > "$raw/jobrelay-$1.log" 2>&1 &
  relay_pid=$!; pids+=("$relay_pid")
  wait_up "http://127.0.0.1:$relay_port/readyz" "$relay_pid" || { log "jobrelay ($1) did not start"; exit 1; }
}
submit() { curl -fsS -X POST "http://127.0.0.1:$relay_port/analyze" -H 'Content-Type: application/json' \
  -d '{"document":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
wrk_line() {  # NAME URL CONNS -> "req/s p50 p99 non2xx"
  timeout $((secs + 30)) taskset -c "$load_cpu" wrk -t1 -c"$3" -d"${secs}s" --latency "$2" > "$raw/$1.wrk" 2>&1 || true
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) } /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non = $NF }
    END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, non }' "$raw/$1.wrk"
}

{
  echo "# jobrelay bench/redis.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, jobrelay on cpu$server_cpu, wrk+mock+redis on cpu$load_cpu"
  echo
  echo "| round | store | GET | -c1 req/s | -c1 p50 ms | -c1 p99 ms | -c64 req/s | -c64 p99 ms | non-2xx |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
} > "$table"

# ---- 1. GET latency and throughput, memory vs redis, alternating
for round in $(seq "$rounds"); do
  for backend in memory redis; do
    start_redis; start_mock 300; start_relay "$backend"
    done_id=$(submit)
    for _ in $(seq 100); do [[ $(code "http://127.0.0.1:$relay_port/results/$done_id") == 200 ]] && break; sleep 0.05; done
    stop_pid "$mock_pid"; start_mock 600000
    run_id=$(submit)
    for _ in $(seq 100); do
      curl -s "http://127.0.0.1:$relay_port/results/$run_id" | grep -q '"running"' && break; sleep 0.05
    done
    for what in finished running; do
      id=$done_id; [[ $what == running ]] && id=$run_id
      read -r r1 p50 p99 n1 < <(wrk_line "$round-$backend-$what-c1" "http://127.0.0.1:$relay_port/results/$id" 1)
      read -r r64 _ p99b n64 < <(wrk_line "$round-$backend-$what-c64" "http://127.0.0.1:$relay_port/results/$id" 64)
      row="| $round | $backend | $what | $r1 | $p50 | $p99 | $r64 | $p99b | $((n1 + n64)) |"
      echo "$row" >> "$table"; echo "$row" >&2
    done
    stop_pid "$relay_pid"; stop_pid "$mock_pid"; stop_pid "$redis_pid"
  done
done

# ---- 2. Redis CPU per running job
start_redis; start_mock 600000; start_relay redis
log "submitting $jobs long jobs"
python3 - "$relay_port" "$jobs" <<'PY'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    c.request("POST", "/analyze", body=b'{"document":"held"}', headers={"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 202: sys.exit(f"submit {i}: {r.status}")
PY
sleep 5  # let the submits settle into steady polling (the mock answers "running" for 10 minutes)
mock_polls() { curl -s "http://127.0.0.1:$mock_port/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("polls", 0))'; }
r0=$(ticks "$redis_pid"); j0=$(ticks "$relay_pid"); t0=$(date +%s%N); q0=$(mock_polls)
sleep "$window"
r1=$(ticks "$redis_pid"); j1=$(ticks "$relay_pid"); t1=$(date +%s%N); q1=$(mock_polls)
mem=$(redis-cli -p "$redis_port" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p' | tr -d '\r')
python3 - "$jobs" "$r0" "$r1" "$j0" "$j1" "$t0" "$t1" "$hz" "$mem" "$lease_ms" "$q0" "$q1" <<'PY' | tee -a "$table" >&2
import sys
jobs, r0, r1, j0, j1, t0, t1, hz, mem, lease, q0, q1 = (float(x) for x in sys.argv[1:])
wall = (t1 - t0) / 1e9
redis_pct = 100 * (r1 - r0) / hz / wall
relay_pct = 100 * (j1 - j0) / hz / wall
per_job = redis_pct / jobs
print()
print(f"{int(jobs)} running jobs (lease {int(lease)} ms, renewed every {int(lease/3)} ms; "
      f"{(q1 - q0) / wall:,.0f} upstream polls/s, each a progress change stored): "
      f"redis-server {redis_pct:.1f}% of a core, jobrelay {relay_pct:.1f}%, Redis memory {mem/1048576:.1f} MB "
      f"({mem/jobs:.0f} B/job). One Redis core holds about {100/per_job:,.0f} running jobs "
      f"(leases and state alone; each job change adds one script call).")
PY
log "table: $table"
cat "$table"
