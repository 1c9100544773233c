# shellcheck shell=bash
# The relay side of the relay_*.sh scenarios: porthole-test-relay (the
# SSH relay of src/server/relay with a JSON table backend, built from
# tests/tools/relay_for_test.cc), its table of devices and sessions, its
# event stream, and ssh configs for operators that jump through it.
# Sourced after lib.sh (WORK, UNIQ, at_exit, fail/fatal, new_key ...):
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/relay_lib.sh"
#   new_key dev; new_key alice
#   rt_device "$DEV_ID" dev-7 "$(pub_path dev)"
#   rt_session s1 "$DEV_ID" "$(free_port)" 3600 "$(pub_path alice)"
#   start_test_relay --keepalive-interval-ms 1000
#   operator_config alice            # $WORK/ssh_config.alice: Host relay
#   ssh -F "$WORK/ssh_config.alice" -J relay user@dev-7 true
#   expect_event operator_connect "to dev-7:22" 10 "operator in"
#
#   PORTHOLE_TEST_RELAY=build/tests/tools/porthole-test-relay bash tests/e2e/relay_x.sh
#
# Variables exported by start_test_relay: TRELAY_PORT, TRELAY_PID,
# TRELAY_EVENTS (the JSON-lines event file), TRELAY_LOG (its stderr),
# TRELAY_HOST_KEY (private key file), TRELAY_HOST_KEY_PUB (its public
# line, as a session's ra_server_ssh_pubkey), TRELAY_HOST_KEY_FILE (.pub).

_require_exe PORTHOLE_TEST_RELAY "porthole-test-relay binary, e.g. build/tests/tools/porthole-test-relay"
TEST_RELAY=$(readlink -f "$PORTHOLE_TEST_RELAY")
RELAY_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RELAY_TOOLS=$(cd "$RELAY_E2E_DIR/../tools" && pwd)

install -d -m 700 "$WORK/relay"
TRELAY_TABLE=$WORK/relay/table.json
TRELAY_SPEC=$WORK/relay/spec.jsonl
TRELAY_HOST_KEY=$WORK/relay/host_key
: >"$TRELAY_SPEC"

# bg_stop PID: ends a background process this script started (for at_exit).
bg_stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# ---- the table ----

# rt_device ID NAME [PUB_FILE]: a device (no PUB_FILE: it registered no key).
rt_device() {
  python3 - "$TRELAY_SPEC" "$@" <<'EOF'
import json, sys
spec, id_, name = sys.argv[1:4]
key = open(sys.argv[4]).read().split("\n")[0].strip() if len(sys.argv) > 4 else None
with open(spec, "a") as f:
    f.write(json.dumps({"device": {"id": id_, "name": name, "key": key}}) + "\n")
EOF
}

# rt_session ID DEVICE PORT EXPIRES_IN_S [OPERATOR_PUB_FILE...]: a session
# expiring EXPIRES_IN_S seconds from now (negative: already expired).
rt_session() {
  python3 - "$TRELAY_SPEC" "$@" <<'EOF'
import datetime, json, sys
spec, id_, dev, port, secs = sys.argv[1:6]
keys = [open(p).read().split("\n")[0].strip() for p in sys.argv[6:]]
t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=int(secs))
with open(spec, "a") as f:
    f.write(json.dumps({"session": {"id": id_, "device": dev, "port": int(port),
                                    "operator_keys": keys,
                                    "expires": t.strftime("%Y-%m-%dT%H:%M:%SZ")}}) + "\n")
EOF
}

# rt_drop_session ID / rt_drop_device ID / rt_drop_key SESSION PUB_FILE:
# remove a session, a device, an operator key from a session.
rt_drop_session() { _rt_edit session "$1"; }
rt_drop_device() { _rt_edit device "$1"; }
rt_drop_key() { _rt_edit key "$1" "$2"; }
_rt_edit() {
  python3 - "$TRELAY_SPEC" "$@" <<'EOF'
import json, sys
spec, what, id_ = sys.argv[1:4]
lines = [json.loads(l) for l in open(spec) if l.strip()]
out = []
for l in lines:
    kind, v = next(iter(l.items()))
    if what in ("session", "device") and kind == what and v["id"] == id_:
        continue
    if what == "key" and kind == "session" and v["id"] == id_:
        k = open(sys.argv[4]).read().split("\n")[0].strip()
        v["operator_keys"] = [x for x in v["operator_keys"] if x.split()[:2] != k.split()[:2]]
    out.append(l)
with open(spec, "w") as f:
    for l in out:
        f.write(json.dumps(l) + "\n")
EOF
}

# rt_commit: writes the table the relay reads (atomically).
rt_commit() {
  python3 - "$TRELAY_SPEC" "$TRELAY_TABLE" <<'EOF'
import json, os, sys
spec, table = sys.argv[1:3]
t = {"devices": [], "sessions": []}
for l in open(spec):
    if l.strip():
        kind, v = next(iter(json.loads(l).items()))
        t[kind + "s"].append(v)
tmp = table + ".tmp"
with open(tmp, "w") as f:
    json.dump(t, f, indent=1)
os.rename(tmp, table)
EOF
}

# ---- the relay process ----

# start_test_relay [ARGS...]: commits the table and runs porthole-test-relay
# on 127.0.0.1 (port TRELAY_PORT if set, else a free one) with ARGS; waits
# for its "listening" line. Stopped at exit. The host key survives restarts.
# TRELAY_WRAP (an array), if set, prefixes the command (e.g. setpriv); it
# must exec, so that TRELAY_PID is the relay.
start_test_relay() {
  local line
  [ -z "${TRELAY_PID:-}" ] || fatal "start_test_relay: already running"
  rt_commit
  TRELAY_EVENTS=$WORK/relay/events.jsonl
  TRELAY_LOG=$WORK/relay/relay.log
  touch "$TRELAY_EVENTS"
  TRELAY_MARK=$(file_size "$TRELAY_EVENTS")
  PORTHOLE_LOG=${TRELAY_LOG_LEVEL:-info} ${TRELAY_WRAP[@]+"${TRELAY_WRAP[@]}"} \
    "$TEST_RELAY" --table "$TRELAY_TABLE" \
    --host-key "$TRELAY_HOST_KEY" --port "${TRELAY_PORT:-0}" "$@" \
    </dev/null >>"$TRELAY_EVENTS" 2>>"$TRELAY_LOG" &
  TRELAY_PID=$!
  if [ -z "${_trelay_stop_registered:-}" ]; then
    at_exit stop_test_relay
    _trelay_stop_registered=1
  fi
  line=$(WAIT_PID=$TRELAY_PID _rt_wait "$TRELAY_EVENTS" '"event":"listening"' 20 "$TRELAY_MARK") ||
    fatal "porthole-test-relay did not start: $(tail -5 "$TRELAY_LOG")"
  TRELAY_PORT=$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["port"])')
  TRELAY_HOST_KEY_PUB=$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["host_key"])')
  TRELAY_HOST_KEY_FILE=$WORK/relay/host_key.pub
  printf '%s\n' "$TRELAY_HOST_KEY_PUB" >"$TRELAY_HOST_KEY_FILE"
  printf '[127.0.0.1]:%s %s\n' "$TRELAY_PORT" "$TRELAY_HOST_KEY_PUB" >"$WORK/relay/known_hosts"
  export TRELAY_PORT TRELAY_PID TRELAY_EVENTS TRELAY_LOG TRELAY_HOST_KEY TRELAY_HOST_KEY_PUB TRELAY_HOST_KEY_FILE
  trace "porthole-test-relay on 127.0.0.1:$TRELAY_PORT (pid $TRELAY_PID)"
}

# stop_test_relay: SIGTERM, then waits (10 s, then SIGKILL). Sets TRELAY_RC.
stop_test_relay() {
  [ -n "${TRELAY_PID:-}" ] || return 0
  kill "$TRELAY_PID" 2>/dev/null || true
  if ! timeout 10 tail --pid="$TRELAY_PID" -f /dev/null 2>/dev/null; then
    kill -KILL "$TRELAY_PID" 2>/dev/null || true
  fi
  TRELAY_RC=0
  # shellcheck disable=SC2034 # TRELAY_RC is read by the scenarios
  wait "$TRELAY_PID" 2>/dev/null || TRELAY_RC=$?
  TRELAY_PID=
}

# relay_reload: commits the table, sends SIGHUP, waits for "reloaded".
# relay_hup: the same without the commit (time it from just before).
relay_reload() {
  rt_commit
  relay_hup
}
relay_hup() {
  local mark
  mark=$(file_size "$TRELAY_EVENTS")
  kill -HUP "$TRELAY_PID"
  _rt_wait "$TRELAY_EVENTS" '"event":"reloaded"' 10 "$mark" >/dev/null ||
    fatal "the relay did not reload its table: $(tail -c +"$((mark + 1))" "$TRELAY_EVENTS" | tail -3)"
}

# _rt_wait FILE FIXED_TEXT SECONDS [FROM_BYTE]: prints the first line after
# FROM_BYTE holding FIXED_TEXT (tail -F, no polling); 1 on timeout or when
# process WAIT_PID (if set) exits.
_has_text() { [[ $2 == *"$1"* ]]; }
_rt_wait() { log_follow "$1" "$3" "${4:-0}" "${WAIT_PID:-}" _has_text "$2"; }

# event_mark: where the event file ends now (for expect_event's FROM).
event_mark() { file_size "$TRELAY_EVENTS"; }

# wait_event KIND TEXT SECONDS [FROM_BYTE]: prints the first event of KIND
# (tunnel_up, tunnel_down, operator_connect, operator_disconnect, refused)
# whose reason contains TEXT (fixed string), after FROM_BYTE (default: the
# relay's latest start); 1 on timeout. (_event_matches KIND TEXT LINE: LINE
# is a KIND event whose reason contains TEXT.)
_event_matches() {
  [[ $3 == *"\"event\":\"$1\""* ]] && printf '%s' "$3" | python3 -c '
import json, sys
sys.exit(0 if sys.argv[1] in json.load(sys.stdin)["reason"] else 1)' "$2"
}
wait_event() {
  log_follow "$TRELAY_EVENTS" "$3" "${4:-${TRELAY_MARK:-0}}" "" _event_matches "$1" "$2"
}

# expect_event KIND TEXT SECONDS WHAT [FROM_BYTE]: wait_event or fail.
# Sets EVENT to the line.
expect_event() {
  # shellcheck disable=SC2034 # read by the scenarios
  EVENT=$(wait_event "$1" "$2" "$3" "${5:-${TRELAY_MARK:-0}}") ||
    fail "$4: no '$1' event with '$2' within $3 s; events: $(tail -c +"$((${5:-${TRELAY_MARK:-0}} + 1))" "$TRELAY_EVENTS" | tail -5)"
}

# event_field JSON_LINE FIELD: one field of an event line.
event_field() {
  printf '%s' "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# ---- ssh configs ----

# operator_config KEYNAME: $WORK/ssh_config.KEYNAME, where Host "relay" is
# porthole-test-relay (its host key pinned) and every host is reached with
# only KEYNAME's key in batch mode. ProxyJump's inner ssh reads the same
# file (ssh passes -F on), so "-F FILE -J relay USER@DEVICE" works.
operator_config() {
  local name=$1
  cat >"$WORK/ssh_config.$name" <<EOF
Host relay
  HostName 127.0.0.1
  Port $TRELAY_PORT
  User porthole
  UserKnownHostsFile $WORK/relay/known_hosts
  StrictHostKeyChecking yes
Host *
  UserKnownHostsFile $WORK/known_hosts.devices
  StrictHostKeyChecking no
  GlobalKnownHostsFile /dev/null
  IdentityFile $(key_path "$name")
  IdentitiesOnly yes
  BatchMode yes
  LogLevel ERROR
  ConnectTimeout 10
EOF
}

# relay_pty_shell DEST SSH_ARGS...: a PTY shell through the jump on a real
# pty (tests/tools/pty_ssh.py): prompt, TERM, 100x30 then resized to 132x43,
# `exit 5` gives ssh exit status 5.
relay_pty_shell() {
  local dest=$1 rc=0
  shift
  cat >"$WORK/shell.script" <<EOT
send export PS1="RE""ADY> "
expect READY> 
send stty size; echo "term=\$TERM"
expect 30 100
expect term=xterm-256color
resize 132 43
send stty size
expect 43 132
send exit 5
EOT
  TERM=xterm-256color timeout 60 python3 "$RELAY_TOOLS/pty_ssh.py" \
    --cols 100 --rows 30 --script "$WORK/shell.script" -- \
    "$@" -tt "$dest" 2>"$WORK/pty.err" || rc=$?
  [ "$rc" = 5 ] || fail "PTY shell through the relay: exit $rc, want 5: $(tail -5 "$WORK/pty.err")"
}

# now_ms: milliseconds since the epoch.
