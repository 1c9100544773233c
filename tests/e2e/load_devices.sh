#!/usr/bin/env bash
# load_devices: the short run of bench/load_devices.sh inside ctest:
# LOAD_DEVICES (250; adding 1,000 devices alone takes about 2 minutes, so
# the 1,000-device run is bench/load_devices.sh) simulated RAC-format devices, each with its own client
# certificate and keep-alive mutual-TLS connection, polling the real
# porthole-server (sessions + commands every 3 s) for LOAD_SECS (30) s.
# Asserts: no error at all (every poll answered 404/200, no connection
# lost), the expected number of polls (>= 80% of devices x 2 x secs /
# period), and the server's RSS at the end within 16 MiB + 10% of its RSS
# once every device had connected (memory flat). The 5-minute run is
# `bench/load_devices.sh` (figures in docs/BENCHMARKS.md).
#
#   PORTHOLE_SERVER_BIN=... bash tests/e2e/load_devices.sh
source "$(dirname "$0")/lib.sh"
_require_exe PORTHOLE_SERVER_BIN "porthole-server binary, e.g. build/src/server/porthole-server"
require_cmd ip openssl
BENCH=$(cd "$(dirname "$0")/../../bench" && pwd)
N=${LOAD_DEVICES:-250}
SECS=${LOAD_SECS:-30}

rc=0
LOAD_DEVICES=$N LOAD_SECS=$SECS LOAD_PERIOD=3 timeout 600 bash "$BENCH/load_devices.sh" \
  >"$WORK/figures" 2>"$WORK/load.err" || rc=$?
trace "figures: $(tr '\n' ' ' <"$WORK/figures")"
((rc == 0)) || fail "bench/load_devices.sh exited $rc: $(tail -8 "$WORK/load.err")"
fig() { sed -n "s/^$1=//p" "$WORK/figures"; }
[ "$(fig errors)" = 0 ] || fail "errors=$(fig errors): $(grep '^error:' "$WORK/load.err" | head -5)"
[ "$(fig devices)" = "$N" ] || fail "devices=$(fig devices), want $N"
want=$((N * 2 * SECS / 3 * 8 / 10))
(($(fig polls) >= want)) || fail "polls=$(fig polls), want >= $want"
start=$(fig rss_start_kb) end=$(fig rss_end_kb)
((start > 0)) || fail "no RSS figure"
((end <= start + start / 10 + 16384)) || fail "server RSS grew from $start KiB to $end KiB"
pass
