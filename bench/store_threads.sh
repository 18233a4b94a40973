#!/usr/bin/env bash
# How the in-memory store's reads scale with threads (bench/README.md, "The
# store's locks"): builds bench/src/store_threads.cpp (Release) and runs it
# with 1 thread, then one per core, ROUNDS times alternating. Compare the
# per-thread figures inside one run.
#   bench/store_threads.sh [ROUNDS=3]    SECONDS_EACH (2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
dir=$("$root/scripts/build.sh" Release | tail -n 1)
cmake --build "$dir" --target jobrelay-bench-store-threads >/dev/null
cores=$(nproc)
for ((i = 0; i < rounds; ++i)); do
  "$dir/jobrelay-bench-store-threads" 1 "${SECONDS_EACH:-2}"
  "$dir/jobrelay-bench-store-threads" "$cores" "${SECONDS_EACH:-2}"
done
