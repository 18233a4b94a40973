#!/usr/bin/env bash
# Soak test: jobrelay under a steady, moderate mixed load for SOAK_S seconds,
# its RSS sampled every SAMPLE_S, and at the end whether memory grew.
# The load (soak.py load): SOAK_RATE new jobs a second (mock job length
# SOAK_JOB_MS), each followed to its end by a polling client honouring
# Retry-After, a long poll (?wait=30, SOAK_WAIT_PCT %) or an event stream
# (SOAK_EVENTS_PCT %); meanwhile SOAK_HELD_POLLS long polls and
# SOAK_HELD_STREAMS event streams stay open on SOAK_LONG_JOBS long jobs
# (SOAK_LONG_JOB_MS). Finished jobs expire after SOAK_TTL_S, so the job table
# levels off about a minute in. jobrelay is pinned to SERVER_CPU, every other
# process (two mocks, soak.py's router and load client) to LOAD_CPU. The rate
# is meant to leave both cores mostly idle: the VM is shared.
#   SOAK_S (600) SOAK_RATE (200) SOAK_JOB_MS (3000) SOAK_LONG_JOB_MS (120000)
#   SOAK_LONG_JOBS (50) SOAK_HELD_POLLS (200) SOAK_HELD_STREAMS (50)
#   SOAK_WAIT_PCT (10) SOAK_EVENTS_PCT (10) SOAK_TTL_S (60) SOAK_CONNS (64) SAMPLE_S (15)
#   SERVER_CPU (0) LOAD_CPU (1) PORT (18500; and the next three)
#   THREADS (1): server.threads (give SERVER_CPU as many cores, e.g. 0,1)
#   RESULTS_DIR (/tmp/jobrelay-bench)
# Verdict rule: over the samples of the last 5 minutes (none before minute 2:
# warm-up and the table filling), the least-squares trend of RSS, extrapolated
# over that window, must be at most max(GROWTH_MB (4) MB, GROWTH_PCT (3) % of
# the window's mean RSS): "no growth"; more is "GROWTH". A run shorter than
# 3 minutes (fewer than 4 samples in the window) is "too short to judge".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

missing=()
for tool in curl python3 taskset; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  pkgs=${missing[*]}; pkgs=${pkgs/taskset/util-linux}  # taskset ships in util-linux
  echo "needs ${missing[*]} (apt-get install $pkgs)" >&2; exit 1
fi

soak_s=${SOAK_S:-600}; rate=${SOAK_RATE:-200}; job_ms=${SOAK_JOB_MS:-3000}
long_job_ms=${SOAK_LONG_JOB_MS:-120000}; long_jobs=${SOAK_LONG_JOBS:-50}
held_polls=${SOAK_HELD_POLLS:-200}; held_streams=${SOAK_HELD_STREAMS:-50}
wait_pct=${SOAK_WAIT_PCT:-10}; events_pct=${SOAK_EVENTS_PCT:-10}; ttl_s=${SOAK_TTL_S:-60}; conns=${SOAK_CONNS:-64}
sample_s=${SAMPLE_S:-15}; growth_mb=${GROWTH_MB:-4}; growth_pct=${GROWTH_PCT:-3}
server_cpu=${SERVER_CPU:-0}; load_cpu=${LOAD_CPU:-1}
port=${PORT:-18500}; router_port=$((port + 1)); short_port=$((port + 2)); long_port=$((port + 3))
for v in soak_s sample_s job_ms long_job_ms ttl_s; do
  if ! [[ ${!v} =~ ^[0-9]+$ ]] || ((${!v} == 0)); then echo "$v must be a positive whole number" >&2; exit 1; fi
done
# jobrelay fails a job not finished within jobs.max_job_duration_seconds (300)
((long_job_ms < 280000)) || { echo "SOAK_LONG_JOB_MS must be below 280000" >&2; exit 1; }
hz=$(getconf CLK_TCK)

dir=$("$root/scripts/build.sh" Release | tail -n 1)
stamp=$(date -u +%Y%m%d-%H%M%S)
results=${RESULTS_DIR:-/tmp/jobrelay-bench}
raw=$results/soak-$stamp; report=$results/soak-$stamp.txt
mkdir -p "$raw"
empty_config=$raw/empty.json; echo '{}' > "$empty_config"  # so config/jobrelay.json does not leak in
# one descriptor per held request and per pooled connection, on both sides
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
out() { echo "$*" | tee -a "$report"; }

# ---- processes: pids, alive, stop_pid, cleanup, wait_up
# shellcheck source=bench/processes.sh
source "$root/bench/processes.sh"
trap cleanup EXIT
trap 'log "interrupted"; echo "(interrupted)" >> "$report"; exit 130' INT TERM

# ---- start: two mocks, the router in front of them, jobrelay
url=http://127.0.0.1:$port
for p in "$port" "$router_port" "$short_port" "$long_port"; do
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/"; then log "port $p already answers: set PORT"; exit 1; fi
done
taskset -c "$load_cpu" "$dir/jobrelay-mock-analyzer" --listen "127.0.0.1:$short_port" \
  --duration-ms "$job_ms" > "$raw/mock-short.log" 2>&1 &
short_pid=$!; pids+=("$short_pid")
taskset -c "$load_cpu" "$dir/jobrelay-mock-analyzer" --listen "127.0.0.1:$long_port" \
  --duration-ms "$long_job_ms" > "$raw/mock-long.log" 2>&1 &
long_pid=$!; pids+=("$long_pid")
taskset -c "$load_cpu" python3 "$root/bench/soak.py" route "$router_port" "$short_port" "$long_port" \
  > "$raw/router.log" 2>&1 &
router_pid=$!; pids+=("$router_pid")
# env and taskset exec, so $! is jobrelay itself (its /proc/PID is the server's).
# As bench/run.sh, plus: long polls may be held 60 s; finished jobs kept SOAK_TTL_S.
env JOBRELAY_SERVER__THREADS="${THREADS:-1}" JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND=0 \
  JOBRELAY_RATE_LIMIT__POLL__RATE_PER_SECOND=0 JOBRELAY_LIMITS__MAX_JOBS=2000000 \
  JOBRELAY_LOG__LEVEL=warn JOBRELAY_POLLING__UPSTREAM_INITIAL_MS=1000 \
  JOBRELAY_POLLING__MAX_WAIT_SECONDS=60 JOBRELAY_JOBS__RESULT_TTL_SECONDS="$ttl_s" \
  taskset -c "$server_cpu" "$dir/jobrelay" --config "$empty_config" --listen "127.0.0.1:$port" \
  --upstream "http://127.0.0.1:$router_port" > "$raw/jobrelay.log" 2>&1 &
srv_pid=$!; pids+=("$srv_pid")
wait_up "http://127.0.0.1:$short_port/stats" "$short_pid" || { log "the short mock did not start"; exit 1; }
wait_up "http://127.0.0.1:$long_port/stats" "$long_pid" || { log "the long mock did not start"; exit 1; }
wait_up "$url/healthz" "$srv_pid" || { log "jobrelay did not start (see $raw/jobrelay.log)"; exit 1; }
# the router answers only POSTs; a connect is enough
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$router_port") 2>/dev/null && break; sleep 0.1; done

# ---- measurement
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime + stime
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# one /stats answer as "total running succeeded failed expired long_polls event_streams"
stats_fields() {
  curl -fsS --max-time 5 "$url/stats" 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    j, h = d["jobs"], d["held"]
    print(j["total"], j["running"] + j["queued"], j["succeeded"], j["failed"], d["cache"]["expired"],
          h["long_polls"], h["event_streams"])
except (ValueError, KeyError, TypeError):
    print("- - - - - - -")' || echo "- - - - - - -"
}
metric() {  # NAME: one unlabelled value of /metrics
  curl -fsS --max-time 5 "$url/metrics" 2>/dev/null | awk -v n="$1" '$1 == n {print $2}' | grep . || echo -
}
client_errors() { sed -n 's/^t=.* errors=\([0-9]*\)$/\1/p' "$raw/client.log" 2>/dev/null | tail -n 1 | grep . || echo 0; }

samples=$raw/samples.tsv  # t rss_kb
: > "$samples"
sample() {  # T: one line
  local now srv c0 c1 rss
  now=$(date +%s%N); srv=$(ticks "$srv_pid"); c0=$(cpu_jiffies "$server_cpu"); c1=$(cpu_jiffies "$load_cpu")
  rss=$(status_kb "$srv_pid" VmRSS)
  local total active succ failed expired lp es
  read -r total active succ failed expired lp es < <(stats_fields)
  echo "$1 $rss" >> "$samples"
  out "$(awk -v t="$1" -v rss="$rss" -v total="$total" -v active="$active" -v succ="$succ" -v failed="$failed" \
      -v expired="$expired" -v lp="$lp" -v es="$es" -v conns="$(metric jobrelay_open_connections)" \
      -v dp=$((srv - prev_srv)) -v hz="$hz" -v ns=$((now - prev_t)) -v a0="$prev_core0" -v b0="$c0" \
      -v a1="$prev_core1" -v b1="$c1" -v err="$(client_errors)" 'BEGIN {
    split(a0, x, " "); split(b0, y, " "); core0 = (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0
    split(a1, x, " "); split(b1, y, " "); core1 = (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0
    printf "%5d %8.1f %7s %6s %8s %6s %8s %4s/%-4s %6s %5.0f %5.0f %5.0f %6s\n", t, rss / 1024, total, active, succ,
      failed, expired, lp, es, conns, 100 * dp / hz / (ns / 1e9), core0, core1, err }')"
  prev_t=$now; prev_srv=$srv; prev_core0=$c0; prev_core1=$c1
}

# ---- the run
{
  echo "# jobrelay bench/soak.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, server on cpu$server_cpu, load on cpu$load_cpu"
  echo "# SOAK_S=$soak_s SOAK_RATE=$rate SOAK_JOB_MS=$job_ms SOAK_LONG_JOB_MS=$long_job_ms SOAK_LONG_JOBS=$long_jobs SOAK_HELD_POLLS=$held_polls SOAK_HELD_STREAMS=$held_streams SOAK_WAIT_PCT=$wait_pct SOAK_EVENTS_PCT=$events_pct SOAK_TTL_S=$ttl_s SOAK_CONNS=$conns"
} | tee "$report"
out "    t   RSS MB    jobs active     done failed  expired held lp/es  conns  srv%  cpu$server_cpu% cpu$load_cpu%  c.err"
# the t=0 line's CPU columns: the second before the load, i.e. the machine's other load
prev_t=$(date +%s%N); prev_srv=$(ticks "$srv_pid"); prev_core0=$(cpu_jiffies "$server_cpu"); prev_core1=$(cpu_jiffies "$load_cpu")
sleep 1
t0=$(date +%s%N)
timeout $((soak_s + job_ms / 1000 + 90)) taskset -c "$load_cpu" python3 "$root/bench/soak.py" load 127.0.0.1 "$port" \
  --duration "$soak_s" --rate "$rate" --job-ms "$job_ms" --long-job-ms "$long_job_ms" --long-jobs "$long_jobs" \
  --held-polls "$held_polls" --held-streams "$held_streams" --wait-pct "$wait_pct" --events-pct "$events_pct" \
  --conns "$conns" > "$raw/client.log" 2>&1 &
client_pid=$!; pids+=("$client_pid")
cpu0_srv=$(ticks "$srv_pid"); cpu0_mocks=$(($(ticks "$short_pid") + $(ticks "$long_pid"))); cpu0_router=$(ticks "$router_pid")
for ((k = 0; k * sample_s <= soak_s; k++)); do
  # every sample at its own mark from the start, so the slow ones do not push the next
  due=$((t0 + k * sample_s * 1000000000)); now=$(date +%s%N)
  ((due > now)) && sleep "$(awk -v d=$((due - now)) 'BEGIN { printf "%.3f", d / 1e9 }')"
  alive "$srv_pid" || { out "jobrelay exited (see $raw/jobrelay.log)"; exit 1; }
  sample $((k * sample_s))
done
# the same process times as the samples, before the load ends
cpu_srv=$(($(ticks "$srv_pid") - cpu0_srv)); cpu_mocks=$(($(ticks "$short_pid") + $(ticks "$long_pid") - cpu0_mocks))
cpu_router=$(($(ticks "$router_pid") - cpu0_router)); wall_s=$(((k - 1) * sample_s))
hwm=$(status_kb "$srv_pid" VmHWM)
log "load ended; waiting for the client's last jobs"
client_rc=0; wait "$client_pid" || client_rc=$?
stop_pid "$client_pid"  # gone already: only takes it off pids
upstream_not_ok=$(curl -fsS --max-time 10 "$url/metrics" |
  awk '/^jobrelay_upstream_calls_total/ && !/outcome="ok"/ { n += $NF } END { print n + 0 }')
stop_pid "$srv_pid"; stop_pid "$router_pid"; stop_pid "$short_pid"; stop_pid "$long_pid"

# ---- verdict
out ""
awk -v hwm="$hwm" -v gmb="$growth_mb" -v gpct="$growth_pct" '
  { t[NR] = $1; r[NR] = $2 / 1024; n = NR }
  END {
    last = t[n]; from = last - 300; if (from < 120) from = 120
    for (i = 1; i <= n; i++) {
      if (r[i] > max) max = r[i]
      if (m1 == "" && t[i] >= 60) m1 = r[i]
      if (m2 == "" && t[i] >= 120) m2 = r[i]
      if (t[i] >= from) { k++; sx += t[i]; sy += r[i]; sxx += t[i] * t[i]; sxy += t[i] * r[i]; w0 = (w0 == "" ? t[i] : w0) }
    }
    printf "RSS: at 1 min %s MB, at 2 min %s MB, last %.1f MB, max %.1f MB (VmHWM %.1f MB)\n",
      m1 == "" ? "-" : sprintf("%.1f", m1), m2 == "" ? "-" : sprintf("%.1f", m2), r[n], max, hwm / 1024
    if (m2 != "") printf "minute 2 -> end: %+.1f MB (%+.1f%%)\n", r[n] - m2, 100 * (r[n] - m2) / m2
    if (k < 4) { print "verdict: too short to judge (needs samples from minute 2 on: SOAK_S >= 180)"; exit }
    slope = (k * sxy - sx * sy) / (k * sxx - sx * sx); mean = sy / k; span = last - w0
    trend = slope * span; limit = gmb; if (gpct * mean / 100 > limit) limit = gpct * mean / 100
    printf "trend %d-%d s (%d samples, least squares): %+.1f MB over %.1f min (%+.1f MB/h), mean %.1f MB, limit %.1f MB\n",
      w0, last, k, trend, span / 60, slope * 3600, mean, limit
    printf "verdict: %s\n", trend <= limit ? "no growth" : "GROWTH"
  }' "$samples" | tee -a "$report"

summary=$(sed -n 's/^summary //p' "$raw/client.log" | tail -n 1)
[[ -n $summary ]] || summary="none (client exit $client_rc; see $raw/client.log)"
out "client: $summary"
out "client errors: $(sed -n 's/^summary .* errors=\([0-9]*\) .*/\1/p' "$raw/client.log" | tail -n 1 | grep . || echo '?') (post_failed, unexpected, transport_errors, timeouts, late, bad_stream_end, unfinished)"
out "router: $(tail -n 1 "$raw/router.log"); upstream calls not ok: $upstream_not_ok; jobrelay log lines (warn and up): $(grep -c . "$raw/jobrelay.log" || true)"
# the client's own CPU comes from its summary (its PID here is timeout's)
client_cpu=$(sed -n 's/^summary .* load_cpu_s=\([0-9.]*\) .*/\1/p' "$raw/client.log" | tail -n 1 | grep . || echo 0)
out "$(awk -v w="$wall_s" -v hz="$hz" -v s="$cpu_srv" -v m="$cpu_mocks" -v r="$cpu_router" -v c="$client_cpu" 'BEGIN {
  f = (w > 0) ? 100 / hz / w : 0
  printf "CPU over %d s, %% of one core: jobrelay %.1f, load client %.1f, router %.1f, mocks %.1f", w, s * f, c * hz * f, r * f, m * f }')"
log "report: $report; raw output: $raw/"
