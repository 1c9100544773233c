#!/usr/bin/env bash
# 1,000 simulated devices polling one porthole-server (not a test; the
# short run in ctest is tests/e2e/load_devices.sh). Runs as root:
#
#   bench/load_devices.sh                       # 1000 devices, 300 s
#   LOAD_DEVICES=200 LOAD_SECS=30 bench/load_devices.sh
#
# A network namespace of its own (loopback only) holds a fresh
# porthole-server (init --hostname 127.0.0.1, default ports); LOAD_DEVICES
# devices are added with `porthole-server device add` (one bundle each),
# then bench/load_devices.py runs them for LOAD_SECS seconds, each polling
# GET /ras/sessions and GET /ras/commands every LOAD_PERIOD (3) seconds
# over its own keep-alive mutual-TLS connection, as an idle RAC does.
# Prints the client's KEY=VALUE figures (polls/s, errors, the server's RSS
# after all devices connected, peak and at the end, latency) plus
# add_seconds and server_cpu_s. Exit status: the client's (0: no errors).
#
# Environment: LOAD_DEVICES (1000), LOAD_SECS (300), LOAD_PERIOD (3),
# PORTHOLE_SERVER_BIN (build/src/server/porthole-server), LOAD_KEEP=1
# keeps the work dir.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
SERVER=$(readlink -f "${PORTHOLE_SERVER_BIN:-$top/build/src/server/porthole-server}")
N=${LOAD_DEVICES:-1000}
SECS=${LOAD_SECS:-300}
PERIOD=${LOAD_PERIOD:-3}
[ "$(id -u)" = 0 ] || { echo "load_devices.sh: must run as root (network namespace)" >&2; exit 2; }
[ -x "$SERVER" ] || { echo "load_devices.sh: no porthole-server at $SERVER" >&2; exit 2; }

WORK=$(mktemp -d /var/lib/porthole-load.XXXXXX)
NS=phload$$
SPID=
cleanup() {
  if [ -n "$SPID" ]; then
    kill "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  fi
  ip netns del "$NS" 2>/dev/null || true
  if [ "${LOAD_KEEP:-}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
"$SERVER" --data-dir "$WORK/server" init --hostname 127.0.0.1 >/dev/null
t0=$(date +%s%N)
mkdir "$WORK/devices"
# Eight at a time: each add is mostly waiting for fsync.
seq -w 1 "$N" | xargs -P 8 -I{} "$SERVER" --data-dir "$WORK/server" device add "load{}" \
  --out "$WORK/devices/load{}" >/dev/null || { echo "load_devices.sh: device add failed" >&2; exit 1; }
[ "$(ls "$WORK/devices" | wc -l)" = "$N" ] || { echo "load_devices.sh: not all $N devices were added" >&2; exit 1; }
add_ms=$((($(date +%s%N) - t0) / 1000000))
echo "load_devices.sh: $N devices added in $add_ms ms" >&2

# No RLIMIT_NOFILE surprise for the client either: 1000 sockets.
ulimit -n 65536 2>/dev/null || ulimit -n 4096
ip netns exec "$NS" env PORTHOLE_LOG=info "$SERVER" --data-dir "$WORK/server" run \
  </dev/null >"$WORK/server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do
  grep -q 'porthole-server: ready' "$WORK/server.log" 2>/dev/null && break
  kill -0 "$SPID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
grep -q 'porthole-server: ready' "$WORK/server.log" || { echo "server not ready" >&2; cat "$WORK/server.log" >&2; exit 1; }
cpu() { awk '{print $14 + $15}' "/proc/$SPID/stat"; }
cpu0=$(cpu)
rc=0
ip netns exec "$NS" python3 "$top/bench/load_devices.py" --url https://127.0.0.1:8443 \
  --ca "$WORK/server/tls/ca.pem" --devices "$WORK/devices" --seconds "$SECS" \
  --period "$PERIOD" --server-pid "$SPID" || rc=$?
echo "add_seconds=$(awk "BEGIN {printf \"%.1f\", $add_ms / 1000}")"
echo "server_cpu_s=$(awk "BEGIN {printf \"%.1f\", ($(cpu) - $cpu0) / $(getconf CLK_TCK)}")"
kill -0 "$SPID" 2>/dev/null || { echo "load_devices.sh: the server died" >&2; rc=1; }
if grep -E ' (error|critical) ' "$WORK/server.log" | head -5 | grep -q .; then
  echo "load_devices.sh: server errors:" >&2
  grep -E ' (error|critical) ' "$WORK/server.log" | head -5 >&2
fi
exit "$rc"
