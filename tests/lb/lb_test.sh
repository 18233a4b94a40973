#!/usr/bin/env bash
# The load-balancer test: the SHIPPED docker/haproxy.cfg, unchanged (only its
# environment variables differ from compose.yaml's), in front of jobrelay and
# the mock analyzer, everything on loopback.
#
#   lb_test.sh JOBRELAY_BIN MOCK_BIN HAPROXY_CFG
#
# Addresses: jobrelay and the mock bind 127.0.0.1 port 0 and log the port they
# got; HAProxy binds random ports (retried when taken). HAProxy reaches
# jobrelay from 127.0.0.1, the only trusted proxy; the test's clients connect
# to HAProxy from other loopback addresses (curl --interface 127.0.0.N; Linux
# routes all of 127/8 to lo), so jobrelay can tell them apart only through
# X-Forwarded-For.
#
# Checks:
#   a. submit through the LB -> 202 + Location on the LB; long polls through
#      the LB until 200; jobrelay saw the real client and the request id.
#   b. the submit rate limit (burst 2) counts the client from X-Forwarded-For:
#      client A gets 429 (a spoofed X-Forwarded-For does not help it), client
#      B still gets 202.
#   c. SIGTERM: HAProxy marks jobrelay DOWN (health check on /readyz) while
#      jobrelay's listener still answers, and only then does the listener
#      close; an event stream and a long poll held through the LB outlive the
#      DOWN mark and end cleanly when jobrelay closes them; jobrelay exits 0
#      within drain_delay + drain_seconds + a margin.
# Environment: HAPROXY (default: haproxy on PATH, else /usr/sbin/haproxy),
# LB_TEST_KEEP=1 (keep the logs directory).
set -uo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 JOBRELAY_BIN MOCK_BIN HAPROXY_CFG" >&2
  exit 2
fi
jobrelay_bin=$1 mock_bin=$2 haproxy_cfg=$3

haproxy=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
if [[ ! -x $haproxy ]]; then
  echo "lb_test: haproxy is not installed: run scripts/install-deps.sh --test" \
       "(Debian package 'haproxy') or set HAPROXY=/path/to/haproxy" >&2
  exit 1
fi
for bin in "$jobrelay_bin" "$mock_bin"; do
  [[ -x $bin ]] || { echo "lb_test: not an executable: $bin" >&2; exit 1; }
done
[[ -r $haproxy_cfg ]] || { echo "lb_test: cannot read $haproxy_cfg" >&2; exit 1; }
[[ -n ${EPOCHREALTIME:-} ]] || { echo "lb_test: needs bash >= 5 (EPOCHREALTIME)" >&2; exit 1; }

# The test sets every setting it relies on; a JOBRELAY_* or LB_* variable left
# in the caller's shell would override them (or stop jobrelay as unknown).
for var in $(compgen -e | grep -E '^(JOBRELAY_|LB_)' || true); do unset "$var"; done

# Settings shared with the assertions below.
drain_delay_ms=3000   # docker/haproxy.cfg: inter 1s x fall 2, plus a margin (compose.yaml's value)
drain_seconds=5
exit_margin_ms=2000
submit_burst=2

# Client addresses (all reach HAProxy on 127.0.0.1).
client_a=127.0.0.2      # a: the job walk-through
client_rl_a=127.0.0.3   # b: exhausts its submit bucket
client_rl_b=127.0.0.4   # b: another client, its own bucket
client_c=127.0.0.5      # c: the job held across the drain
client_d=127.0.0.6      # c: requests during the drain

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jobrelay-lb.XXXXXX")
pids=()
mock_pid= jobrelay_pid= haproxy_pid=
cleanup() {
  local rc=$?
  # A stopped process would hold its SIGTERM until continued.
  [[ -n $mock_pid ]] && kill -CONT "$mock_pid" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ ${LB_TEST_KEEP:-0} == 1 ]]; then echo "logs kept in $tmp" >&2; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }
start_ms=$(now_ms)
since() { echo $(($(now_ms) - start_ms)); }   # ms since the test began, for the log
say() { echo "[$(printf '%6d' "$(since)") ms] $*"; }

dump_logs() {
  echo "--- haproxy log (last 25 lines)"; tail -n 25 "$tmp/haproxy.log" 2>/dev/null
  echo "--- jobrelay log (last 25 lines)"; tail -n 25 "$tmp/jobrelay.log" 2>/dev/null
  echo "--- mock log (last 5 lines)"; tail -n 5 "$tmp/mock.log" 2>/dev/null
}
# fail MESSAGE [RESPONSE-NAME]: says what went wrong, shows the response and the logs.
fail() {
  echo "lb_test: FAIL: $1" >&2
  if [[ -n ${2:-} ]]; then
    echo "--- response '$2': headers"; cat "$tmp/$2.h" 2>/dev/null
    echo "--- response '$2': body"; head -c 2000 "$tmp/$2.b" 2>/dev/null; echo
    [[ -s $tmp/$2.err ]] && { echo "--- curl said"; cat "$tmp/$2.err"; }
  fi
  dump_logs
  exit 1
}
# expect DESCRIPTION EXPECTED SEEN [RESPONSE-NAME]
expect() {
  [[ $3 == "$2" ]] || fail "$1: expected '$2', saw '$3'" "${4:-}"
}
# expect_match DESCRIPTION REGEX SEEN [RESPONSE-NAME]
expect_match() {
  [[ $3 =~ $2 ]] || fail "$1: expected something matching /$2/, saw '$3'" "${4:-}"
}

# req NAME CLIENT-IP URL [curl args...]: one request from CLIENT-IP; headers
# in $tmp/NAME.h, body in $tmp/NAME.b; prints the status, 000 for no answer.
req() {
  local name=$1 ip=$2 url=$3
  shift 3
  curl -sS --max-time 5 --interface "$ip" -o "$tmp/$name.b" -D "$tmp/$name.h" \
       -w '%{http_code}' "$@" "$url" 2>"$tmp/$name.err"
  return 0
}
# header NAME FIELD: the value of FIELD in response NAME (last one, CR stripped).
header() {
  grep -i "^$2:" "$tmp/$1.h" 2>/dev/null | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^[[:space:]]*//'
}
body() { cat "$tmp/$1.b" 2>/dev/null; }
submit() {  # NAME CLIENT-IP [curl args...]
  local name=$1 ip=$2
  shift 2
  req "$name" "$ip" "$lb/analyze" -X POST -H 'Content-Type: application/json' \
      --data '{"document":"x"}' "$@"
}

# wait_for_log FILE TEXT DESCRIPTION: HAProxy writes a request's line when the
# exchange ends, so a line may come a moment after the answer.
wait_for_log() {
  local deadline=$(($(now_ms) + 3000))
  until grep -qF -- "$2" "$1"; do
    (($(now_ms) < deadline)) || fail "$3"
    sleep 0.05
  done
}

# address_from_log PID LOG_FILE PREFIX
source "$(dirname "$0")/../support/shell/address_from_log.sh"

# HAProxy's view of the jobrelay server, from the stats page's CSV:
# "status|check_status", e.g. "UP|L7OK", "UP 1/2|L7STS", "DOWN|L7STS".
# HAProxy prefixes check_status with "* " while a check is running; that
# says when it was read, not what the server is, so it is dropped.
server_state() {
  curl -sS --max-time 2 "http://$stats/;csv" 2>/dev/null | awk -F, '
    NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
    $1 == "jobrelay" && $2 == "jobrelay1" { check = $col["check_status"]; sub(/^\* /, "", check)
                                             print $col["status"] "|" check }'
}

# ---------------------------------------------------------------- start-up
# The file must also be valid with compose.yaml's variables, three servers
# (the service names need not resolve here: "init-addr ... none").
if ! LB_BIND=:8080 LB_BACKEND=jobrelay1:8080 LB_BACKEND2=jobrelay2:8080 LB_BACKEND3=jobrelay3:8080 \
     "$haproxy" -c -f "$haproxy_cfg" >"$tmp/haproxy-check.log" 2>&1; then
  cat "$tmp/haproxy-check.log" >&2
  fail "haproxy -c rejects $haproxy_cfg with compose.yaml's variables"
fi

"$mock_bin" --listen 127.0.0.1:0 --duration-ms 300 >"$tmp/mock.log" 2>&1 &
mock_pid=$!
pids+=("$mock_pid")
mock_addr=$(address_from_log "$mock_pid" "$tmp/mock.log" "mock analyzer on ") || exit 1

echo '{}' >"$tmp/jobrelay.json"
# Fast upstream polls; a small submit bucket that never refills during the
# test; a frozen analyzer (part c) keeps the job queued instead of failing it.
env JOBRELAY_SERVER__THREADS=2 \
    JOBRELAY_SERVER__TRUSTED_PROXIES=127.0.0.1/32 \
    JOBRELAY_SERVER__DRAIN_DELAY_MS=$drain_delay_ms \
    JOBRELAY_SERVER__DRAIN_SECONDS=$drain_seconds \
    JOBRELAY_POLLING__UPSTREAM_INITIAL_MS=50 \
    JOBRELAY_POLLING__UPSTREAM_MAX_MS=200 \
    JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND=0.001 \
    JOBRELAY_RATE_LIMIT__SUBMIT__BURST=$submit_burst \
    JOBRELAY_UPSTREAM__REQUEST_TIMEOUT_MS=1000 \
    JOBRELAY_UPSTREAM__MAX_RETRIES=100 \
    JOBRELAY_LOG__FORMAT=json \
  "$jobrelay_bin" --config "$tmp/jobrelay.json" --listen 127.0.0.1:0 \
                  --upstream "http://$mock_addr" >"$tmp/jobrelay.log" 2>&1 &
jobrelay_pid=$!
pids+=("$jobrelay_pid")
direct=$(address_from_log "$jobrelay_pid" "$tmp/jobrelay.log" "jobrelay listening on ") || exit 1

# HAProxy cannot report a port it picked itself, so pick two below the
# kernel's ephemeral range and try again when one is taken. -dR: no
# SO_REUSEPORT, so a port another process holds fails the bind instead of
# being shared with it.
lb= stats=
for attempt in 1 2 3 4 5 6 7 8; do
  lb_port=$((20000 + RANDOM % 12000))
  stats_port=$((20000 + RANDOM % 12000))
  ((stats_port == lb_port)) && continue
  LB_BIND=127.0.0.1:$lb_port LB_STATS_BIND=127.0.0.1:$stats_port LB_BACKEND=$direct \
    "$haproxy" -db -dR -f "$haproxy_cfg" >"$tmp/haproxy.log" 2>&1 &
  haproxy_pid=$!
  stats=127.0.0.1:$stats_port
  deadline=$(($(now_ms) + 10000))
  state=
  while (($(now_ms) < deadline)) && kill -0 "$haproxy_pid" 2>/dev/null; do
    state=$(server_state)
    [[ $state == "UP|L7OK" ]] && break
    sleep 0.05
  done
  if [[ $state == "UP|L7OK" ]]; then
    pids+=("$haproxy_pid")
    lb=http://127.0.0.1:$lb_port
    break
  fi
  kill "$haproxy_pid" 2>/dev/null; wait "$haproxy_pid" 2>/dev/null
  if grep -qiE "cannot bind|address already in use" "$tmp/haproxy.log"; then
    say "ports $lb_port/$stats_port taken, trying others"
    continue
  fi
  echo "lb_test: HAProxy did not come up with jobrelay UP (last state '$state'); its log:" >&2
  cat "$tmp/haproxy.log" >&2
  exit 1
done
[[ -n $lb ]] || fail "no free ports for HAProxy after 8 attempts"
say "mock $mock_addr, jobrelay $direct, HAProxy $lb (stats $stats): $("$haproxy" -v | head -n 1)"

# ------------------------------------------ a. a job end to end via the LB
echo "== a. submit and poll through the load balancer"
code=$(submit a_post "$client_a" -H 'X-Request-Id: lb-test-a')
expect "a: POST /analyze through the LB" 202 "$code" a_post
location=$(header a_post Location)
expect_match "a: Location points at the LB (Host passes through)" \
  "^http://127\.0\.0\.1:$lb_port/results/j_[A-Za-z0-9_-]{22}$" "$location" a_post
expect "a: the client's X-Request-Id comes back" lb-test-a "$(header a_post X-Request-Id)" a_post

deadline=$(($(now_ms) + 10000))
polls=0
while :; do
  code=$(req a_poll "$client_a" "$location?wait=5" --max-time 8)
  polls=$((polls + 1))
  [[ $code == 200 ]] && break
  [[ $code == 202 ]] || fail "a: long poll through the LB: expected 202 or 200, saw $code" a_poll
  (($(now_ms) < deadline)) || fail "a: job not finished 10 s after submit (mock takes 300 ms)" a_poll
done
expect_match "a: the finished job" '"status":"succeeded"' "$(body a_poll)" a_poll
say "job done after $polls long poll(s): $location"

# jobrelay's access log names the real client (from X-Forwarded-For) and the id.
grep -F '"path":"/analyze"' "$tmp/jobrelay.log" | grep -F '"request_id":"lb-test-a"' \
  | grep -qF "\"client\":\"$client_a\"" \
  || fail "a: jobrelay's access log has no POST /analyze line with client $client_a and request id lb-test-a"
wait_for_log "$tmp/haproxy.log" '{lb-test-a}' "a: HAProxy's log has no line with the request id {lb-test-a}"

# No X-Request-Id from the client (or an unusable one): HAProxy makes one up,
# and it is the same in HAProxy's log, jobrelay's log and the answer.
# (/stats: jobrelay logs successful /healthz, /readyz and /metrics at debug only.)
code=$(req a_rid "$client_a" "$lb/stats" -H 'X-Request-Id: not valid!')
expect "a: GET /stats through the LB" 200 "$code" a_rid
rid=$(header a_rid X-Request-Id)
expect_match "a: HAProxy-made X-Request-Id (a UUID)" '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' "$rid" a_rid
wait_for_log "$tmp/jobrelay.log" "\"request_id\":\"$rid\"" "a: jobrelay's log lacks request id $rid"
wait_for_log "$tmp/haproxy.log" "{$rid}" "a: HAProxy's log has no line with the request id {$rid}"
echo "== a. ok"

# -------------------------------- b. rate limit by the X-Forwarded-For client
echo "== b. the rate limiter sees the client, not the load balancer"
for i in $(seq 1 "$submit_burst"); do
  code=$(submit b_a$i "$client_rl_a")
  expect "b: client A ($client_rl_a) submit $i of burst $submit_burst" 202 "$code" b_a$i
done
code=$(submit b_a_over "$client_rl_a")
expect "b: client A's submit beyond its burst" 429 "$code" b_a_over
expect_match "b: 429 carries Retry-After" '^[1-9][0-9]*$' "$(header b_a_over Retry-After)" b_a_over
expect_match "b: 429 carries RateLimit-Policy" "^\"submit\";q=$submit_burst;w=" "$(header b_a_over RateLimit-Policy)" b_a_over
expect_match "b: 429 carries RateLimit" '^"submit";r=0;t=[1-9]' "$(header b_a_over RateLimit)" b_a_over
expect_match "b: 429 is jobrelay's problem document" 'urn:jobrelay:problem:rate-limited' "$(body b_a_over)" b_a_over

# HAProxy appends the address it saw; jobrelay takes the right-most entry that
# is not a trusted proxy, so whatever A writes stays to the left of it.
n=0
for spoof in "203.0.113.7" "$client_rl_b" "198.51.100.9, 127.0.0.1"; do
  n=$((n + 1))
  code=$(submit b_spoof$n "$client_rl_a" -H "X-Forwarded-For: $spoof")
  expect "b: client A with a spoofed 'X-Forwarded-For: $spoof'" 429 "$code" b_spoof$n
done

code=$(submit b_b "$client_rl_b")
expect "b: client B ($client_rl_b), same LB, own bucket" 202 "$code" b_b
expect_match "b: client B's bucket is fresh" "^\"submit\";r=$((submit_burst - 1));" "$(header b_b RateLimit)" b_b
grep -F '"status":429' "$tmp/jobrelay.log" | grep -qF "\"client\":\"$client_rl_a\"" \
  || fail "b: jobrelay's log has no 429 for client $client_rl_a"
echo "== b. ok"

# ------------------------------------------------------- c. drain via the LB
echo "== c. SIGTERM: out of the LB before the listener closes"
# A frozen analyzer keeps the next job queued (its upstream calls time out and
# are retried), so the stream and the long poll below can only be ended by
# the drain.
kill -STOP "$mock_pid"
code=$(submit c_post "$client_c")
expect "c: POST /analyze through the LB" 202 "$code" c_post
job=$(header c_post Location)

( code=$(curl -sS -N --max-time 30 --interface "$client_c" -o "$tmp/c_sse.b" -D "$tmp/c_sse.h" \
              -w '%{http_code}' "$job/events" 2>"$tmp/c_sse.err")
  rc=$?
  echo "$rc $code $(now_ms)" >"$tmp/c_sse.done" ) &
pids+=($!)
( code=$(curl -sS --max-time 30 --interface "$client_c" -o "$tmp/c_lp.b" -D "$tmp/c_lp.h" \
              -w '%{http_code}' "$job?wait=25" 2>"$tmp/c_lp.err")
  rc=$?
  echo "$rc $code $(now_ms)" >"$tmp/c_lp.done" ) &
pids+=($!)

# The stream's first event has come through the LB, and jobrelay (its own
# gauge, asked directly) holds both requests before the signal.
deadline=$(($(now_ms) + 5000))
until grep -q '^data: ' "$tmp/c_sse.b" 2>/dev/null; do
  (($(now_ms) < deadline)) || fail "c: no first event on the stream through the LB in 5 s" c_sse
  sleep 0.05
done
until [[ $(curl -sS --max-time 2 "http://$direct/metrics" 2>/dev/null |
           grep -cE '^jobrelay_held_requests\{kind="(long_poll|event_stream)"\} 1$') == 2 ]]; do
  (($(now_ms) < deadline)) || fail "c: the event stream and the long poll are not both held by jobrelay"
  sleep 0.05
done
expect "c: HAProxy's view before SIGTERM" "UP|L7OK" "$(server_state)"

t0=$(now_ms)
kill -TERM "$jobrelay_pid"
say "SIGTERM sent to jobrelay"

# The draining flag is up once jobrelay's own /readyz says so.
deadline=$((t0 + 2000))
until [[ $(req c_ready0 127.0.0.1 "http://$direct/readyz" --max-time 1) == 503 ]]; do
  (($(now_ms) < deadline)) || fail "c: jobrelay's /readyz is not 503 2 s after SIGTERM" c_ready0
  sleep 0.02
done
t_draining=$(now_ms)
expect_match "c: /readyz while draining" '"status":"draining"' "$(body c_ready0)" c_ready0

# Still UP in HAProxy (it takes two failed checks a second apart): a new job
# sent through the LB meets jobrelay's own 503 + Retry-After.
code=$(submit c_post_draining "$client_d")
if [[ $code == 503 ]] && grep -q 'urn:jobrelay:problem:unavailable' "$tmp/c_post_draining.b"; then
  say "note: HAProxy had already marked jobrelay DOWN $(($(now_ms) - t0)) ms after SIGTERM;" \
      "jobrelay's draining 503 was not seen through the LB (a slow machine?)"
else
  expect "c: POST /analyze through the LB while draining" 503 "$code" c_post_draining
  expect_match "c: it is jobrelay's draining problem" 'urn:jobrelay:problem:draining' "$(body c_post_draining)" c_post_draining
  expect_match "c: with Retry-After" '^[1-9][0-9]*$' "$(header c_post_draining Retry-After)" c_post_draining
fi

# Watch HAProxy's view and jobrelay's listener until jobrelay exits.
t_down= t_closed= t_exit= last_state= direct_after_down= lb_after_down=
deadline=$((t0 + drain_delay_ms + drain_seconds * 1000 + exit_margin_ms))
while (($(now_ms) < deadline)); do
  if ! kill -0 "$jobrelay_pid" 2>/dev/null; then t_exit=$(now_ms); break; fi
  state=$(server_state)
  if [[ $state != "$last_state" ]]; then
    say "HAProxy: jobrelay1 ${state%|*} (check ${state#*|})"
    last_state=$state
  fi
  if [[ -z $t_down && ${state%|*} == DOWN ]]; then
    t_down=$(now_ms)
    # At this moment jobrelay must still answer on its own port...
    direct_after_down=$(req c_direct_down 127.0.0.1 "http://$direct/readyz" --max-time 1)
    # ...and the LB must no longer send it anything.
    lb_after_down=$(req c_lb_down "$client_d" "$lb/healthz")
  fi
  if [[ -z $t_closed ]]; then
    curl -sS --max-time 1 -o /dev/null "http://$direct/healthz" 2>/dev/null
    if [[ $? == 7 ]]; then   # connection refused: the listener is closed
      t_closed=$(now_ms)
      say "jobrelay's listener is closed"
      [[ -n $t_down ]] || fail "c: jobrelay's listener closed $((t_closed - t0)) ms after SIGTERM while HAProxy still had it '$state' (drain_delay_ms $drain_delay_ms)"
    fi
  fi
  sleep 0.05
done
[[ -n $t_exit ]] || fail "c: jobrelay still running $((deadline - t0)) ms after SIGTERM (drain_delay_ms $drain_delay_ms + drain_seconds $drain_seconds + ${exit_margin_ms} ms)"
wait "$jobrelay_pid"
jobrelay_rc=$?
say "jobrelay exited with status $jobrelay_rc"

[[ -n $t_down ]] || fail "c: HAProxy never marked jobrelay DOWN (last state '$last_state')"
expect "c: jobrelay's own /readyz when HAProxy marked it DOWN (listener still open)" 503 "$direct_after_down" c_direct_down
expect "c: a request through the LB once jobrelay is DOWN" 503 "$lb_after_down" c_lb_down
expect_match "c: ... answered by HAProxy itself (problem document, not HTML)" \
  '"type":"urn:jobrelay:problem:unavailable"' "$(body c_lb_down)" c_lb_down
expect "c: ... its Content-Type" application/problem+json "$(header c_lb_down Content-Type)" c_lb_down
expect "c: ... its Retry-After" 2 "$(header c_lb_down Retry-After)" c_lb_down
expect_match "c: ... its X-Request-Id" '^[0-9a-f-]{36}$' "$(header c_lb_down X-Request-Id)" c_lb_down
if [[ -n $t_closed ]]; then
  ((t_down < t_closed)) || fail "c: DOWN at +$((t_down - t0)) ms is not before the listener closed at +$((t_closed - t0)) ms"
else
  # Exited between two looks: the listener was open at the last one.
  t_closed=$t_exit
fi
expect "c: jobrelay's exit status" 0 "$jobrelay_rc"
wait_for_log "$tmp/haproxy.log" 'jobrelay1 is DOWN' "c: HAProxy's log does not report jobrelay1 DOWN"

# The held requests: through the LB, past the DOWN mark, ended by jobrelay's
# drain with a clean end (curl status 0), not cut by HAProxy.
for held in c_sse c_lp; do
  deadline=$(($(now_ms) + 5000))
  until [[ -s $tmp/$held.done ]]; do
    (($(now_ms) < deadline)) || fail "c: $held: still open 5 s after jobrelay exited" "$held"
    sleep 0.05
  done
  read -r rc code t_end <"$tmp/$held.done"
  expect "c: $held: curl's exit status (0 = clean end)" 0 "$rc" "$held"
  ((t_end > t_down)) || fail "c: $held ended at +$((t_end - t0)) ms, before the DOWN mark at +$((t_down - t0)) ms" "$held"
  eval "${held}_end=\$t_end ${held}_code=\$code"
done
expect "c: the event stream's status" 200 "$c_sse_code" c_sse
expect "c: the long poll's answer at the drain (the job is still queued)" 202 "$c_lp_code" c_lp
expect_match "c: the long poll's job" '"status":"queued"' "$(body c_lp)" c_lp
last_event=$(grep '^data: ' "$tmp/c_sse.b" | tail -n 1)
expect_match "c: the stream's last event (ended by the drain, not by the job)" '"status":"queued"' "$last_event" c_sse

echo "   SIGTERM                      +0 ms"
echo "   jobrelay /readyz 503         +$((t_draining - t0)) ms"
echo "   HAProxy: DOWN                +$((t_down - t0)) ms"
echo "   listener closed              +$((t_closed - t0)) ms   (drain_delay_ms $drain_delay_ms)"
echo "   stream / long poll ended     +$((c_sse_end - t0)) / +$((c_lp_end - t0)) ms"
echo "   jobrelay exited (status 0)   +$((t_exit - t0)) ms"
echo "== c. ok"
echo "lb_test: all passed in $(since) ms"
