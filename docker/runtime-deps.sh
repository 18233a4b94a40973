#!/bin/bash
# Prints the Debian packages whose shared libraries the given binaries load
# (ldd, then dpkg -S), one per line, sorted. Used by docker/Dockerfile to check
# that the runtime stage installs everything the binaries need.
#   runtime-deps.sh BINARY...
set -euo pipefail
for bin in "$@"; do
  out=$(ldd "$bin")
  if grep -q 'not found' <<<"$out"; then
    echo "runtime-deps.sh: $bin: $(grep 'not found' <<<"$out")" >&2
    exit 1
  fi
  # "libx.so.1 => /path (0x...)" and the loader's "/lib64/ld-linux-x86-64.so.2 (0x...)"
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
done | sort -u | while read -r lib; do
  # dpkg knows a file by the path its package ships, which with merged /usr may
  # be the /lib or the /usr/lib spelling; try the path as given, then the other
  # spelling, then the resolved path.
  real=$(readlink -f "$lib")
  for candidate in "$lib" "${lib#/usr}" "/usr$lib" "$real" "${real#/usr}" "/usr$real"; do
    if owner=$(dpkg-query -S "$candidate" 2>/dev/null); then
      echo "${owner%%: *}" | tr ',' '\n' | sed 's/^ *//; s/:.*//'
      continue 2
    fi
  done
  echo "runtime-deps.sh: no package owns $lib" >&2
  exit 1
done | sort -u
