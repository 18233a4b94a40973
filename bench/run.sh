#!/usr/bin/env bash
# Standalone single-core benchmark of jobrelay: the reference harness's
# scenarios A-D (../shared/bench, not needed here) plus H, a table full of
# running jobs. jobrelay is pinned to SERVER_CPU with THREADS I/O threads (1);
# wrk, the fan-out client and the mock analyzer share LOAD_CPU. Every scenario starts a
# fresh mock and jobrelay and stops both by PID. Prints one table and writes it
# (plus the raw wrk / client output) under RESULTS_DIR.
#   SCENARIOS ("A B C D H") DURATION (10s) CONNS (64) FANOUT_JOBS (10000)
#   FANOUT_TIMEOUT_S (120) HELD_JOBS (100000) HELD_FILL_S (60) SERVER_CPU (0) LOAD_CPU (1)
#   PORT (18400; each scenario takes the next two) RESULTS_DIR (/tmp/jobrelay-bench)
#   IDLE_MAX_PCT (10) IDLE_WAIT_S (15)
#   HELD_FIRST_POLL_MS: H only, the held jobs' first (and every) upstream poll
#     after this long: the table without its poll load (see bench/README.md)
#   POLL_BACKOFF (1): polling.upstream_backoff; 1 polls every second, as the
#     reference harness's peers do; 1.5 is jobrelay's own default schedule
#   THREADS (1): server.threads; with more, give SERVER_CPU as many cores
#     (e.g. THREADS=2 SERVER_CPU=0,1: the load then shares a core with the
#     server, so compare CPU per request or job, not rates)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

missing=()
for tool in wrk curl python3 taskset; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  pkgs=${missing[*]}; pkgs=${pkgs/taskset/util-linux}  # taskset ships in util-linux
  echo "needs ${missing[*]} (apt-get install $pkgs)" >&2; exit 1
fi

scenarios=${SCENARIOS:-A B C D H}
duration=${DURATION:-10s}; conns=${CONNS:-64}
fanout_jobs=${FANOUT_JOBS:-10000}; fanout_timeout=${FANOUT_TIMEOUT_S:-120}
held_jobs=${HELD_JOBS:-100000}; fill_max=${HELD_FILL_S:-60}
held_first_poll_ms=${HELD_FIRST_POLL_MS:-}
[[ -z $held_first_poll_ms || $held_first_poll_ms =~ ^[1-9][0-9]*$ ]] ||
  { echo "HELD_FIRST_POLL_MS must be a whole number of milliseconds" >&2; exit 1; }
poll_backoff=${POLL_BACKOFF:-1}
threads=${THREADS:-1}
[[ $threads =~ ^[1-9][0-9]*$ ]] || { echo "THREADS must be a whole number >= 1" >&2; exit 1; }
server_cpu=${SERVER_CPU:-0}; load_cpu=${LOAD_CPU:-1}
next_port=${PORT:-18400}
idle_max=${IDLE_MAX_PCT:-10}; idle_wait=${IDLE_WAIT_S:-15}
[[ $duration =~ ^([0-9]+)s?$ ]] || { echo "DURATION must be whole seconds (10s)" >&2; exit 1; }
secs=${BASH_REMATCH[1]}
hz=$(getconf CLK_TCK)

dir=$("$root/scripts/build.sh" Release | tail -n 1)
stamp=$(date -u +%Y%m%d-%H%M%S)
results=${RESULTS_DIR:-/tmp/jobrelay-bench}
raw=$results/run-$stamp; table=$results/run-$stamp.md
mkdir -p "$raw"
empty_config=$raw/empty.json; echo '{}' > "$empty_config"  # so config/jobrelay.json does not leak in

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- processes: pids, alive, stop_pid, cleanup, wait_up
# shellcheck source=bench/processes.sh
source "$root/bench/processes.sh"
trap cleanup EXIT
trap 'log "interrupted"; echo "(interrupted)" >> "$table"; exit 130' INT TERM

# start_pair NAME MOCK_DURATION_MS: a fresh mock and jobrelay on two new ports;
# sets url, mock_url, srv_pid, mock_pid. pair_env: more VAR=value for jobrelay.
pair_env=()
start_pair() {
  local port=$next_port mock_port=$((next_port + 1)); next_port=$((next_port + 2))
  url=http://127.0.0.1:$port; mock_url=http://127.0.0.1:$mock_port
  if curl -s -o /dev/null --max-time 1 "$url" || curl -s -o /dev/null --max-time 1 "$mock_url"; then
    log "port $port or $mock_port already answers: set PORT"; exit 1
  fi
  taskset -c "$load_cpu" "$dir/jobrelay-mock-analyzer" --listen "127.0.0.1:$mock_port" \
    --duration-ms "$2" > "$raw/$1-mock.log" 2>&1 &
  mock_pid=$!; pids+=("$mock_pid")
  # env and taskset exec, so $! is jobrelay itself (its /proc/PID/stat is the server's CPU)
  env JOBRELAY_SERVER__THREADS="$threads" JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND=0 \
    JOBRELAY_RATE_LIMIT__POLL__RATE_PER_SECOND=0 JOBRELAY_LIMITS__MAX_JOBS=2000000 \
    JOBRELAY_LOG__LEVEL=warn JOBRELAY_POLLING__UPSTREAM_INITIAL_MS=1000 \
    JOBRELAY_POLLING__UPSTREAM_BACKOFF="$poll_backoff" "${pair_env[@]}" \
    taskset -c "$server_cpu" "$dir/jobrelay" --config "$empty_config" --listen "127.0.0.1:$port" \
    --upstream "$mock_url" > "$raw/$1-jobrelay.log" 2>&1 &
  srv_pid=$!; pids+=("$srv_pid")
  wait_up "$mock_url/stats" "$mock_pid" || { log "$1: the mock did not start"; exit 1; }
  wait_up "$url/healthz" "$srv_pid" || { log "$1: jobrelay did not start (see $raw/$1-jobrelay.log)"; exit 1; }
}
stop_pair() { stop_pid "$srv_pid"; stop_pid "$mock_pid"; }

# ---- HTTP helpers
jfield() {  # URL KEY.PATH: one field of a JSON answer; nothing when there is no answer
  curl -fsS --max-time 5 "$1" 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    for k in sys.argv[1].split("."): d = d[k]
    print(d)
except (ValueError, KeyError, TypeError):
    pass' "$2" || true
}
code() { curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$1" || true; }
create_job() {
  curl -fsS --max-time 5 -X POST "$url/analyze" -H 'Content-Type: application/json' \
    -d '{"document":"bench.pdf"}' | sed -n 's/.*"id":"\([^"]*\)".*/\1/p'
}
wait_status() {  # ID STATUS SECONDS: until the job document says STATUS
  for _ in $(seq $(($3 * 10))); do
    [[ $(jfield "$url/results/$1" status 2>/dev/null) == "$2" ]] && return 0
    sleep 0.1
  done
  return 1
}

# ---- measurement
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime
cores() { echo "$(cpu_jiffies "$server_cpu") $(cpu_jiffies "$load_cpu")"; }  # SERVER_CPU's, LOAD_CPU's
hwm_mb() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# wait_idle: background load (all cores, one second) down to IDLE_MAX_PCT, or
# IDLE_WAIT_S passed; sets bg. Another process's load lowers every figure.
wait_idle() {
  local a b t0=$SECONDS
  while :; do
    a=$(awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat)
    sleep 1
    b=$(awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat)
    bg=$(awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%d", 100 * (y[1] - x[1]) / (y[2] - x[2]) }')
    ((bg <= idle_max || SECONDS - t0 >= idle_wait)) && return 0
  done
}
# measure_begin / measure_end around a load run; measure_end sets srv_s (server
# CPU seconds), srv_pct (its share of the window), cpu ("server/core/load-core"
# percentages) and noisy (the server core busier than the server: someone else ran there).
measure_begin() { m_t0=$(date +%s%N); m_p0=$(ticks "$srv_pid"); m_c0=$(cores); }
measure_end() {
  local t1 p1 c1
  t1=$(date +%s%N); p1=$(ticks "$srv_pid"); c1=$(cores)
  read -r srv_s srv_pct cpu noisy < <(awk -v p=$((p1 - m_p0)) -v hz="$hz" -v ns=$((t1 - m_t0)) \
      -v c0="$m_c0" -v c1="$c1" 'BEGIN {
    split(c0, a, " "); split(c1, b, " ");
    s = p / hz; pct = 100 * s / (ns / 1e9);
    core = 100 * (b[1] - a[1]) / (b[2] - a[2]); load = 100 * (b[3] - a[3]) / (b[4] - a[4]);
    printf "%.2f %.0f %.0f/%.0f/%.0f %s\n", s, pct, pct, core, load, (core - pct > 10) ? "NOISY" : "" }')
}
per_cpu() { awk -v r="$1" -v c="$srv_pct" 'BEGIN { if (c > 0) printf "%.0f", r * 100 / c; else print "-" }'; }

run_wrk() {  # NAME URL [wrk args]: bounded by -d and by timeout
  local name=$1 target=$2; shift 2
  timeout $((secs + 30)) taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"${secs}s" --latency "$@" "$target" \
    > "$raw/$name.wrk" 2>&1 || log "$name: wrk exited $? (see $raw/$name.wrk)"
}
parse_wrk() {  # FILE -> "req/s p50_ms p99_ms non2xx sockerr"
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                        if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non = $NF }
    /Socket errors:/ { gsub(/,/, ""); sock = $4 + $6 + $8 + $10 }
    END { printf "%.0f %.2f %.2f %d %d\n", rps, p50, p99, non, sock }' "$1"
}
status_count() { sed -n "s/^status .*\b$2=\([0-9]*\).*/\1/p" "$1" | grep . || echo 0; }  # FILE CODE

# ---- the table: header now, a row as each scenario ends (an interrupted run keeps its rows)
{
  echo "# jobrelay bench/run.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, server on cpu$server_cpu, load on cpu$load_cpu, -c$conns -d${secs}s"
  echo
  echo "| sc | what | req/s | p50 ms | p99 ms | errors | cpu % srv/core/load | req/cpu-s | peak RSS MB | notes |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
} > "$table"
row() { local out="|" f; for f in "$@"; do out+=" $f |"; done; echo "$out" >> "$table"; echo "$out" >&2; }
wrk_row() {  # SC WHAT WRK_FILE NOTES
  local rps p50 p99 non sock
  read -r rps p50 p99 non sock < <(parse_wrk "$3")
  row "$1" "$2" "$rps" "$p50" "$p99" "non2xx=$non sock=$sock" "$cpu" "$(per_cpu "$rps")" "$(hwm_mb "$srv_pid")" \
    "${4:+$4 }bg=$bg%${noisy:+ $noisy}"
}

# ---- scenarios
scenario_A() {  # GET of a finished job: 200, ~570 bytes with headers (the mock's result is small)
  start_pair A 2000
  local id; id=$(create_job)
  wait_status "$id" succeeded 30 || { log "A: job $id did not finish"; stop_pair; return 1; }
  measure_begin; run_wrk A "$url/results/$id"; measure_end
  wrk_row A "GET finished job (200)" "$raw/A.wrk" ""
  stop_pair
}

scenario_B() {  # GET of a running job: 202, ~470 bytes with headers
  start_pair B 3600000
  local id; id=$(create_job)
  wait_status "$id" running 10 || { log "B: job $id not running"; stop_pair; return 1; }
  measure_begin; run_wrk B "$url/results/$id"; measure_end
  wrk_row B "GET running job (202)" "$raw/B.wrk" "after=$(code "$url/results/$id")"
  stop_pair
}

scenario_C() {  # POST /analyze intake: every 202 is a real job (2 s upstream)
  start_pair C 2000
  measure_begin; run_wrk C "$url/analyze" -s "$root/bench/lua/post_count.lua"
  # both counters at once, right at the end: with the load gone jobrelay catches
  # up on thousands of submits within a few hundred ms
  curl -fsS --max-time 5 "$url/stats" > "$raw/C-stats.json"; curl -fsS --max-time 5 "$mock_url/stats" > "$raw/C-mock.json"
  measure_end
  local accepted refused sub0 pend0 done0 waited=0
  accepted=$(status_count "$raw/C.wrk" 202); refused=$(status_count "$raw/C.wrk" 503)
  sub0=$(jfield "file://$raw/C-mock.json" submits); pend0=$(jfield "file://$raw/C-stats.json" upstream.pending_submits)
  done0=$(jfield "file://$raw/C-stats.json" jobs.succeeded)
  # the accepted jobs still waiting for their upstream submit: give them 15 s
  while ((waited < 15)) && [[ $(jfield "$url/stats" upstream.pending_submits) != 0 ]]; do
    sleep 1; waited=$((waited + 1))
  done
  wrk_row C "POST /analyze" "$raw/C.wrk" \
    "accepted=$accepted refused503=$refused; end of run: upstream submits=$sub0 pending=$pend0 succeeded=$done0; after ${waited}s: submits=$(jfield "$mock_url/stats" submits) pending=$(jfield "$url/stats" upstream.pending_submits)"
  stop_pair
}

scenario_D() {  # fan-out: FANOUT_JOBS jobs (2 s upstream) to terminal
  start_pair D 2000
  local rc=0 out
  measure_begin
  timeout $((fanout_timeout + 30)) taskset -c "$load_cpu" python3 "$root/bench/fanout.py" 127.0.0.1 \
    "${url##*:}" "$fanout_jobs" 64 "$fanout_timeout" > "$raw/D.fanout" 2>&1 || rc=$?
  measure_end
  out=$(tail -n 1 "$raw/D.fanout")
  [[ $out == submitted=* ]] || { log "D: fanout.py failed (rc=$rc): $out"; stop_pair; return 1; }
  local -A f; local kv
  for kv in $out; do f[${kv%%=*}]=${kv#*=}; done
  row D "fan-out ${fanout_jobs} jobs" - - - \
    "post=${f[post_errors]} 500=${f[failed]} other=${f[get_unexpected]} sock=${f[transport_errors]}" \
    "$cpu" - "$(hwm_mb "$srv_pid")" \
    "${f[total_s]} s to all terminal (${f[succeeded]}/$fanout_jobs ok, ${f[pending]} pending); submits took ${f[submit_s]} s (client CPU ${f[submit_cpu_s]} s); $(awk -v s="$srv_s" -v n="${f[submitted]}" 'BEGIN { printf "%.3f", n ? 1000 * s / n : 0 }') ms server CPU/job; ${f[get_requests]} polls; bg=$bg%${noisy:+ $noisy}"
  stop_pair
}

# H: memory per held running job, and B's request with the table empty and
# full, in one jobrelay process. jobrelay has one upstream and the mock one job
# length, so a table of running jobs cannot also hold a finished one: A's
# request is not repeated here. The full table's jobs keep polling the mock
# (every 1 s at first, every 10 s at most): that load is part of the figure.
scenario_H() {
  if [[ -n $held_first_poll_ms ]]; then
    pair_env=("JOBRELAY_POLLING__UPSTREAM_INITIAL_MS=$held_first_poll_ms"
              "JOBRELAY_POLLING__UPSTREAM_MAX_MS=$held_first_poll_ms"
              "JOBRELAY_JOBS__MAX_JOB_DURATION_SECONDS=$((held_first_poll_ms / 1000 + 3600))")
  fi
  start_pair H 3600000
  pair_env=()
  local id; id=$(create_job)
  wait_status "$id" running 10 || { log "H: job $id not running"; stop_pair; return 1; }
  measure_begin; run_wrk H-empty "$url/results/$id"; measure_end
  wrk_row H-empty "GET running job, empty table" "$raw/H-empty.wrk" "same process as H-full"
  local rss0 rss1 t0=$SECONDS fill n fill_s total queued running failed polls0 polls1 not_ok
  rss0=$(rss_kb "$srv_pid")
  # -t1: post_count.lua's LIMIT counts per thread. A stopped thread does not
  # end wrk (it sleeps out -d), so SIGINT ends it once the table holds the jobs.
  LIMIT=$held_jobs timeout $((fill_max + 30)) taskset -c "$load_cpu" wrk -t1 -c16 -d"${fill_max}s" \
    -s "$root/bench/lua/post_count.lua" "$url/analyze" > "$raw/H-fill.wrk" 2>&1 &
  fill=$!; pids+=("$fill")
  while alive "$fill"; do
    n=$(jfield "$url/stats" jobs.total)  # empty when the loaded server took > 5 s to answer
    ((${n:-0} > held_jobs)) && break
    sleep 0.5
  done
  kill -INT "$fill" 2>/dev/null || true  # wrk prints its summary on SIGINT
  for _ in $(seq 50); do alive "$fill" || break; sleep 0.1; done
  stop_pid "$fill"
  fill_s=$((SECONDS - t0)); t0=$SECONDS
  # until every accepted job has been submitted upstream, 20 s at most
  while ((SECONDS - t0 < 20)) && [[ $(jfield "$url/stats" upstream.pending_submits) != 0 ]]; do sleep 0.5; done
  local drain_s=$((SECONDS - t0)) pending; pending=$(jfield "$url/stats" upstream.pending_submits)
  sleep 3  # past the newest jobs' first upstream poll
  read -r total queued running failed < <(curl -fsS --max-time 10 "$url/stats" | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"]
print(j["total"] - 1, j["queued"], j["running"] - 1, j["failed"])')  # - 1: the measured job
  rss1=$(rss_kb "$srv_pid")
  polls0=$(jfield "$mock_url/stats" polls)
  measure_begin; run_wrk H-full "$url/results/$id"; measure_end
  polls1=$(jfield "$mock_url/stats" polls)
  not_ok=$(curl -fsS --max-time 10 "$url/metrics" |
    awk '/^jobrelay_upstream_calls_total/ && !/outcome="ok"/ { n += $NF } END { print n + 0 }')
  local capped=""; ((fill_s >= fill_max)) && capped=" (HELD_FILL_S)"
  local per_job; per_job=$(awk -v a="$rss0" -v b="$rss1" -v n="$total" 'BEGIN { printf "%.1f", n ? (b - a) / n : 0 }')
  local schedule="polls after 1 s, then x1.5 up to 10 s"
  [[ -n $held_first_poll_ms ]] && schedule="polls every $held_first_poll_ms ms (HELD_FIRST_POLL_MS)"
  wrk_row H-full "GET running job, $total jobs held" "$raw/H-full.wrk" \
    "running=$running queued=$queued failed=$failed; RSS $((rss0 / 1024)) -> $((rss1 / 1024)) MB, $per_job KiB/job; \
fill ${fill_s}s$capped, $(status_count "$raw/H-fill.wrk" 503) refused503, then ${drain_s}s until pending=${pending:-?}; \
upstream: $schedule, $(((${polls1:-0} - ${polls0:-0}) / secs)) polls/s during the run, $not_ok calls not ok since start; \
after=$(code "$url/results/$id")"
  stop_pair
}

for sc in $scenarios; do
  [[ $sc =~ ^[ABCDH]$ ]] || { log "unknown scenario $sc (A B C D H)"; exit 1; }
  wait_idle
  log "scenario $sc (background load ${bg}%)"
  "scenario_$sc" || log "scenario $sc failed"
  cleanup  # a scenario that failed half-way must not leave load for the next one
done

echo >&2
cat "$table"
log "table: $table; raw output: $raw/"
