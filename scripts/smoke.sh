#!/usr/bin/env bash
# A curl-only walk-through against a running jobrelay: submit, poll until done
# (honouring Retry-After), print the result. Exits non-zero on a wrong status.
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
