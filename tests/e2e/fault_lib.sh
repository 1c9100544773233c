# shellcheck shell=bash
# Shared by the fault_*.sh scenarios (after lib.sh and agent_lib.sh, whose
# wait_log / wait_for / file_size helpers it uses): the real system split
# over two network namespaces this driver creates, joined by a veth pair.
#
#   SRV ns (192.0.2.1, "phs$UNIQ"): porthole-server (device API 8443, operator
#       API 8444, relay 2222, from server.toml) and the operator's porthole/ssh
#   DEV ns (192.0.2.2, "phd$UNIQ"): porthole-agent in spawned_sshd mode (root,
#       in a private mount namespace with its own tmpfs /run) and its sshd
#
# Faults are injected on the device's side of the link (vd in DEV):
#   link_cut / link_restore     an nftables table dropping every packet in
#                               and out of DEV (a blackhole: no RST, no
#                               "unreachable"; TCP only learns by timeouts)
#   link_loss PERCENT           nftables drop of PERCENT % of what DEV
#                               receives, spread evenly (numgen inc)
#   link_rate RATE              tc tbf on vd (e.g. 20mbit)
#   link_clear                  removes all of it
#
#   source lib.sh; source agent_lib.sh; source fault_lib.sh
#   fault_topology             namespaces and the link
#   server_init; server_start  data dir, admin token, server in SRV
#   device_add dev1            bundle; DEVICE_DIR/agent.toml rewritten to
#                              test paths (FAULT_AGENT_EXTRA: more [device])
#   device_agent_start dev1    the agent in DEV; its log DEVICE_LOG
#   operator_login             porthole login as the admin, HOME=$OP_HOME
#   ph ARGS...                 porthole in SRV as the operator (run: RC/OUT/ERR)
#
# Everything is stopped and removed by lib.sh's EXIT trap, also on failure.

require_porthole
require_cmd ip nft tc openssl
_require_exe PORTHOLE_SERVER_BIN "porthole-server binary, e.g. build/src/server/porthole-server"
SERVER_BIN=$(readlink -f "$PORTHOLE_SERVER_BIN")

SRV_NS=phs$UNIQ
DEV_NS=phd$UNIQ
SRV_IP=192.0.2.1
DEV_IP=192.0.2.2
SX=(ip netns exec "$SRV_NS")
DX=(ip netns exec "$DEV_NS")
DATA=$WORK/server
# The account operators log in as on the device (the agent's spawned sshd
# refuses root): made by fault_topology, removed at exit.
DEV_USER=phop$UNIQ
OP_HOME=$WORK/home
install -d -m 700 "$OP_HOME" "$OP_HOME/.ssh"
unset XDG_CONFIG_HOME XDG_CACHE_HOME

# fault_topology: the two namespaces and the veth pair between them.
fault_topology() {
  ip netns add "$SRV_NS" || fatal "ip netns add $SRV_NS failed"
  at_exit ip netns del "$SRV_NS"
  ip netns add "$DEV_NS" || fatal "ip netns add $DEV_NS failed"
  at_exit ip netns del "$DEV_NS"
  ip link add "vs$UNIQ" netns "$SRV_NS" type veth peer name "vd$UNIQ" netns "$DEV_NS" ||
    fatal "ip link add veth failed"
  ip -n "$SRV_NS" link set "vs$UNIQ" name vs
  ip -n "$DEV_NS" link set "vd$UNIQ" name vd
  ip -n "$SRV_NS" addr add "$SRV_IP/24" dev vs
  ip -n "$DEV_NS" addr add "$DEV_IP/24" dev vd
  local ns
  for ns in "$SRV_NS" "$DEV_NS"; do
    ip -n "$ns" link set lo up
  done
  ip -n "$SRV_NS" link set vs up
  ip -n "$DEV_NS" link set vd up
  make_user "$DEV_USER"
  # Commands of operator sessions without a pty outlive their sshd when a
  # tunnel drops (OpenSSH behaviour); end what is left before userdel.
  at_exit pkill -KILL -U "$DEV_USER"
  trace "namespaces $SRV_NS ($SRV_IP) and $DEV_NS ($DEV_IP)"
}

# ---- faults on the device's link ----

link_cut() {
  "${DX[@]}" nft -f - <<'EOF' || fatal "nft: could not install the cut"
table inet phcut {
  chain in { type filter hook input priority -10; policy drop; iifname "lo" accept; }
  chain out { type filter hook output priority -10; policy drop; oifname "lo" accept; }
}
EOF
}
link_restore() { "${DX[@]}" nft delete table inet phcut 2>/dev/null || true; }
# link_loss PERCENT: drops PERCENT % (a multiple of 10) of the packets the
# device receives on vd (the downlink): PERCENT/10 of every 10 in a row, so
# never more than that many in a row. Random loss would make the outcome
# luck: when TCP's retransmission timer backs off (0.2, 0.6, 1.4, 3.0,
# 6.2, 12.6 s), five lost retransmissions in a row (0.3^5, once in about
# 400 timeouts; a 3 MiB scp has a dozen) leave the device with nothing for
# 12.6 s, past the default link timeout, exactly as a cut link would.
link_loss() {
  (($1 % 10 == 0 && $1 > 0 && $1 < 100)) || fatal "link_loss $1: want 10, 20, ... 90"
  "${DX[@]}" nft -f - <<EOF || fatal "nft: could not install the loss"
table inet phloss {
  chain in { type filter hook input priority -5; iifname "vd" numgen inc mod 10 < $(($1 / 10)) counter drop; }
}
EOF
}
link_counters() { "${DX[@]}" nft list table inet phloss 2>/dev/null || true; }
link_rate() {
  "${DX[@]}" tc qdisc replace dev vd root tbf rate "$1" burst 32kbit latency 400ms ||
    fatal "tc tbf $1 failed"
}
link_clear() {
  link_restore
  "${DX[@]}" nft delete table inet phloss 2>/dev/null || true
  "${DX[@]}" tc qdisc del dev vd root 2>/dev/null || true
}

# ---- the server ----

# server_init: porthole-server init for hostname 192.0.2.1, listening on
# SRV_IP and 127.0.0.1 alike (0.0.0.0, inside SRV). Sets ADMIN_TOKEN, CA_PIN.
# FAULT_SERVER_TOML: lines appended to server.toml.
server_init() {
  run "$SERVER_BIN" --data-dir "$DATA" init --hostname "$SRV_IP"
  expect_rc 0 "porthole-server init"
  ((RC == 0)) || fatal "porthole-server init failed"
  ADMIN_TOKEN=$(printf '%s\n' "$OUT" | sed -n 's/.* --token \(pht_[A-Za-z0-9_-]*\) .*/\1/p' | head -1)
  CA_PIN=$(openssl x509 -in "$DATA/tls/ca.pem" -outform DER | sha256sum | cut -d' ' -f1)
  [ -n "$ADMIN_TOKEN" ] || fatal "no admin token in init's output: $OUT"
  if [ -n "${FAULT_SERVER_TOML:-}" ]; then
    printf '%s\n' "$FAULT_SERVER_TOML" >>"$DATA/server.toml"
  fi
}

# server_start: porthole-server run in SRV, stderr appended to
# $WORK/server.log; waits for "ready". Sets SERVER_PID, SERVER_LOG_MARK.
server_start() {
  SERVER_LOG=$WORK/server.log
  SERVER_LOG_MARK=$(file_size "$SERVER_LOG")
  "${SX[@]}" env PORTHOLE_LOG="${FAULT_SERVER_LOG_LEVEL:-info}" \
    "$SERVER_BIN" --data-dir "$DATA" run </dev/null >>"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  if [ -z "${_server_stop_registered:-}" ]; then
    at_exit server_stop
    _server_stop_registered=1
  fi
  WAIT_PID=$SERVER_PID wait_log "$SERVER_LOG" "porthole-server: ready" 30 "$SERVER_LOG_MARK" >/dev/null ||
    fatal "porthole-server did not start: $(tail -c +"$((SERVER_LOG_MARK + 1))" "$SERVER_LOG" | tail -5)"
  trace "porthole-server running in $SRV_NS (pid $SERVER_PID)"
}

# server_stop [SIGNAL]: stops the server (default TERM), waits for it.
server_stop() {
  local sig=${1:-TERM}
  [ -n "${SERVER_PID:-}" ] || return 0
  kill -s "$sig" "$SERVER_PID" 2>/dev/null || true
  if ! timeout 15 tail --pid="$SERVER_PID" -f /dev/null 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# server_rss_kb: the running server's resident set in KiB.
server_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }

# expect_server_log REGEX TIMEOUT_S WHAT [FROM]: like expect_agent_log.
expect_server_log() {
  local from=${4:-${SERVER_LOG_MARK:-0}}
  WAIT_PID=${SERVER_PID:-} wait_log "$SERVER_LOG" "$1" "$2" "$from" >/dev/null ||
    fail "$3: no server log line matching '$1' within ${2}s; log: $(tail -c +"$((from + 1))" "$SERVER_LOG" | tail -8)"
}

# ---- devices ----

# device_add NAME: `porthole-server device add NAME` into $WORK/NAME, then
# the bundle's agent.toml with every path under $WORK/NAME (device key,
# TUF repo, commands dir, spawned sshd config dir) and short poll periods
# (FAULT_POLL_SECS, default 1; FAULT_VALIDATION_SECS, default 1). Extra
# [device] lines: FAULT_AGENT_EXTRA; a [porthole] table:
# FAULT_AGENT_PORTHOLE. Sets DEVICE_DIR.
device_add() {
  local name=$1 dir=$WORK/$1
  install -d -m 755 "$dir"
  run "$SERVER_BIN" --data-dir "$DATA" device add "$name" --out "$dir/bundle"
  expect_rc 0 "device add $name"
  ((RC == 0)) || fatal "device add $name failed"
  export DEVICE_DIR=$dir
  install -d -m 755 "$dir/state"
  python3 - "$dir/bundle/agent.toml" "$dir" "${FAULT_POLL_SECS:-1}" \
    "${FAULT_VALIDATION_SECS:-1}" >"$dir/agent.toml" <<'PY' || fatal "could not rewrite agent.toml"
import re, sys
text = open(sys.argv[1]).read()
d, poll, val = sys.argv[2], sys.argv[3], sys.argv[4]
text = text.replace("/etc/porthole/", d + "/bundle/")
text = text.replace("/var/lib/porthole/", d + "/state/")
text = text.replace('"/run/porthole"', '"' + d + '/sshd"')
text = re.sub(r"^poll_timeout = .*$", "poll_timeout = { secs = %s, nanos = 0 }" % poll, text, flags=re.M)
text = re.sub(r"^validation_poll_timeout = .*$", "validation_poll_timeout = { secs = %s, nanos = 0 }" % val, text, flags=re.M)
sys.stdout.write(text)
PY
  if [ -n "${FAULT_AGENT_EXTRA:-}" ]; then
    python3 - "$dir/agent.toml" "$FAULT_AGENT_EXTRA" <<'PY'
import sys
p, extra = sys.argv[1], sys.argv[2]
t = open(p).read().replace("[device]\n", "[device]\n" + extra + "\n", 1)
open(p, "w").write(t)
PY
  fi
  if [ -n "${FAULT_AGENT_PORTHOLE:-}" ]; then
    printf '\n[porthole]\n%s\n' "$FAULT_AGENT_PORTHOLE" >>"$dir/agent.toml"
  fi
  grep -q "$dir/state/" "$dir/agent.toml" || fatal "agent.toml of $name: paths not rewritten: $(cat "$dir/agent.toml")"
  (_agent_exec "$PORTHOLE_AGENT" --check-config --config "$dir/agent.toml") >/dev/null \
    2>"$WORK/.check.err" </dev/null || fatal "agent.toml of $name does not load: $(cat "$WORK/.check.err")"
}

# device_agent_start NAME: porthole-agent for NAME in DEV, as root, with a
# private tmpfs /run (spawned_sshd makes /run/sshd), PORTHOLE_LOG=debug,
# output appended to $WORK/NAME/agent.log. Sets AGENT_PID, AGENT_LOG,
# AGENT_LOG_MARK (agent_lib.sh's expect_agent_log then works).
device_agent_start() {
  local dir=$WORK/$1
  [ -z "${AGENT_PID:-}" ] || fatal "device_agent_start: an agent is running (pid $AGENT_PID)"
  AGENT_LOG=$dir/agent.log
  AGENT_LOG_MARK=$(file_size "$AGENT_LOG")
  export AGENT_LOG AGENT_LOG_MARK
  (_agent_exec "${DX[@]}" env PORTHOLE_LOG=debug "${AGENT_PRIVATE_RUN[@]}" \
    "$PORTHOLE_AGENT" --config "$dir/agent.toml") </dev/null >>"$AGENT_LOG" 2>&1 &
  AGENT_PID=$!
  if [ -z "${_agent_stop_registered:-}" ]; then
    at_exit stop_agent
    _agent_stop_registered=1
  fi
  trace "porthole-agent for $1 started in $DEV_NS (pid $AGENT_PID)"
}

# ---- the operator ----

ph() {
  run "${SX[@]}" env HOME="$OP_HOME" "$PORTHOLE" "$@"
}

# operator_login: logs in as the admin and allows the operator key
# $OP_HOME/.ssh/id_ed25519 (made here) in the signed policy.
operator_login() {
  printf '%s\n' "$ADMIN_TOKEN" >"$WORK/token"
  ph login "https://$SRV_IP:8444" --token-file "$WORK/token" --ca-sha256 "$CA_PIN"
  expect_rc 0 "porthole login"
  ((RC == 0)) || fatal "porthole login failed"
  ssh-keygen -q -t ed25519 -N '' -C operator@e2e -f "$OP_HOME/.ssh/id_ed25519" </dev/null
  ph policy allow-key "$OP_HOME/.ssh/id_ed25519.pub" --name operator
  expect_rc 0 "policy allow-key"
}

# op_connect DEVICE ARGS...: `porthole connect DEV_USER@DEVICE -- ARGS` as
# the operator (sets RC/OUT/ERR; 60 s limit).
op_connect() {
  local dev=$1
  shift
  ph connect "$DEV_USER@$dev" -- -F /dev/null -o ConnectTimeout=10 -o ServerAliveInterval=2 \
    -o ServerAliveCountMax=5 "$@"
}

# session_id DEVICE: the id of DEVICE's live session ("" if none).
session_id() {
  ph session list --device "$1" --json
  printf '%s' "$OUT" | python3 -c 'import json,sys; s=json.load(sys.stdin)["sessions"]; print(s[0]["id"] if s else "")'
}

# expect_err TEXT WHAT: the last run's stderr holds TEXT (fixed string).
expect_err() {
  [[ "$ERR" == *"$1"* ]] || fail "$2: stderr lacks '$1'; stderr: ${ERR:0:600}"
}
