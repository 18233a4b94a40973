#!/usr/bin/env bash
# Installs the Debian 12 packages jobrelay builds and tests with, only those
# that are missing. Uses sudo when not root. Nothing is downloaded at build time.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libboost1.81-all-dev          # Asio, Beast, URL (not Debian's default 1.74)
  nlohmann-json3-dev libspdlog-dev libhiredis-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev
  curl ca-certificates
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(redis-server
    chromium python3            # the browser test: headless Chromium driven over its DevTools pipe
    python3-yaml                # tests/openapi/check_openapi.py reads docs/openapi.yaml
    haproxy)                    # the LB test (tests/lb) runs docker/haproxy.cfg
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
