#!/usr/bin/env bash
# A curl-only walk-through against a running jobrelay: submit, poll until done
# (honouring Retry-After), a long poll, the event stream, then the result.
# Exits non-zero on a wrong status.
#   scripts/smoke.sh [BASE_URL] (default http://127.0.0.1:8080)
set -euo pipefail
base=${1:-http://127.0.0.1:8080}
deadline=$((SECONDS + ${SMOKE_TIMEOUT_S:-120}))
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

header() { grep -i "^$1:" "$tmp/headers" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }

code=$(curl -sS -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -X POST "$base/analyze" \
  -H 'Content-Type: application/json' -d '{"document":"smoke-test.pdf"}')
echo "POST /analyze -> $code"
[[ "$code" == 202 ]] || { cat "$tmp/body"; echo; echo "FAIL: expected 202" >&2; exit 1; }
id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$tmp/body")
[[ -n "$id" ]] || { echo "FAIL: no id in $(cat "$tmp/body")" >&2; exit 1; }
echo "job $id, Location: $(header Location)"

# A long poll: held until the job changes (or 5 s pass), instead of a blind poll.
etag=$(header ETag)
code=$(curl -sS -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -H "If-None-Match: $etag" \
  "$base/results/$id?wait=5")
echo "GET /results/$id?wait=5 (If-None-Match: $etag) -> $code, ETag now $(header ETag)"
[[ "$code" =~ ^(200|202|304)$ ]] || { cat "$tmp/body"; echo "FAIL: long poll" >&2; exit 1; }

# The event stream: its first event at once (curl stops after 3 s or at the end).
curl -s -N --max-time 3 -o "$tmp/events" "$base/results/$id/events" || true
grep -q '^data: {' "$tmp/events" || { cat "$tmp/events"; echo "FAIL: no event on the stream" >&2; exit 1; }
echo "GET /results/$id/events -> $(grep -c '^data: ' "$tmp/events") event(s), last id $(grep '^id: ' "$tmp/events" | tail -n1 | cut -d' ' -f2)"

while :; do
  code=$(curl -sS -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' "$base/results/$id")
  case "$code" in
    202)
      wait_s=$(header Retry-After); wait_s=${wait_s:-1}
      progress=$(sed -n 's/.*"progress":\([0-9.]*\).*/\1/p' "$tmp/body")
      echo "GET /results/$id -> 202 (progress ${progress:-?}), retry after ${wait_s}s"
      (( SECONDS + wait_s < deadline )) || { echo "FAIL: not done in time" >&2; exit 1; }
      sleep "$wait_s" ;;
    200)
      echo "GET /results/$id -> 200"; cat "$tmp/body"; echo; echo "OK"; exit 0 ;;
    *)
      echo "GET /results/$id -> $code"; cat "$tmp/body"; echo; echo "FAIL: unexpected status" >&2; exit 1 ;;
  esac
done
