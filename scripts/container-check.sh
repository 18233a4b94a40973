#!/usr/bin/env bash
# Builds docker/Dockerfile with podman (no Docker daemon, no registry) and
# checks the image by running its own binaries with buildah:
#   - the non-root user, the HEALTHCHECK, ENTRYPOINT/CMD and the ENV it sets;
#   - every JOBRELAY_* name in docker/compose.yaml is one `jobrelay --help` lists;
#   - the mock analyzer and jobrelay (started as the image starts it) on free
#     loopback ports: /healthz, POST /analyze -> 202 + Location, the job polled
#     to 200, the running jobrelay's uid, a clean exit on SIGTERM.
# When docker.io/library/debian:bookworm-slim is not in podman's store, it is
# made with debootstrap from the Debian mirror apt already uses here.
# Installs podman, buildah, debootstrap, curl and iproute2 when missing (sudo
# when not root; the podman/buildah steps themselves need root).
#   IMAGE (localhost/jobrelay:dev)  JOBS (2, build parallelism)
#   CHECK_TIMEOUT_S (60, for the job to finish)
# shellcheck disable=SC2015  # pass and fail always succeed: `A && pass || fail` is if/else here
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

image=${IMAGE:-localhost/jobrelay:dev}
base=docker.io/library/debian:bookworm-slim
jobs=${JOBS:-2}
started=$SECONDS

# --- tools -------------------------------------------------------------------
packages=(podman buildah debootstrap curl ca-certificates iproute2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
podman=("${sudo[@]}" podman)
buildah=("${sudo[@]}" buildah)

tmp=$(mktemp -d)
bg_pids=()       # the `buildah run` processes started here
svc_pids=()      # the services they run, as host pids
containers=()
cleanup() {
  local pid
  for pid in "${svc_pids[@]}" "${bg_pids[@]}"; do "${sudo[@]}" kill "$pid" 2>/dev/null || true; done
  for pid in "${bg_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ ${#containers[@]} -eq 0 ]] || "${buildah[@]}" rm "${containers[@]}" >/dev/null 2>&1 || true
  "${sudo[@]}" rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

results=()
failed=0
pass() { results+=("PASS  $1"); echo "PASS: $1"; }
fail() { results+=("FAIL  $1"); echo "FAIL: $1" >&2; failed=1; }
warn() { results+=("WARN  $1"); echo "WARN: $1" >&2; }
summary() {
  echo
  echo "== container check: $image =="
  printf '  %s\n' "${results[@]}"
  printf '  timings: %s\n' "${timings[*]}"
  if [[ $failed -eq 0 ]]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
}
timings=()
phase_start=$SECONDS
phase() { timings+=("$1 $((SECONDS - phase_start))s"); phase_start=$SECONDS; }
die() { fail "$1"; summary; exit 1; }
phase tools

# --- the base image ------------------------------------------------------------
# The Debian mirror (and security mirror) of the apt sources configured here:
# deb822 *.sources stanzas first, then one-line sources.list entries.
apt_uri() {  # apt_uri SUITE -> the first URI that serves SUITE
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v want="$suite" '
      function flush() {
        if (uri != "" && deb && enabled) { n = split(suites, s, " "); for (i = 1; i <= n; i++) if (s[i] == want) { print uri; found = 1; exit } }
        uri = ""; suites = ""; deb = 0; enabled = 1
      }
      BEGIN { enabled = 1 }
      /^[ \t]*$/ { flush(); next }
      /^#/ { next }
      tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { suites = ""; for (i = 2; i <= NF; i++) suites = suites " " $i }
      tolower($1) == "enabled:" && tolower($2) == "no" { enabled = 0 }
      END { if (!found) flush() }' "$f"
  done | head -n1 | grep . && return 0
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    # deb [options] URI SUITE COMPONENT...
    sed -E 's/\[[^]]*\]//' "$f" | awk -v want="$suite" '$1 == "deb" && $3 == want { print $2; exit }'
  done | head -n1 | grep .
}

if "${podman[@]}" image exists "$base"; then
  echo "base image $base: present"
else
  mirror=$(apt_uri bookworm) || die "no Debian bookworm mirror in /etc/apt/sources.list{,.d/*.sources}"
  security=$(apt_uri bookworm-security || true)
  echo "making $base with debootstrap from $mirror" >&2
  rootfs="$tmp/rootfs"
  "${sudo[@]}" debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$tmp/debootstrap.log" 2>&1 \
    || { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap from $mirror"; }
  # Shaped like the official slim image: deb822 sources with -updates and
  # -security, no documentation, man pages or translations, no cached packages.
  {
    printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror"
    [[ -z $security ]] || printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security"
  } | "${sudo[@]}" tee "$rootfs/etc/apt/sources.list.d/debian.sources" >/dev/null
  "${sudo[@]}" rm -f "$rootfs/etc/apt/sources.list"
  "${sudo[@]}" tee "$rootfs/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
CFG
  "${sudo[@]}" find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  "${sudo[@]}" rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian/overrides,locale,man}/* \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
  "${sudo[@]}" tar -C "$rootfs" --numeric-owner -cf - . \
    | "${podman[@]}" import --message "debootstrap --variant=minbase bookworm $mirror" \
        --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$base" >/dev/null || die "podman import $base"
  "${sudo[@]}" rm -rf "$rootfs"
  echo "base image $base: made"
fi
phase base-image

# --- build -------------------------------------------------------------------
# docker format keeps HEALTHCHECK (OCI image configs have no such field).
if "${podman[@]}" build --isolation chroot --format docker --pull=never --build-arg "JOBS=$jobs" \
     -f docker/Dockerfile -t "$image" . > "$tmp/build.log" 2>&1; then
  pass "podman build -f docker/Dockerfile -t $image"
  grep -i 'the binaries load libraries of' "$tmp/build.log" | tail -n1 || true
else
  tail -n 40 "$tmp/build.log" >&2
  die "podman build (log above)"
fi
phase build

size=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
echo "image size: $size bytes ($((size / 1000000)) MB)"

# --- the image's configuration --------------------------------------------------
config_of() { "${podman[@]}" image inspect --format "$1" "$image"; }
read -ra entry <<<"$(config_of '{{range .Config.Entrypoint}}{{.}} {{end}}{{range .Config.Cmd}}{{.}} {{end}}')"
[[ "${entry[*]}" == "/usr/local/bin/jobrelay --config /etc/jobrelay/jobrelay.json" ]] \
  && pass "ENTRYPOINT + CMD: ${entry[*]}" || fail "ENTRYPOINT + CMD: '${entry[*]}'"
user=$(config_of '{{.Config.User}}')
[[ -n $user && ${user%%:*} != 0 && ${user%%:*} != root ]] && pass "USER $user" || fail "USER '$user'"
health=$(config_of '{{if .Config.Healthcheck}}{{range .Config.Healthcheck.Test}}{{.}} {{end}}{{end}}')
[[ $health == *jobrelay-healthcheck* ]] && pass "HEALTHCHECK: $health" || fail "HEALTHCHECK: '$health'"
config_of '{{range .Config.Env}}{{println .}}{{end}}' | grep -qx 'JOBRELAY_SERVER__LISTEN=0.0.0.0:8080' \
  && pass "ENV JOBRELAY_SERVER__LISTEN=0.0.0.0:8080" || fail "ENV JOBRELAY_SERVER__LISTEN"
[[ $(config_of '{{.Config.StopSignal}}') == SIGTERM ]] && pass "STOPSIGNAL SIGTERM" || fail "STOPSIGNAL"

ctr=$("${buildah[@]}" from --pull=never --isolation chroot "$image")
containers+=("$ctr")
run() { "${buildah[@]}" run --isolation chroot --network host "$@"; }

uid=$(run "$ctr" -- id -u || true)
[[ $uid =~ ^[0-9]+$ && $uid -ne 0 ]] && pass "buildah run: id -u = $uid ($(run "$ctr" -- id -un))" \
  || fail "buildah run: id -u = '$uid'"

if help=$(run "$ctr" -- /usr/local/bin/jobrelay --help); then
  pass "jobrelay --help"
else
  fail "jobrelay --help"
fi
# Unknown JOBRELAY_* names stop start-up, so compose must use only listed ones.
grep -oE '\bJOBRELAY_[A-Z0-9_]+' docker/compose.yaml | sort -u > "$tmp/compose-names"
while read -r name; do
  if grep -qw -- "$name" <<<"$help"; then
    pass "compose.yaml: $name is a jobrelay key"
  else
    fail "compose.yaml sets $name, which this jobrelay's --help does not list: it would refuse to start"
  fi
done < "$tmp/compose-names"
phase config

# --- run the services ---------------------------------------------------------------
# Port 0: each picks a free loopback port and logs it.
wait_for_port() {  # wait_for_port LOG PATTERN -> host:port
  local addr
  for _ in $(seq 1 100); do
    addr=$(sed -nE "s/.*$2 (127\.0\.0\.1:[0-9]+).*/\1/p" "$1" | head -n1)
    [[ -n $addr ]] && { echo "$addr"; return 0; }
    sleep 0.1
  done
  return 1
}
pid_on_port() {  # the host pid listening on PORT
  "${sudo[@]}" ss -Hltnp "sport = :$1" | sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -n1
}

mock_ctr=$("${buildah[@]}" from --pull=never --isolation chroot "$image")
containers+=("$mock_ctr")
run "$mock_ctr" -- /usr/local/bin/jobrelay-mock-analyzer --listen 127.0.0.1:0 --duration-ms 2000 \
  --static /usr/local/share/jobrelay/web > "$tmp/mock.log" 2>&1 &
bg_pids+=($!)
mock_addr=$(wait_for_port "$tmp/mock.log" "mock analyzer on") || { cat "$tmp/mock.log" >&2; die "mock analyzer did not start"; }
svc_pids+=("$(pid_on_port "${mock_addr##*:}")")
pass "mock analyzer listening on $mock_addr"
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://$mock_addr/web/demo.html" || true)
[[ $code == 200 ]] && pass "mock serves the demo page (GET /web/demo.html -> 200)" || fail "GET /web/demo.html -> $code"

# As the image starts it (ENTRYPOINT + CMD), configured by environment alone.
run --env JOBRELAY_SERVER__LISTEN=127.0.0.1:0 --env "JOBRELAY_UPSTREAM__BASE_URL=http://$mock_addr" \
  "$ctr" -- "${entry[@]}" > "$tmp/jobrelay.log" 2>&1 &
bg_pids+=($!)
relay_addr=$(wait_for_port "$tmp/jobrelay.log" "jobrelay listening on") || { cat "$tmp/jobrelay.log" >&2; die "jobrelay did not start"; }
relay_port=${relay_addr##*:}
relay_pid=$(pid_on_port "$relay_port")
svc_pids+=("$relay_pid")
pass "jobrelay listening on $relay_addr (pid $relay_pid)"
base_url="http://$relay_addr"

code=$(curl -sS -o /dev/null -w '%{http_code}' "$base_url/healthz" || true)
[[ $code == 200 ]] && pass "GET /healthz -> 200" || fail "GET /healthz -> $code"

# The HEALTHCHECK's own command, inside the image (with the port given, since
# this jobrelay does not listen on the image's 8080).
run "$ctr" -- /usr/local/bin/jobrelay-healthcheck "$relay_port" \
  && pass "jobrelay-healthcheck $relay_port -> healthy" || fail "jobrelay-healthcheck $relay_port"
run "$ctr" -- /usr/local/bin/jobrelay-healthcheck "${mock_addr##*:}" 2>/dev/null \
  && fail "jobrelay-healthcheck on the mock's port (no /healthz) said healthy" \
  || pass "jobrelay-healthcheck on a port without /healthz -> unhealthy"
# compose.yaml's health check of the mock.
run "$mock_ctr" -- /usr/local/bin/jobrelay-healthcheck "${mock_addr##*:}" /stats \
  && pass "jobrelay-healthcheck ${mock_addr##*:} /stats (the mock's) -> healthy" \
  || fail "jobrelay-healthcheck ${mock_addr##*:} /stats"

# The process's owner, seen from the host.
proc_uid=$(awk '/^Uid:/ { print $2 }' "/proc/$relay_pid/status" 2>/dev/null || true)
proc_name=$(cat "/proc/$relay_pid/comm" 2>/dev/null || true)
[[ $proc_name == jobrelay && $proc_uid =~ ^[0-9]+$ && $proc_uid -ne 0 ]] \
  && pass "running jobrelay (host pid $relay_pid) has uid $proc_uid" \
  || fail "running process on :$relay_port is '$proc_name' with uid '$proc_uid'"

# A job, submitted and polled to its end.
code=$(curl -sS -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -X POST "$base_url/analyze" \
  -H 'Content-Type: application/json' -d '{"document":"x"}' || true)
location=$(grep -i '^location:' "$tmp/headers" | head -n1 | cut -d' ' -f2- | tr -d '\r' || true)
id=$(sed -nE 's/.*"id":"([^"]+)".*/\1/p' "$tmp/body")
if [[ $code == 202 && -n $location && -n $id ]]; then
  pass "POST /analyze -> 202, Location: $location"
  deadline=$((SECONDS + ${CHECK_TIMEOUT_S:-60}))
  polls=0
  while :; do
    code=$(curl -sS -o "$tmp/body" -w '%{http_code}' "$base_url/results/$id" || true)
    polls=$((polls + 1))
    [[ $code == 202 && $SECONDS -lt $deadline ]] || break
    sleep 0.5
  done
  [[ $code == 200 ]] && grep -q '"status":"succeeded"' "$tmp/body" \
    && pass "GET /results/$id -> 200 succeeded after $polls polls" \
    || fail "GET /results/$id -> $code: $(head -c 300 "$tmp/body")"
else
  fail "POST /analyze -> $code, Location '$location': $(head -c 300 "$tmp/body")"
fi

# STOPSIGNAL: SIGTERM drains and exits 0.
relay_bg=${bg_pids[-1]}
"${sudo[@]}" kill -TERM "$relay_pid"
stopped=1
for _ in $(seq 1 150); do
  kill -0 "$relay_pid" 2>/dev/null || { stopped=0; break; }
  sleep 0.1
done
if [[ $stopped -eq 0 ]]; then
  rc=0; wait "$relay_bg" || rc=$?
  [[ $rc -eq 0 ]] && grep -q 'stopped' "$tmp/jobrelay.log" \
    && pass "SIGTERM: jobrelay drained and exited 0" || fail "SIGTERM: exit status $rc"
else
  fail "SIGTERM: jobrelay still running after 15 s"
fi
phase run
timings+=("total $((SECONDS - started))s")

summary
[[ $failed -eq 0 ]]
