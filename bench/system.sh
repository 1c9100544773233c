#!/usr/bin/env bash
# Whole-system benchmarks (not tests): the real porthole-server (device API,
# relay, operator API), a real porthole-agent in spawned_sshd mode and the
# operator's `porthole connect`, on 127.0.0.1, set up as scripts/demo does.
# Called by bench/run (which puts these figures beside OpenSSH's and RAC's);
# runs alone too:
#
#   sudo bench/system.sh
#
# 1. session open -> tunnel ready: `porthole session open` until the agent
#    logs "tunnel up" (agent log timestamps, ms), SYS_OPEN_RUNS times, with
#    the agent as it ships (long polls, [porthole] long_poll_wait 25 s) and
#    with long polls off (long_poll_wait = "0s": RAC's behaviour, a GET
#    every poll_timeout = 3 s, RAC's default). Also `porthole connect
#    --close -- true` from nothing to the command's end, porthole's agent.
# 2. Session closed -> cut: a live shell through `porthole connect`; the
#    session is closed; time until the operator's ssh has exited and until
#    the agent logs "session: ended". SYS_CUT_RUNS runs.
# 3. Bulk through the whole path (operator ssh -> porthole-server's relay ->
#    agent tunnel -> `sshd -i`): SYS_BULK_MIB MiB of zeros up (`cat >
#    /dev/null`) and down (`head -c`), whole `porthole connect` command
#    timed (session reused), SYS_BULK_RUNS runs, median.
# 4. Interactive round trip: one byte at a time through `cat` on the device
#    via `porthole connect`, p50/p99 over SYS_RTT_N echoes.
# 5. Device API polls/s: porthole-bench-httpd-load with SYS_POLL_CLIENTS
#    keep-alive mTLS clients (the device's certificate) polling GET
#    /ras/sessions of the real server in a closed loop for SYS_POLL_SECS s.
#
# Prints KEY=VALUE lines on stdout (bench/run parses them) and a short
# summary on stderr. Environment: PORTHOLE_BUILD (build/),
# PORTHOLE_BENCH_HTTPD_LOAD, SYS_OPEN_RUNS (5) SYS_CUT_RUNS (3)
# SYS_BULK_MIB (128) SYS_BULK_RUNS (3) SYS_RTT_N (1000) SYS_POLL_CLIENTS
# (200) SYS_POLL_SECS (5).
# Runs as root (a root agent, a login user); everything is removed at exit.
# shellcheck disable=SC2317 # functions called through wait_for / at_exit
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench/system.sh: must run as root; try: sudo $0" >&2; exit 1; }
build=${PORTHOLE_BUILD:-$top/build}
SERVER=$build/src/server/porthole-server
AGENT=$build/src/agent/porthole-agent
LOAD=${PORTHOLE_BENCH_HTTPD_LOAD:-$build/bench/porthole-bench-httpd-load}
export PORTHOLE_BIN=$build/src/cli/porthole
for b in "$SERVER" "$AGENT" "$PORTHOLE_BIN" "$LOAD"; do
  [ -x "$b" ] || { echo "bench/system.sh: $b missing: build first (scripts/setup)" >&2; exit 1; }
done
OPEN_RUNS=${SYS_OPEN_RUNS:-5}
CUT_RUNS=${SYS_CUT_RUNS:-3}
BULK_MIB=${SYS_BULK_MIB:-128}
BULK_RUNS=${SYS_BULK_RUNS:-3}
RTT_N=${SYS_RTT_N:-1000}
POLL_CLIENTS=${SYS_POLL_CLIENTS:-200}
POLL_SECS=${SYS_POLL_SECS:-5}
for v in OPEN_RUNS CUT_RUNS BULK_MIB BULK_RUNS RTT_N POLL_CLIENTS POLL_SECS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench/system.sh: SYS_$v=${!v}: want a positive integer" >&2; exit 1; }
done

source "$top/tests/e2e/lib.sh"
require_porthole
E2E_NAME=bench/system
trace() { [ "${BENCH_VERBOSE:-}" != 1 ] || printf '%s: %s\n' "$E2E_NAME" "$*" >&2; }
say() { printf '%s: %s\n' "$E2E_NAME" "$*" >&2; }
put() { printf '%s=%s\n' "$1" "$2"; }
# wait_line FILE REGEX SECS PID FROM_BYTE: lib.sh's log_wait.
wait_line() { log_wait "$1" "$2" "$3" "$5" "$4"; }
stop_tree() {
  local pid=$1 procs p
  mapfile -t procs < <(_descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${procs[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
now_ns() { date +%s%N; }
log_ns() { date -d "${1%% *}" +%s%N; }  # the timestamp of an agent log line

# ---- the system, as scripts/demo sets it up ----
dev_port=$(free_port) op_port=$(free_port) relay_port=$(free_port)
"$SERVER" --data-dir "$WORK/server" init --hostname 127.0.0.1 >"$WORK/init.out"
token=$(grep -o 'pht_[A-Za-z0-9_-]*' "$WORK/init.out" | head -1)
pin=$(grep -o 'ca-sha256 [0-9a-f]*' "$WORK/init.out" | head -1 | cut -d' ' -f2)
cat >>"$WORK/server/server.toml" <<EOF
[device_api]
listen = "127.0.0.1"
port = $dev_port
[operator_api]
listen = "127.0.0.1"
port = $op_port
[relay]
listen = "127.0.0.1"
port = $relay_port
EOF
"$SERVER" --data-dir "$WORK/server" run </dev/null >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
at_exit stop_tree "$SERVER_PID"
wait_line "$WORK/server.log" 'porthole-server: ready' 20 "$SERVER_PID" 0 >/dev/null ||
  fatal "the server did not start: $(tail -5 "$WORK/server.log")"
dev=$WORK/device
"$SERVER" --data-dir "$WORK/server" device add dev1 --out "$WORK/bundle" --device-dir "$dev/etc" >/dev/null
install -d -m 755 "$dev" "$dev/state" "$dev/run"
install -d -m 700 "$dev/etc"
cp -p "$WORK/bundle/"* "$dev/etc/"
sed -i "s|\"/var/lib/porthole/|\"$dev/state/|; s|\"/run/porthole\"|\"$dev/run\"|" "$dev/etc/agent.toml"
# RAC's behaviour: no long polls, a GET every poll_timeout (3 s).
cp "$dev/etc/agent.toml" "$dev/etc/agent-rac.toml"
printf '\n[porthole]\nlong_poll_wait = "0s"\n' >>"$dev/etc/agent-rac.toml"

AGENT_LOG=$WORK/agent.log
AGENT_PID=
start_agent() {  # start_agent CONFIG
  local mark
  mark=$(stat -c %s "$AGENT_LOG" 2>/dev/null || echo 0)
  unshare -m --propagation private sh -c 'mount -t tmpfs -o mode=755 none /run && exec "$@"' sh \
    "$AGENT" --config "$1" </dev/null >>"$AGENT_LOG" 2>&1 &
  AGENT_PID=$!
  wait_line "$AGENT_LOG" 'host keys: .* sent|polling .* every' 20 "$AGENT_PID" "$mark" >/dev/null ||
    fatal "the agent did not start: $(tail -5 "$AGENT_LOG")"
  # Until its first GET sessions is answered the agent is not yet idle.
  sleep 1
}
stop_agent() { [ -z "$AGENT_PID" ] || stop_tree "$AGENT_PID"; AGENT_PID=; }
at_exit stop_agent
start_agent "$dev/etc/agent.toml"

export HOME=$WORK/operator
unset XDG_CONFIG_HOME
install -d -m 700 "$HOME" "$HOME/.ssh"
ssh-keygen -q -t ed25519 -N '' -C bench@system -f "$HOME/.ssh/id_ed25519"
printf '%s\n' "$token" >"$WORK/token"
"$PORTHOLE" login "https://127.0.0.1:$op_port" --ca-sha256 "$pin" --token-file "$WORK/token" >/dev/null
"$PORTHOLE" policy allow-key "$HOME/.ssh/id_ed25519.pub" >/dev/null
U=bs$UNIQ
make_user "$U"
# The device's host key is learnt on first connect (accept-new); warm up.
"$PORTHOLE" connect "$U@dev1" --close -- true >/dev/null 2>&1 || fatal "first connect failed"

session_id() {
  "$PORTHOLE" session list --json |
    python3 -c 'import json,sys; print(next((s["id"] for s in json.load(sys.stdin)["sessions"] if s["device_name"] == "dev1"), ""))'
}
# close_all: closes dev1's session if it has one, and waits for the agent
# to end its tunnel.
close_all() {
  local id mark
  id=$(session_id)
  [ -n "$id" ] || return 0
  mark=$(stat -c %s "$AGENT_LOG")
  "$PORTHOLE" session close "$id" >/dev/null
  wait_line "$AGENT_LOG" 'session: ended' 15 "$AGENT_PID" "$mark" >/dev/null ||
    fatal "the agent did not end session $id"
}

# ---- 1. session open -> tunnel ready ----
open_runs() {  # open_runs KEY
  local i mark t0 line id
  for ((i = 0; i < OPEN_RUNS; i++)); do
    close_all
    sleep 0.$((RANDOM % 10))  # not in step with the agent's poll
    mark=$(stat -c %s "$AGENT_LOG")
    t0=$(now_ns)
    "$PORTHOLE" session open dev1 --key "$HOME/.ssh/id_ed25519.pub" >/dev/null
    line=$(wait_line "$AGENT_LOG" 'session: tunnel up' 30 "$AGENT_PID" "$mark") ||
      fatal "$1: no tunnel within 30 s: $(tail -5 "$AGENT_LOG")"
    put "$1" $((($(log_ns "$line") - t0) / 1000000))
  done
  close_all
}
say "session open -> tunnel up, $OPEN_RUNS runs each: porthole agent, then long polls off (RAC)"
open_runs open_ms
stop_agent
start_agent "$dev/etc/agent-rac.toml"
open_runs open_rac_ms
stop_agent
start_agent "$dev/etc/agent.toml"

say "porthole connect --close -- true, from nothing, $OPEN_RUNS runs"
for ((i = 0; i < OPEN_RUNS; i++)); do
  t0=$(now_ns)
  "$PORTHOLE" connect "$U@dev1" --close -- true >/dev/null 2>"$WORK/connect.err" ||
    fatal "connect: $(cat "$WORK/connect.err")"
  put connect_ms $((($(now_ns) - t0) / 1000000))
done

# ---- 2. session closed -> cut ----
say "session closed -> operator and agent cut, $CUT_RUNS runs"
for ((i = 0; i < CUT_RUNS; i++)); do
  : >"$WORK/live.out"
  "$PORTHOLE" connect "$U@dev1" -- 'echo up; exec sleep 300' </dev/null >"$WORK/live.out" 2>&1 &
  live=$!
  live_up() { grep -q up "$WORK/live.out" 2>/dev/null; }
  wait_for 30 live_up || fatal "live shell: $(cat "$WORK/live.out")"
  id=$(session_id)
  mark=$(stat -c %s "$AGENT_LOG")
  t0=$(now_ns)
  "$PORTHOLE" session close "$id" >/dev/null
  timeout 20 tail -s 0.01 --pid="$live" -f /dev/null || fatal "the operator's shell survived the close"
  put cut_op_ms $((($(now_ns) - t0) / 1000000))
  wait "$live" 2>/dev/null || true
  line=$(wait_line "$AGENT_LOG" 'session: ended' 20 "$AGENT_PID" "$mark") || fatal "the agent's tunnel survived"
  put cut_dev_ms $((($(log_ns "$line") - t0) / 1000000))
done

# ---- 3. bulk ----
say "bulk: $BULK_MIB MiB up and down, $BULK_RUNS runs"
bytes=$((BULK_MIB * 1024 * 1024))
"$PORTHOLE" connect "$U@dev1" -- true >/dev/null 2>&1 || fatal "connect before bulk"
for ((i = 0; i < BULK_RUNS; i++)); do
  t0=$(now_ns)
  head -c "$bytes" /dev/zero | "$PORTHOLE" connect "$U@dev1" -- 'cat > /dev/null' 2>"$WORK/bulk.err" ||
    fatal "bulk up: $(cat "$WORK/bulk.err")"
  put bulk_up_s "$(python3 -c "print('%.3f' % (($(now_ns) - $t0) / 1e9))")"
  t0=$(now_ns)
  n=$("$PORTHOLE" connect "$U@dev1" -- "head -c $bytes /dev/zero" 2>"$WORK/bulk.err" | wc -c)
  [ "$n" = "$bytes" ] || fatal "bulk down: $n bytes of $bytes: $(cat "$WORK/bulk.err")"
  put bulk_down_s "$(python3 -c "print('%.3f' % (($(now_ns) - $t0) / 1e9))")"
done
put bulk_bytes "$bytes"

# ---- 4. round trip ----
say "round trip: $RTT_N one-byte echoes"
r=$(timeout 300 python3 "$top/bench/rtt.py" "$RTT_N" "$PORTHOLE" connect "$U@dev1" -- 'exec cat' 2>"$WORK/rtt.err") ||
  fatal "round trip: $(tail -3 "$WORK/rtt.err")"
put rtt_us "$r"
close_all

# ---- 5. device API polls/s ----
say "device API: $POLL_CLIENTS mTLS clients polling GET /ras/sessions for $POLL_SECS s"
"$LOAD" --port "$dev_port" --server-pid "$SERVER_PID" --ca "$dev/etc/root.crt" \
  --cert "$dev/etc/client.pem" --key "$dev/etc/pkey.pem" --clients "$POLL_CLIENTS" \
  --seconds "$POLL_SECS" --no-heap-signal >"$WORK/load.out" 2>"$WORK/load.err" ||
  fatal "porthole-bench-httpd-load: $(tail -3 "$WORK/load.err")"
sed 's/^/poll_/' "$WORK/load.out"
pass 2>/dev/null
