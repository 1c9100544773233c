# shellcheck shell=bash
# Shared by the cli_*.sh and connect_*.sh scenarios (after lib.sh): the
# operator CLI against the real porthole-server (`run`: operator API,
# device API, SSH relay, all on free 127.0.0.1 ports written into its
# server.toml) and real porthole-agent devices provisioned by
# `porthole-server device add`.
#
#   start_server        first call: `porthole-server init` in $SRV_DATA
#                       (hostname 127.0.0.1), free ports into server.toml;
#                       every call: `porthole-server run` in the background,
#                       waits for "ready". Sets API_URL, ADMIN_TOKEN, CA_PIN,
#                       RELAY_PORT, DEVICE_API_PORT, SERVER_PID, SERVER_LOG.
#                       SERVER_TOML_EXTRA: lines appended to server.toml at
#                       init (e.g. a [sessions] table).
#   stop_server [SIG]   stops it (default TERM), waits; SERVER_RC
#   srv ARGS...         porthole-server --data-dir $SRV_DATA ARGS (as run)
#   ph ARGS...          runs porthole (in NSX, a command prefix such as
#                       (ip netns exec NS), when set) as the operator, with
#                       HOME=$OP_HOME; sets RC, OUT, ERR like run
#   ph_login            porthole login with the admin token and the CA pin
#   start_device NAME MODE [TOML-LINES]
#                       `device add NAME`, its bundle's agent.toml with the
#                       device's files under $WORK/dev/NAME and the session
#                       mode MODE (spawned_sshd | embedded | target_host,
#                       TOML-LINES inside [device.session.MODE]), and the
#                       agent itself (root, private /run); waits until it
#                       registered its SSH key and host keys. Sets
#                       DEV_PID[NAME], DEV_LOG[NAME], DEV_ID[NAME].
#                       DEV_PORTHOLE_EXTRA: lines for its [porthole] table.
#   stop_device NAME    stops that agent (and its spawned sshd)
#   expect_dev_log NAME REGEX SECS WHAT [FROM]   agent log line awaited
#   audit_json [ARGS]   `porthole audit --json ARGS` into AUDIT (the JSON)
#   expect_audit PY WHAT  a Python expression over `events` (the audit
#                       list) is true, e.g.
#                       "any(e['kind'] == 'tunnel.up' for e in events)"

require_porthole
_require_exe PORTHOLE_SERVER_BIN "porthole-server binary, e.g. build/src/server/porthole-server"
PORTHOLE_SERVER=$(readlink -f "$PORTHOLE_SERVER_BIN")
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)
NSX=()
OP_HOME=$WORK/home
mkdir -p -m 700 "$OP_HOME" "$OP_HOME/.ssh"
unset XDG_CONFIG_HOME XDG_CACHE_HOME
SRV_DATA=$WORK/server
declare -A DEV_PID DEV_LOG DEV_ID

_stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# _stop_tree PID: ends PID and everything it started.
_stop_tree() {
  local p procs
  mapfile -t procs < <(_descendants "$1")
  kill "$1" ${procs[@]+"${procs[@]}"} 2>/dev/null || true
  timeout 10 tail --pid="$1" -f /dev/null 2>/dev/null || kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for p in ${procs[@]+"${procs[@]}"}; do
    timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  done
}

srv() { run "$PORTHOLE_SERVER" --data-dir "$SRV_DATA" "$@"; }

start_server() {
  local mark
  if [ ! -e "$SRV_DATA/server.toml" ]; then
    srv init --hostname 127.0.0.1
    [ "$RC" = 0 ] || fatal "porthole-server init failed: $ERR"
    ADMIN_TOKEN=$(printf '%s\n' "$OUT" | awk '/shown only now/ {getline; print $1}')
    CA_PIN=$(printf '%s\n' "$OUT" | sed -n 's/^Server CA (tls\/ca.pem) SHA-256: //p')
    [ -n "$ADMIN_TOKEN" ] && [ -n "$CA_PIN" ] || fatal "init printed no token or pin: $OUT"
    DEVICE_API_PORT=$(free_port) OPERATOR_API_PORT=$(free_port) RELAY_PORT=$(free_port)
    cat >"$SRV_DATA/server.toml" <<EOF
data_dir = "$SRV_DATA"
hostname = "127.0.0.1"
[device_api]
listen = "127.0.0.1"
port = $DEVICE_API_PORT
[operator_api]
listen = "127.0.0.1"
port = $OPERATOR_API_PORT
[relay]
listen = "127.0.0.1"
port = $RELAY_PORT
${SERVER_TOML_EXTRA:-}
EOF
    printf '%s\n' "$ADMIN_TOKEN" >"$WORK/token"
    API_URL=https://127.0.0.1:$OPERATOR_API_PORT
  fi
  SERVER_LOG=$WORK/server.log
  mark=$(file_size "$SERVER_LOG")
  ${NSX[@]+"${NSX[@]}"} "$PORTHOLE_SERVER" --data-dir "$SRV_DATA" run </dev/null >>"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  if [ -z "${_server_stop_registered:-}" ]; then
    at_exit stop_server
    _server_stop_registered=1
  fi
  log_wait "$SERVER_LOG" 'porthole-server: ready' 30 "$mark" "$SERVER_PID" >/dev/null ||
    fatal "porthole-server did not start: $(tail -c +"$((mark + 1))" "$SERVER_LOG" | tail -5)"
  trace "porthole-server on $API_URL, relay 127.0.0.1:$RELAY_PORT (pid $SERVER_PID)"
}

stop_server() {
  local sig=${1:-TERM}
  [ -n "${SERVER_PID:-}" ] || return 0
  kill -s "$sig" "$SERVER_PID" 2>/dev/null || true
  timeout 20 tail --pid="$SERVER_PID" -f /dev/null 2>/dev/null || kill -KILL "$SERVER_PID" 2>/dev/null || true
  SERVER_RC=0
  wait "$SERVER_PID" 2>/dev/null || SERVER_RC=$?
  SERVER_PID=
}

ph() {
  run ${NSX[@]+"${NSX[@]}"} env HOME="$OP_HOME" PORTHOLE_SSH="${PORTHOLE_SSH:-ssh}" \
    "$PORTHOLE" "$@"
}

ph_login() {
  ph login "$API_URL" --ca-sha256 "$CA_PIN" --token-file "$WORK/token"
  [ "$RC" = 0 ] || fatal "porthole login failed: $ERR"
}

start_device() {
  local name=$1 mode=$2 extra=${3:-} dir=$WORK/dev/$1 session id
  require_agent  # an absolute path: the agent starts in its own directory
  install -d -m 755 "$WORK/dev" "$dir"
  if [ ! -e "$dir/agent.toml" ]; then
    srv device add "$name" --out "$dir/bundle" --device-dir "$dir/bundle"
    [ "$RC" = 0 ] || fatal "device add $name: $ERR"
    case $mode in
      spawned_sshd) session="config_dir = \"$dir/sshd\"" ;;
      embedded) session="server_key_path = \"$dir/embedded_host_key\"" ;;
      target_host) session="" ;;
      *) fatal "start_device: unknown mode '$mode'" ;;
    esac
    # The bundle's [torizon] table (URLs, certificates) as it is; [device]
    # with this test's paths and the mode asked for.
    {
      sed -n '/^\[torizon\]/,/^\[device/p' "$dir/bundle/agent.toml" | sed '$d'
      cat <<EOF
[device]
ssh_private_key_path = "$dir/device-key"
local_tuf_repo_path = "$dir/tuf"
commands_dir = "$dir/commands"
poll_timeout = { secs = 1, nanos = 0 }
validation_poll_timeout = { secs = 1, nanos = 0 }

[device.session.$mode]
$session
$extra
EOF
      [ -z "${DEV_PORTHOLE_EXTRA:-}" ] || printf '\n[porthole]\n%s\n' "$DEV_PORTHOLE_EXTRA"
    } >"$dir/agent.toml"
    run "$PORTHOLE_AGENT" --check-config --config "$dir/agent.toml"
    [ "$RC" = 0 ] || fatal "agent.toml for $name does not load: $ERR $(cat "$dir/agent.toml")"
  fi
  DEV_LOG[$name]=$dir/agent.log
  local mark
  mark=$(file_size "${DEV_LOG[$name]}")
  (
    cd "$dir" || exit 1
    unset CONFIG_FILE DEBUG_CONFIG
    exec env PORTHOLE_LOG=debug unshare -m --propagation private \
      sh -c 'mount -t tmpfs -o mode=755 none /run && exec "$@"' sh \
      "$PORTHOLE_AGENT" --config "$dir/agent.toml"
  ) </dev/null >>"${DEV_LOG[$name]}" 2>&1 &
  DEV_PID[$name]=$!
  at_exit stop_device "$name"
  local ready='host keys: .* sent to the server'
  [ "$mode" != target_host ] || ready='device key registered'
  log_wait "${DEV_LOG[$name]}" "$ready" 30 "$mark" \
    "${DEV_PID[$name]}" >/dev/null ||
    fatal "agent $name did not register: $(tail -c +"$((mark + 1))" "${DEV_LOG[$name]}" | tail -8)"
  id=$(awk -F'[()]' '/^# porthole-agent configuration for device/ {print $2; exit}' "$dir/bundle/agent.toml")
  DEV_ID[$name]=$id
  trace "device $name ($id, $mode) agent pid ${DEV_PID[$name]}, log ${DEV_LOG[$name]}"
}

stop_device() {
  local pid=${DEV_PID[$1]:-}
  [ -n "$pid" ] || return 0
  _stop_tree "$pid"
  DEV_PID[$1]=
}

dev_alive() { [ -n "${DEV_PID[$1]:-}" ] && kill -0 "${DEV_PID[$1]}" 2>/dev/null; }

expect_dev_log() {
  local name=$1 re=$2 secs=$3 what=$4 from=${5:-0}
  log_wait "${DEV_LOG[$name]}" "$re" "$secs" "$from" "${DEV_PID[$name]:-}" >/dev/null ||
    fail "$what: no line matching '$re' in $name's agent log within ${secs}s: $(tail -c +"$((from + 1))" "${DEV_LOG[$name]}" | tail -10)"
}

audit_json() {
  ph audit --json "$@"
  [ "$RC" = 0 ] || fail "porthole audit --json $*: exit $RC: $ERR"
  AUDIT=$OUT
}

# expect_audit PY WHAT [AUDIT-ARGS...]: fresh `porthole audit --json`;
# the Python expression PY over `events` must be true. The server records
# some events a moment after their effect can be seen (the relay cuts at the
# expiry instant, the housekeeper audits session.expire on its next 250 ms
# tick), and the log only grows, so PY gets 5 s to become true.
expect_audit() {
  local py=$1 what=$2 end=$((SECONDS + 5))
  shift 2
  while :; do
    audit_json "$@"
    printf '%s' "$AUDIT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
events = d["events"] if isinstance(d, dict) else d
ok = eval(sys.argv[1])
if not ok:
    print("\n".join(json.dumps(e) for e in events[-15:]), file=sys.stderr)
sys.exit(0 if ok else 1)' "$py" 2>"$WORK/.audit.err" && return 0
    ((SECONDS < end)) || fail "$what: audit lacks $py; last events: $(cat "$WORK/.audit.err")"
    sleep 0.2
  done
}

# expect_out TEXT WHAT: the last run's stdout holds TEXT (fixed string).
expect_out() {
  [[ "$OUT" == *"$1"* ]] || fail "$2: stdout lacks '$1'; stdout: ${OUT:0:600}; stderr: ${ERR:0:400}"
}
# expect_err TEXT WHAT: the last run's stderr holds TEXT.
expect_err() {
  [[ "$ERR" == *"$1"* ]] || fail "$2: stderr lacks '$1'; stderr: ${ERR:0:600}"
}

# relay_known_hosts: $WORK/relay_known_hosts holds the relay's host key
# (from GET /api/v1/relay) for [127.0.0.1]:RELAY_PORT.
relay_known_hosts() {
  curl -sS --fail-with-body --cacert "$SRV_DATA/tls/ca.pem" -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$API_URL/api/v1/relay" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("[127.0.0.1]:%s %s" % (d["port"], d["host_key"]))' \
      >"$WORK/relay_known_hosts" || fatal "GET /api/v1/relay failed"
}

# relay_ssh KEY USER ARGS...: OpenSSH straight to the relay with KEY only
# (as run; 20 s limit).
relay_ssh() {
  local key=$1 user=$2
  shift 2
  RC=0
  timeout 20 ssh -F /dev/null -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o UserKnownHostsFile="$WORK/relay_known_hosts" -o StrictHostKeyChecking=yes \
    -p "$RELAY_PORT" "$@" "$user@127.0.0.1" </dev/null >"$WORK/.out" 2>"$WORK/.err" || RC=$?
  OUT=$(cat "$WORK/.out")
  ERR=$(cat "$WORK/.err")
}

# session_of DEVICE: the id of its live session ("" when none).
session_of() {
  ph session list --device "$1" --json
  printf '%s' "$OUT" | python3 -c 'import json,sys; s=json.load(sys.stdin)["sessions"]; print(s[0]["id"] if s else "")'
}
