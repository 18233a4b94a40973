#!/usr/bin/env bash
# Installs what is missing, builds, runs every test (ctest). Non-zero on any failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --test
dir=$("$root/scripts/build.sh" RelWithDebInfo | tail -n 1)
cd "$dir"
ctest --output-on-failure -j "$(nproc)" --timeout 180
