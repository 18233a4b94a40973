#!/usr/bin/env bash
# Builds the tests with sanitizers into build/<name> and runs the unit and
# integration suites there (not the browser and load-balancer tests).
#   scripts/sanitize.sh            AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/sanitize.sh thread     ThreadSanitizer
# Slow (a full build, then the suites at a fraction of their speed): run it
# after changes to coroutines, lifetimes or threading, not on every commit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-address,undefined}
dir="$root/build/sanitize-${kind//,/-}"
cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOBRELAY_SANITIZE="$kind" >/dev/null
cmake --build "$dir" -j "$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan-suppressions.txt}
cd "$dir"
ctest --output-on-failure -j "$(nproc)" -L 'unit|integration' --timeout 300
