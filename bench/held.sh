#!/usr/bin/env bash
# Memory cost of held long polls and open event streams: jobrelay's RSS before
# and while N clients wait on one running job (defaults: 10,000 long polls,
# 1,000 event streams). Needs python3 for the client side.
#   LONG_POLLS (10000) STREAMS (1000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$("$root/scripts/build.sh" Release | tail -n 1)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
# A 100-hour job: percentCompleted moves 1% an hour, so the job's document
# (and ETag) stays put while requests are held. (With 1 hour it moved every
# 36 s, answering every held long poll in the middle of a measurement.)
"$dir/jobrelay-mock-analyzer" --listen 127.0.0.1:18191 --duration-ms 360000000 >/dev/null 2>&1 &
pids+=($!)
cfg=$(mktemp --suffix=.json); echo '{}' > "$cfg"
# A fresh server per measurement: freed heap is not given back to the OS, so a
# second measurement in the same process would read too low.
start_server() {
  env JOBRELAY_SERVER__THREADS=1 JOBRELAY_RATE_LIMIT__POLL__RATE_PER_SECOND=0 JOBRELAY_LOG__LEVEL=warn \
    JOBRELAY_POLLING__MAX_WAIT_SECONDS=3600 JOBRELAY_SERVER__MAX_CONNECTIONS=100000 \
    "$dir/jobrelay" --config "$cfg" --listen 127.0.0.1:18190 --upstream http://127.0.0.1:18191 &
  server=$!; pids+=("$server")
  for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:18190/healthz >/dev/null 2>&1 && break; sleep 0.1; done
  id=$(curl -fsS -X POST http://127.0.0.1:18190/analyze -H 'Content-Type: application/json' -d '{}' \
    | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  # The first upstream poll (after 1 s) adds "progress" to the document: a
  # change, which answers every long poll held by then. Hold after it.
  for _ in $(seq 1 50); do [[ $(curl -fsS "http://127.0.0.1:18190/results/$id") == *'"progress"'* ]] && break; sleep 0.1; done
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; }
rss() { awk '/VmRSS/{print $2}' "/proc/$server/status"; }
held() { curl -fsS http://127.0.0.1:18190/stats | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

measure() {  # mode count stat-name
  local before n; before=$(rss)
  python3 "$root/bench/held.py" 127.0.0.1 18190 "$id" "$2" "$1" 600 >/dev/null &
  local client=$!
  for _ in $(seq 1 600); do n=$(held "$3"); [[ $n == "$2" ]] && break; sleep 0.1; done
  sleep 1
  local during; during=$(rss); n=$(held "$3")
  printf '%-9s %6d held: RSS %6.1f MB -> %6.1f MB, %5.2f KiB each%s\n' "$1" "$2" \
    "$(echo "$before/1024" | bc -l)" "$(echo "$during/1024" | bc -l)" "$(echo "($during-$before)/$2" | bc -l)" \
    "$([[ $n == "$2" ]] || echo " (but $n held at the end, not $2: not a valid figure)")"
  kill "$client"; wait "$client" 2>/dev/null || true
}
start_server; measure longpoll "${LONG_POLLS:-10000}" long_polls; stop_server
start_server; measure events "${STREAMS:-1000}" event_streams; stop_server
