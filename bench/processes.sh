# shellcheck shell=bash
# Sourced by bench/run.sh, soak.sh and redis.sh: every process a script starts is
# put in `pids` and stopped by PID, never by name (a name pattern once
# stopped the wrong servers and voided a comparison). Needs `log` defined.
pids=()
alive() { [[ -e /proc/$1 ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
stop_pid() {  # TERM, then KILL after 15 s (jobrelay drains for up to server.drain_seconds, 10)
  local pid=$1 p keep=()
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && { log "pid $pid still running 15 s after SIGTERM: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  wait "$pid" 2>/dev/null || true
  for p in "${pids[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
cleanup() { local p; for p in "${pids[@]}"; do stop_pid "$p"; done; }

wait_up() {  # URL PID: up to 10 s for any answer, while PID lives
  for _ in $(seq 100); do
    alive "$2" || return 1
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  return 1
}

# "busy total" jiffies of the CPUs of a taskset list (0, 0,1, 0-3): summed,
# so busy/total is their average load.
cpu_jiffies() {
  awk -v list="$1" '
    BEGIN {
      n = split(list, parts, ",")
      for (i = 1; i <= n; i++)
        if (split(parts[i], r, "-") == 2) { for (c = r[1]; c <= r[2]; c++) want["cpu" c] = 1 }
        else want["cpu" parts[i]] = 1
    }
    $1 in want { t = 0; for (i = 2; i <= NF; i++) t += $i; busy += t - $5 - $6; total += t }
    END { print busy + 0, total + 0 }' /proc/stat
}
