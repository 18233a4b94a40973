#!/bin/bash
# The image's HEALTHCHECK: GET /healthz (or PATH) over bash's /dev/tcp, so the
# image needs neither curl nor wget. Exits 0 on a 200 within 3 s.
#   jobrelay-healthcheck [PORT [PATH]]
# PORT defaults to the port of JOBRELAY_SERVER__LISTEN (8080).
set -u
listen=${JOBRELAY_SERVER__LISTEN:-0.0.0.0:8080}
port=${1:-${listen##*:}}
path=${2:-/healthz}
host=${listen%:*}
host=${host#[}; host=${host%]}
# A wildcard or name: ask over loopback (a [::] listener takes IPv4 too).
case "$host" in "" | 0.0.0.0 | :: | localhost) host=127.0.0.1 ;; esac
[[ -n ${1:-} ]] && host=127.0.0.1

exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$path" "$host" "$port" >&3
read -r -t 3 _ code _ <&3 || exit 1
[[ $code == 200 ]]
