#!/usr/bin/env bash
# How what every I/O thread touches per request scales with threads
# (bench/README.md, "The store's locks" and "I/O threads"): builds
# bench/src/store_threads.cpp (the in-memory store's reads) and
# bench/src/metrics_threads.cpp (the request metrics' updates), Release, and
# runs each with 1 thread, then one per core, ROUNDS times alternating.
# Compare the per-thread figures inside one run.
#   bench/store_threads.sh [ROUNDS=3]    SECONDS_EACH (2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
dir=$("$root/scripts/build.sh" Release | tail -n 1)
cmake --build "$dir" --target jobrelay-bench-store-threads jobrelay-bench-metrics-threads >/dev/null
cores=$(nproc)
for ((i = 0; i < rounds; ++i)); do
  for program in store-threads metrics-threads; do
    "$dir/jobrelay-bench-$program" 1 "${SECONDS_EACH:-2}"
    "$dir/jobrelay-bench-$program" "$cores" "${SECONDS_EACH:-2}"
  done
done
