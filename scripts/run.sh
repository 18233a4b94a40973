#!/usr/bin/env bash
# Installs what is missing, builds Release, starts the bundled mock analyzer and
# jobrelay pointed at it. Ctrl-C stops both. The mock also serves the browser
# demo (web/), whose origin jobrelay allows by CORS.
#   RELAY_PORT (8080) MOCK_PORT (9000) MOCK_DURATION_MS (15000) MOCK_FAILURE_RATE (0)
# (Not JOBRELAY_PORT: jobrelay reads every JOBRELAY_* variable as configuration
# and refuses one it does not know.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
dir=$("$root/scripts/build.sh" Release | tail -n 1)

port=${RELAY_PORT:-8080}
mock_port=${MOCK_PORT:-9000}
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$dir/jobrelay-mock-analyzer" --listen "127.0.0.1:$mock_port" \
  --duration-ms "${MOCK_DURATION_MS:-15000}" --failure-rate "${MOCK_FAILURE_RATE:-0}" \
  --static "$root/web" &
pids+=($!)
# The demo page comes from the mock's origin, so that is the one to allow.
JOBRELAY_SERVER__CORS__ALLOWED_ORIGINS="http://127.0.0.1:$mock_port" \
  "$dir/jobrelay" --config "$root/config/jobrelay.json" --listen "127.0.0.1:$port" \
  --upstream "http://127.0.0.1:$mock_port" &
pids+=($!)

up=false
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && { up=true; break; }
  sleep 0.1
done
if ! $up; then
  echo "jobrelay did not answer on http://127.0.0.1:$port/healthz within 10 s (its messages are above)" >&2
  exit 1
fi
cat <<MSG

jobrelay is up on http://127.0.0.1:$port (mock analyzer on :$mock_port, jobs take ${MOCK_DURATION_MS:-15000} ms)

  curl -i -X POST http://127.0.0.1:$port/analyze -H 'Content-Type: application/json' -d '{"document":"report.pdf"}'
  curl -i http://127.0.0.1:$port/results/<id>
  scripts/smoke.sh http://127.0.0.1:$port     # the whole walk-through

Browser demo: http://127.0.0.1:$mock_port/web/demo.html?api=http://127.0.0.1:$port

Ctrl-C stops both.
MSG
wait -n "${pids[@]}"
