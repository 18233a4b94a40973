# Sourced by the shell-driven tests (tests/browser, tests/lb).
#
# address_from_log PID LOG_FILE PREFIX: waits (up to 10 s, or until PID exits)
# for the start-up line "PREFIX127.0.0.1:PORT" and prints the address. The
# programs bind port 0 and log the port they got, so no port is ever guessed.
address_from_log() {
  local pid=$1 file=$2 prefix=$3 addr
  for _ in $(seq 1 200); do
    addr=$(grep -o "${prefix}127\.0\.0\.1:[0-9]*" "$file" 2>/dev/null | head -n 1 | sed "s/^${prefix}//") || true
    if [[ -n $addr ]]; then echo "$addr"; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$(basename "$0" .sh): no '${prefix}ADDRESS' line from pid $pid; its log:" >&2
  cat "$file" >&2
  return 1
}
