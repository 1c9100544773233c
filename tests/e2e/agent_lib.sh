# shellcheck shell=bash
# The server side of porthole-agent end-to-end scenarios: a fake RAS and
# director over mutual TLS (tests/tools/ras_server.py), signed director
# metadata (porthole-test-tuf), a real OpenSSH sshd as the relay, sessions,
# the agent's RAC-format config, and the agent process itself. Sourced after
# lib.sh, which provides WORK, UNIQ, at_exit, fail/fatal, make_user,
# start_sshd, new_key ...:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/agent_lib.sh"
#   start_ras; new_key device; new_key alice
#   start_relay "$(pub_path device)"
#   make_policy --operator "$(pub_path alice)"
#   write_session --operator "$(pub_path alice)"
#   AGENT_DEVICE_KEY=$(key_path device) write_agent_config embedded
#   start_agent
#   expect_agent_log 'session: tunnel up' 20 "tunnel"
#
#   PORTHOLE_AGENT_BIN=build/src/agent/porthole-agent \
#   PORTHOLE_TEST_TUF=build/tests/tools/porthole-test-tuf bash tests/e2e/agent_x.sh
#
# Everything started here is stopped by lib.sh's EXIT trap, last started
# first (the agent, the relay and its user, the RAS), also on failure.
#
# Variables set and exported (paths are absolute):
#   start_ras    RAS_PORT RAS_STATE RAS_PKI RAS_URL DIRECTOR_URL RAS_PID
#   make_policy  TUF_DIR TUF_ROOT_KEY TUF_RS_KEY TUF_ROOT_VERSION
#                POLICY_VERSION
#   start_relay  RELAY_USER RELAY_PORT RELAY_HOST_KEY_PUB (the key line)
#                RELAY_HOST_KEY_FILE RELAY_URL RELAY_LOG
#   write_session SESSION_PORT (the reverse port; kept across calls)
#   start_agent  AGENT_PID AGENT_LOG AGENT_LOG_MARK; stop_agent AGENT_RC

require_agent
require_test_tuf
require_cmd curl openssl

AGENT_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_TOOLS=$(cd "$AGENT_E2E_DIR/../tools" && pwd)

# ---- small helpers ----

# atomic_write FILE: replaces FILE with stdin (temp file in the same
# directory, then rename), so a reader sees the old or the new file, never
# a partial one. Mode 0644.
atomic_write() {
  local file=$1 tmp
  tmp=$(mktemp "$(dirname "$file")/.tmp-XXXXXX")
  cat >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$file"
}

# wait_log FILE REGEX TIMEOUT_S [FROM_BYTE]: waits until a line of FILE
# (from byte FROM_BYTE, default 0; the file may not exist yet) matches the
# extended REGEX (bash =~), following it with tail -F rather than polling.
# Prints the line and returns 0; returns 1 after TIMEOUT_S seconds, or as
# soon as process WAIT_PID (if set) has exited with no match.
wait_log() { log_wait "$1" "$2" "$3" "${4:-0}" "${WAIT_PID:-}"; }

# _re_quote TEXT: TEXT with the ERE special characters escaped.
_re_quote() {
  # shellcheck disable=SC2016 # a sed expression, not shell
  printf '%s' "$1" | sed 's/[][\.|$(){}?+*^]/\\&/g'
}

# expect_pty_shell COLS ROWS NEW_COLS NEW_ROWS EXIT DEST SSH_ARGS...: logs
# in with "ssh -tt SSH_ARGS... DEST" on a real pty of COLS x ROWS (TERM
# xterm-256color) through tests/tools/pty_ssh.py, waits for a prompt,
# checks TERM and the size, resizes to NEW_COLS x NEW_ROWS and checks the
# new size, then types "exit EXIT": ssh must exit with EXIT.
expect_pty_shell() {
  local cols=$1 rows=$2 ncols=$3 nrows=$4 code=$5 dest=$6 rc=0
  shift 6
  cat >"$WORK/shell.script" <<EOT
send export PS1="RE""ADY> "
expect READY> 
send stty size; echo "term=\$TERM"
expect $rows $cols
expect term=xterm-256color
resize $ncols $nrows
send stty size
expect $nrows $ncols
send exit $code
EOT
  TERM=xterm-256color timeout 60 python3 "$AGENT_E2E_DIR/../tools/pty_ssh.py" \
    --cols "$cols" --rows "$rows" --script "$WORK/shell.script" -- \
    "$@" -tt "$dest" 2>"$WORK/pty.err" || rc=$?
  [ "$rc" = "$code" ] || fail "PTY shell: exit $rc, want $code: $(tail -5 "$WORK/pty.err")"
}

# ---- the fake RAS and director ----

# start_ras: a fresh test PKI in $WORK/pki (tests/tools/mkcerts.sh: CA, a
# server certificate for 127.0.0.1, the device client certificate
# CN=device-0001, and rogue.crt/key from another CA), then ras_server.py on
# a free 127.0.0.1 port serving $WORK/ras. Exports RAS_PORT, RAS_STATE (the
# state directory: session.json, director/, requests.jsonl ...), RAS_PKI,
# RAS_URL (https://127.0.0.1:PORT/ras/), DIRECTOR_URL (.../director/),
# RAS_PID.
start_ras() {
  local res
  [ -z "${RAS_PID:-}" ] || fatal "start_ras: already started"
  RAS_PKI=$WORK/pki
  bash "$E2E_TOOLS/mkcerts.sh" "$RAS_PKI" || fatal "mkcerts.sh failed"
  RAS_STATE=$WORK/ras
  install -d -m 755 "$RAS_STATE" "$RAS_STATE/director"
  python3 "$E2E_TOOLS/ras_server.py" --cert "$RAS_PKI/server.crt" \
    --key "$RAS_PKI/server.key" --ca "$RAS_PKI/ca.crt" --state "$RAS_STATE" \
    </dev/null >"$WORK/ras.port" 2>"$WORK/ras.stderr" &
  RAS_PID=$!
  at_exit stop_ras
  res=$(FOLLOW_PID=$RAS_PID _follow "$WORK/ras.port" 0 20 "")
  RAS_PORT=${res#1 }
  [[ $res == 1\ * && $RAS_PORT =~ ^[0-9]+$ ]] ||
    fatal "ras_server.py did not start: $(cat "$WORK/ras.stderr")"
  RAS_URL=https://127.0.0.1:$RAS_PORT/ras/
  DIRECTOR_URL=https://127.0.0.1:$RAS_PORT/director/
  export RAS_PORT RAS_STATE RAS_PKI RAS_URL DIRECTOR_URL RAS_PID
  trace "fake RAS on 127.0.0.1:$RAS_PORT (pid $RAS_PID), state $RAS_STATE"
}

# stop_ras: stops the fake RAS (registered at exit by start_ras).
stop_ras() {
  [ -n "${RAS_PID:-}" ] || return 0
  kill "$RAS_PID" 2>/dev/null || true
  wait "$RAS_PID" 2>/dev/null || true
  RAS_PID=
}

# ras_curl [CURL_ARGS...] URL: curl with the device's client certificate
# and the test CA; prints the body. A URL may be a path such as
# /ras/sessions (prefixed with https://127.0.0.1:$RAS_PORT).
ras_curl() {
  local args=("$@") last=$(($# - 1))
  [[ ${args[last]} == /* ]] && args[last]=https://127.0.0.1:$RAS_PORT${args[last]}
  timeout 30 curl -sS --cacert "$RAS_PKI/ca.crt" --cert "$RAS_PKI/client.crt" \
    --key "$RAS_PKI/client.key" "${args[@]}"
}

# ras_fault ENDPOINT STATUS [BODY]: ENDPOINT (public-keys, sessions,
# commands, result, director, director-NAME) answers STATUS (and BODY)
# until ras_clear_fault ENDPOINT.
ras_fault() {
  printf '%s\n%s' "$2" "${3:-}" | atomic_write "$RAS_STATE/$1.status"
}

# ras_delay ENDPOINT SECONDS: ENDPOINT answers after SECONDS (a float)
# until ras_clear_fault ENDPOINT.
ras_delay() {
  printf '%s\n' "$2" | atomic_write "$RAS_STATE/$1.delay"
}

# ras_clear_fault ENDPOINT: removes ENDPOINT's status and delay overrides.
ras_clear_fault() {
  rm -f "$RAS_STATE/$1.status" "$RAS_STATE/$1.delay"
}

# ras_extensions VALUE: the fake RAS announces porthole-server's device
# API extensions (X-Porthole-Extensions: VALUE, e.g. "long-poll=55,
# host-keys") and implements them; ras_no_extensions: back to RAC's
# server (no header, no ETag, wait ignored, no host-keys).
ras_extensions() { printf '%s\n' "$1" | atomic_write "$RAS_STATE/extensions"; }
ras_no_extensions() { rm -f "$RAS_STATE/extensions"; }

# ras_queries [FROM_BYTE]: the query strings (after '?') of the requests the
# RAS answered from byte FROM_BYTE of requests.jsonl, one per line
# (requests without a query are left out).
ras_queries() {
  [ -f "$RAS_STATE/requests.jsonl" ] || return 0
  tail -c +"$((${1:-0} + 1))" "$RAS_STATE/requests.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    path = json.loads(line)["path"]
    if "?" in path:
        print(path.split("?", 1)[1])'
}

# ras_count METHOD PATH: how many METHOD requests for PATH (query ignored)
# the RAS has answered so far.
ras_count() {
  [ -f "$RAS_STATE/requests.jsonl" ] || { echo 0; return; }
  python3 - "$RAS_STATE/requests.jsonl" "$1" "$2" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += r["method"] == sys.argv[2] and r["path"].split("?")[0] == sys.argv[3]
print(n)
EOF
}

# ras_last METHOD PATH: the JSON line of the last such request ("" if none).
ras_last() {
  [ -f "$RAS_STATE/requests.jsonl" ] || return 0
  python3 - "$RAS_STATE/requests.jsonl" "$1" "$2" <<'EOF'
import json, sys
last = ""
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["method"] == sys.argv[2] and r["path"].split("?")[0] == sys.argv[3]:
        last = line.strip()
print(last)
EOF
}

# wait_request METHOD PATH TIMEOUT_S [FROM_BYTE]: waits until the RAS has
# answered a METHOD request for PATH (any query) after byte FROM_BYTE of
# requests.jsonl (file_size "$RAS_STATE/requests.jsonl" gives a mark).
# Prints the request's JSON line; returns 1 on timeout.
wait_request() {
  wait_log "$RAS_STATE/requests.jsonl" \
    "^\\{\"method\":\"$(_re_quote "$1")\",\"path\":\"$(_re_quote "$2")(\\?[^\"]*)?\"" \
    "$3" "${4:-0}"
}

# ---- director metadata ----

TUF_DIR=$WORK/tuf
TUF_ROOT_VERSION=0
POLICY_VERSION=0

# _tuf ARGS...: porthole-test-tuf, fatal on failure.
_tuf() {
  "$TEST_TUF" "$@" >/dev/null 2>"$WORK/.tuf.err" ||
    fatal "porthole-test-tuf $1 failed: $(cat "$WORK/.tuf.err")"
}

# _tuf_init: the director's keys and root.json version 1 (365 days), once.
# TUF_RS_KEYTYPE=rsa makes the remote-sessions key RSA (default ed25519).
_tuf_init() {
  [ "$TUF_ROOT_VERSION" = 0 ] || return 0
  [ -n "${RAS_STATE:-}" ] || fatal "make_policy: start_ras first"
  install -d -m 700 "$TUF_DIR"
  TUF_ROOT_KEY=$TUF_DIR/root-1.key
  TUF_RS_KEY=$TUF_DIR/remote-sessions-1.key
  _tuf keygen --type ed25519 --out "$TUF_ROOT_KEY"
  _tuf keygen --type "${TUF_RS_KEYTYPE:-ed25519}" --out "$TUF_RS_KEY"
  _tuf root --key "$TUF_ROOT_KEY" --role-key "remote-sessions=$TUF_RS_KEY" \
    --version 1 --expires-days 365 --out "$TUF_DIR/1.root.json"
  atomic_write "$RAS_STATE/director/root.json" <"$TUF_DIR/1.root.json"
  TUF_ROOT_VERSION=1
  export TUF_DIR TUF_ROOT_KEY TUF_RS_KEY TUF_ROOT_VERSION
}

# make_policy [--operator PUB]... [--host H]... [--relay-key PUB]...
#             [--allow-command NAME[=ARG,...]]... [--empty-commands]
#             [--version N] [--expires-days D | --expires-seconds S]
#             [--sign-key KEYFILE | --rogue]
# Signs remote-sessions.json into $RAS_STATE/director/ (atomically), and on
# the first call makes the director's keys ($TUF_DIR) and root.json. PUB
# files are OpenSSH .pub files (operators allowed in; relay host keys).
# Defaults: host 127.0.0.1; relay key $RELAY_HOST_KEY_FILE when start_relay
# ran; version one more than the last (POLICY_VERSION), so the agent's
# rollback check never trips by accident; 30 days. --sign-key signs with
# another porthole-test-tuf key, --rogue with a key the root does not list
# (the agent must answer "Failed to verify remote-sessions metadata").
make_policy() {
  local args=() hosts=() relay=() version="" expiry=(--expires-days 30) key
  _tuf_init
  key=$TUF_RS_KEY
  while (($#)); do
    case $1 in
      --operator) args+=(--authorized-key-file "$2"); shift 2 ;;
      --host) hosts+=(--host "$2"); shift 2 ;;
      --relay-key) relay+=(--relay-key-file "$2"); shift 2 ;;
      --allow-command) args+=(--allow-command "$2"); shift 2 ;;
      --empty-commands) args+=(--empty-commands); shift ;;
      --version) version=$2; shift 2 ;;
      --expires-days | --expires-seconds) expiry=("$1" "$2"); shift 2 ;;
      --sign-key) key=$2; shift 2 ;;
      --rogue)
        [ -f "$TUF_DIR/rogue.key" ] || _tuf keygen --type ed25519 --out "$TUF_DIR/rogue.key"
        key=$TUF_DIR/rogue.key
        shift
        ;;
      *) fatal "make_policy: unknown argument '$1'" ;;
    esac
  done
  ((${#hosts[@]})) || hosts=(--host 127.0.0.1)
  if ((${#relay[@]} == 0)) && [ -n "${RELAY_HOST_KEY_FILE:-}" ]; then
    relay=(--relay-key-file "$RELAY_HOST_KEY_FILE")
  fi
  if [ -z "$version" ]; then version=$((POLICY_VERSION + 1)); fi
  POLICY_VERSION=$version
  export POLICY_VERSION
  _tuf remote-sessions --key "$key" --version "$version" "${expiry[@]}" \
    ${args[@]+"${args[@]}"} "${hosts[@]}" ${relay[@]+"${relay[@]}"} \
    --out "$RAS_STATE/director/remote-sessions.json"
}

# rotate_root [--new-rs-key]: publishes root version N+1 as
# $RAS_STATE/director/<N+1>.root.json (and as root.json, the latest, for a
# first download), with a fresh root key and signed by the old and the new
# root keys. --new-rs-key also replaces the remote-sessions key (later
# make_policy calls sign with it); call make_policy after it.
rotate_root() {
  local next old=$TUF_ROOT_KEY
  _tuf_init
  next=$((TUF_ROOT_VERSION + 1))
  TUF_ROOT_KEY=$TUF_DIR/root-$next.key
  _tuf keygen --type ed25519 --out "$TUF_ROOT_KEY"
  if [ "${1:-}" = --new-rs-key ]; then
    TUF_RS_KEY=$TUF_DIR/remote-sessions-$next.key
    _tuf keygen --type "${TUF_RS_KEYTYPE:-ed25519}" --out "$TUF_RS_KEY"
  elif [ -n "${1:-}" ]; then
    fatal "rotate_root: unknown argument '$1'"
  fi
  _tuf root --key "$TUF_ROOT_KEY" --sign-key "$old" \
    --role-key "remote-sessions=$TUF_RS_KEY" --version "$next" \
    --expires-days 365 --out "$TUF_DIR/$next.root.json"
  atomic_write "$RAS_STATE/director/$next.root.json" <"$TUF_DIR/$next.root.json"
  atomic_write "$RAS_STATE/director/root.json" <"$TUF_DIR/$next.root.json"
  TUF_ROOT_VERSION=$next
  export TUF_ROOT_KEY TUF_RS_KEY TUF_ROOT_VERSION
}

# ---- the relay: a real OpenSSH sshd ----

# start_relay [DEVICE_PUB]: a root sshd on 127.0.0.1 (lib.sh start_sshd,
# named "relay", LogLevel DEBUG1) that lets in only RELAY_USER (default
# phrelay$UNIQ, made with make_user), only for remote forwarding: the
# user's keys carry restrict,port-forwarding,permitlisten="127.0.0.1:*" and
# a Match block sets AllowTcpForwarding remote, GatewayPorts no, PermitOpen
# none, PermitTTY no, ForceCommand /bin/false. DEVICE_PUB, if given, is
# authorized now (relay_authorize). Exports RELAY_USER, RELAY_PORT,
# RELAY_HOST_KEY_PUB (the host key's OpenSSH line), RELAY_HOST_KEY_FILE,
# RELAY_URL (ssh://RELAY_USER@127.0.0.1:RELAY_PORT, the session's
# ra_server_url) and RELAY_LOG; PORT and SSHD_LOG_CUR are the relay's
# until the next start_sshd/use_sshd.
start_relay() {
  local dropin=$WORK/relay.conf home
  RELAY_USER=${RELAY_USER:-phrelay$UNIQ}
  make_user "$RELAY_USER"
  home=$(getent passwd "$RELAY_USER" | cut -d: -f6)
  install -d -m 700 -o "$RELAY_USER" -g "$(id -gn "$RELAY_USER")" "$home/.ssh"
  cat >"$dropin" <<EOF
Match User $RELAY_USER
  AllowTcpForwarding remote
  GatewayPorts no
  PermitOpen none
  PermitTTY no
  X11Forwarding no
  AllowAgentForwarding no
  ForceCommand /bin/false
EOF
  if [ -n "${1:-}" ]; then relay_authorize "$1"; fi
  start_sshd relay "$dropin" "AllowUsers $RELAY_USER" "LogLevel DEBUG1"
  RELAY_PORT=${SSHD_PORT[relay]}
  RELAY_LOG=${SSHD_LOG[relay]}
  RELAY_HOST_KEY_FILE=${SSHD_DIR[relay]}/host_ed25519.pub
  RELAY_HOST_KEY_PUB=$(cat "$RELAY_HOST_KEY_FILE")
  RELAY_URL=ssh://$RELAY_USER@127.0.0.1:$RELAY_PORT
  export RELAY_USER RELAY_PORT RELAY_HOST_KEY_PUB RELAY_HOST_KEY_FILE RELAY_URL RELAY_LOG
}

# relay_authorize [PUB...]: the relay user's authorized_keys becomes the
# keys of PUB files (default: $RAS_STATE/device-key.pub, what the agent
# POSTed to public-keys), each restricted to remote forwards on 127.0.0.1.
relay_authorize() {
  local home file line pubs=("$@")
  ((${#pubs[@]})) || pubs=("$RAS_STATE/device-key.pub")
  home=$(getent passwd "$RELAY_USER" | cut -d: -f6)
  file=$home/.ssh/authorized_keys
  for line in "${pubs[@]}"; do
    [ -s "$line" ] || fatal "relay_authorize: no key in $line"
  done
  cat "${pubs[@]}" | grep -v '^[[:space:]]*\(#\|$\)' |
    sed 's/^/restrict,port-forwarding,permitlisten="127.0.0.1:*" /' >"$file.tmp"
  chown "$RELAY_USER:" "$file.tmp"
  chmod 600 "$file.tmp"
  mv -f "$file.tmp" "$file"
}

# stop_relay: stops the relay sshd and every connection it serves (the
# agent sees its tunnel drop).
stop_relay() { stop_sshd relay; }

# restart_relay: starts the relay sshd again after stop_relay, on the same
# port with the same host key, config and log, so the session's
# ra_server_url and host key stay valid. Fatal if the port was taken
# meanwhile.
restart_relay() {
  local dir=${SSHD_DIR[relay]:-} log=${SSHD_LOG[relay]:-} pid mark res
  [ -n "$dir" ] || fatal "restart_relay: start_relay first"
  [ -z "${SSHD_PID[relay]:-}" ] || fatal "restart_relay: the relay is running"
  mark=$(file_size "$log")
  unshare -m --propagation private sh -c \
    'mount -t tmpfs -o mode=755 none /run && mkdir /run/sshd && exec "$@"' \
    sh "$SSHD" -D -E "$log" -f "$dir/sshd_config" </dev/null >>"$dir/stderr" 2>&1 &
  pid=$!
  res=$(FOLLOW_PID=$pid _follow "$log" "$mark" 20 \
    "Server listening on 127.0.0.1 port $RELAY_PORT" \
    "Bind to port $RELAY_PORT on 127.0.0.1 failed" "Cannot bind any address")
  if [[ $res != 1\ * ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    fatal "restart_relay: sshd did not listen on $RELAY_PORT again: $(tail -c +"$((mark + 1))" "$log" | tail -5)"
  fi
  SSHD_PID[relay]=$pid
  trace "sshd relay listening again on 127.0.0.1:$RELAY_PORT (pid $pid)"
}

# ---- sessions (GET /ras/sessions) ----

# write_session [--operator PUB]... [--port N] [--url URL] [--relay-key LINE]
#               [--expires-at RFC3339 | --expires-in SECONDS] [--to FILE]
# Replaces $RAS_STATE/session.json (or FILE, e.g. to be moved there later
# in one rename) atomically: RAC's DeviceSession with the
# operators' key lines (from .pub files), reverse_port N (default
# SESSION_PORT, or a free port the first time), ra_server_url URL (default
# RELAY_URL), ra_server_ssh_pubkey LINE (default RELAY_HOST_KEY_PUB) and
# expires_at (default now + 1 h). Exports SESSION_PORT.
write_session() {
  local pubs=() port=${SESSION_PORT:-} url=${RELAY_URL:-} host_key=${RELAY_HOST_KEY_PUB:-}
  local expires="" in=3600 json to=$RAS_STATE/session.json
  while (($#)); do
    case $1 in
      --operator) pubs+=("$2"); shift 2 ;;
      --to) to=$2; shift 2 ;;
      --port) port=$2; shift 2 ;;
      --url) url=$2; shift 2 ;;
      --relay-key) host_key=$2; shift 2 ;;
      --expires-at) expires=$2; shift 2 ;;
      --expires-in) in=$2; shift 2 ;;
      *) fatal "write_session: unknown argument '$1'" ;;
    esac
  done
  [ -n "$url" ] || fatal "write_session: no --url and no RELAY_URL (start_relay)"
  [ -n "$host_key" ] || fatal "write_session: no --relay-key and no RELAY_HOST_KEY_PUB"
  [ -n "$port" ] || port=$(free_port)
  SESSION_PORT=$port
  export SESSION_PORT
  json=$(python3 - "$port" "$url" "$host_key" "$expires" "$in" ${pubs[@]+"${pubs[@]}"} <<'EOF'
import datetime, json, sys
port, url, relay, expires, seconds = sys.argv[1:6]
keys = []
for path in sys.argv[6:]:
    lines = [l.strip() for l in open(path) if l.strip() and not l.startswith("#")]
    assert lines, "no key line in " + path
    keys += lines
if not expires:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=int(seconds))
    expires = t.strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({"ssh": {"authorized_pubkeys": keys, "reverse_port": int(port),
                          "ra_server_url": url, "ra_server_ssh_pubkey": relay,
                          "expires_at": expires}}))
EOF
  ) || fatal "write_session: bad arguments (see above)"
  printf '%s\n' "$json" | atomic_write "$to"
}

# clear_session: no session any more (GET sessions answers 404).
clear_session() { rm -f "$RAS_STATE/session.json"; }

# ---- the agent ----

# write_agent_config MODE [EXTRA_TOML]: $WORK/agent.toml in RAC's format for
# the fake RAS (start_ras first), session mode MODE (target_host,
# spawned_sshd or embedded), then checks it with porthole-agent
# --check-config (fatal if it does not load; AGENT_CONFIG_NOCHECK=1 skips
# that). EXTRA_TOML is appended inside [device.session.MODE]. The agent's
# files live in $WORK/agent (not under /tmp: sshd StrictModes). Settings:
#   AGENT_DEVICE_KEY        ssh_private_key_path ($WORK/agent/device-key.sec;
#                           the agent creates it if missing)
#   AGENT_POLL_SECS         poll_timeout secs (1)
#   AGENT_VALIDATION_SECS   validation_poll_timeout secs (1)
#   AGENT_TORIZON_EXTRA     lines for [torizon] (e.g. namespace = "...")
#   AGENT_DEVICE_EXTRA      lines for [device]
#   AGENT_PORTHOLE_EXTRA    lines for [porthole] (the table is written
#                           only when this is set)
#   target_host:  AGENT_TARGET_HOST_PORT (default 127.0.0.1:<port of the
#                 sshd named "target">), AGENT_AUTHORIZED_KEYS
#                 ($WORK/agent/authorized_keys)
#   spawned_sshd: AGENT_SSHD_DIR ($WORK/agent/sshd)
#   embedded:     AGENT_SERVER_KEY ($WORK/agent/embedded_host_key)
write_agent_config() {
  local mode=$1 extra=${2:-} dir=$WORK/agent session hp
  [ -n "${RAS_URL:-}" ] || fatal "write_agent_config: start_ras first"
  install -d -m 755 "$dir"
  case $mode in
    target_host)
      hp=${AGENT_TARGET_HOST_PORT:-}
      if [ -z "$hp" ]; then
        [ -n "${SSHD_PORT[target]:-}" ] ||
          fatal "write_agent_config target_host: set AGENT_TARGET_HOST_PORT or start_sshd target"
        hp=127.0.0.1:${SSHD_PORT[target]}
      fi
      session="host_port = \"$hp\"
authorized_keys_path = \"${AGENT_AUTHORIZED_KEYS:-$dir/authorized_keys}\""
      ;;
    spawned_sshd) session="config_dir = \"${AGENT_SSHD_DIR:-$dir/sshd}\"" ;;
    embedded) session="server_key_path = \"${AGENT_SERVER_KEY:-$dir/embedded_host_key}\"" ;;
    *) fatal "write_agent_config: unknown mode '$mode'" ;;
  esac
  cat >"$WORK/agent.toml" <<EOF
# Written by tests/e2e/agent_lib.sh write_agent_config $mode
[torizon]
url = "$RAS_URL"
director_url = "$DIRECTOR_URL"
server_cert_path = "$RAS_PKI/ca.crt"
client_cert_path = "$RAS_PKI/client.crt"
client_key_path = "$RAS_PKI/client.key"
${AGENT_TORIZON_EXTRA:-}

[device]
ssh_private_key_path = "${AGENT_DEVICE_KEY:-$dir/device-key.sec}"
local_tuf_repo_path = "$dir/uptane-repo"
poll_timeout = { secs = ${AGENT_POLL_SECS:-1}, nanos = 0 }
validation_poll_timeout = { secs = ${AGENT_VALIDATION_SECS:-1}, nanos = 0 }
commands_dir = "$dir/commands"
${AGENT_DEVICE_EXTRA:-}

[device.session.$mode]
$session
$extra
EOF
  if [ -n "${AGENT_PORTHOLE_EXTRA:-}" ]; then
    printf '\n[porthole]\n%s\n' "$AGENT_PORTHOLE_EXTRA" >>"$WORK/agent.toml"
  fi
  if [ "${AGENT_CONFIG_NOCHECK:-}" != 1 ]; then
    (_agent_exec "$PORTHOLE_AGENT" --check-config --config "$WORK/agent.toml") \
      >/dev/null 2>"$WORK/.agent-config.err" </dev/null ||
      fatal "write_agent_config $mode: the config does not load: $(cat "$WORK/.agent-config.err")"
  fi
}

# _agent_exec CMD ARGS...: execs CMD in $WORK with only this test's
# configuration: no CONFIG_FILE, DEBUG_CONFIG, RAC__* or PORTHOLE__*
# variables from the caller's environment. Run it in a subshell: "( ... )"
# or "... &" (then $! is CMD's pid).
_agent_exec() {
  local var
  cd "$WORK" || exit 1
  unset CONFIG_FILE DEBUG_CONFIG
  while read -r var; do unset "$var"; done < <(compgen -e | grep -iE '^(rac|porthole)__' || true)
  exec "$@"
}

# start_agent [ARGS...]: runs "porthole-agent --config $WORK/agent.toml
# ARGS..." in the background in $WORK (prefixed by the command in the
# array AGENT_WRAP if set: AGENT_PRIVATE_RUN, setpriv ...), with
# PORTHOLE_LOG=debug, stdout and
# stderr appended to $WORK/agent.log; it is stopped at exit. Exports
# AGENT_PID, AGENT_LOG and AGENT_LOG_MARK (the log's size before this
# start: pass it to expect_agent_log to skip an earlier run's lines).
start_agent() {
  [ -z "${AGENT_PID:-}" ] || fatal "start_agent: already running (pid $AGENT_PID)"
  [ -f "$WORK/agent.toml" ] || fatal "start_agent: write_agent_config first"
  AGENT_LOG=$WORK/agent.log
  AGENT_LOG_MARK=$(file_size "$AGENT_LOG")
  _agent_exec env PORTHOLE_LOG=debug ${AGENT_WRAP[@]+"${AGENT_WRAP[@]}"} \
    "$PORTHOLE_AGENT" --config "$WORK/agent.toml" "$@" \
    </dev/null >>"$AGENT_LOG" 2>&1 &
  AGENT_PID=$!
  if [ -z "${_agent_stop_registered:-}" ]; then
    at_exit stop_agent
    _agent_stop_registered=1
  fi
  export AGENT_PID AGENT_LOG AGENT_LOG_MARK
  trace "porthole-agent started (pid $AGENT_PID), log $AGENT_LOG"
}

# stop_agent [SIGNAL]: sends SIGNAL (default TERM) to the agent, waits up to
# 10 s for it to exit (then SIGKILL), and also ends anything it left
# behind (a spawned sshd). Sets AGENT_RC to its exit status (128+N for a
# signal). Safe to call when it is not running.
stop_agent() {
  local sig=${1:-TERM} procs p
  [ -n "${AGENT_PID:-}" ] || return 0
  mapfile -t procs < <(_descendants "$AGENT_PID")
  kill -s "$sig" "$AGENT_PID" 2>/dev/null || true
  if ! timeout 10 tail --pid="$AGENT_PID" -f /dev/null 2>/dev/null; then
    trace "porthole-agent did not exit on SIG$sig within 10 s; killing it"
    kill -KILL "$AGENT_PID" 2>/dev/null || true
  fi
  AGENT_RC=0
  wait "$AGENT_PID" 2>/dev/null || AGENT_RC=$?
  for p in ${procs[@]+"${procs[@]}"}; do
    kill "$p" 2>/dev/null || true
  done
  AGENT_PID=
  export AGENT_RC
}

# AGENT_PRIVATE_RUN: an AGENT_WRAP prefix giving the agent a private mount
# namespace with an empty tmpfs /run (a root agent in spawned_sshd mode
# creates /run/sshd; the host's /run stays untouched). unshare and sh exec,
# so $! stays the agent.
AGENT_PRIVATE_RUN=(unshare -m --propagation private sh -c 'mount -t tmpfs -o mode=755 none /run && exec "$@"' sh)

# agent_alive: true while the started agent process runs.
agent_alive() { [ -n "${AGENT_PID:-}" ] && kill -0 "$AGENT_PID" 2>/dev/null; }

# expect_agent_log REGEX TIMEOUT_S WHAT [FROM_BYTE]: the agent log gets a
# line matching REGEX (from FROM_BYTE, default AGENT_LOG_MARK) within
# TIMEOUT_S seconds; stops waiting early if the agent exits. Else a failure
# quoting the log's tail.
expect_agent_log() {
  local re=$1 secs=$2 what=$3 from=${4:-${AGENT_LOG_MARK:-0}}
  if ! WAIT_PID=${AGENT_PID:-} wait_log "$AGENT_LOG" "$re" "$secs" "$from" >/dev/null; then
    fail "$what: no agent log line matching '$re' within ${secs}s$(agent_alive || echo ' (the agent exited)'); log: $(tail -c +"$((from + 1))" "$AGENT_LOG" 2>/dev/null | tail -15)"
  fi
}

# expect_no_agent_log REGEX WHAT [FROM_BYTE]: no agent log line (from
# FROM_BYTE, default AGENT_LOG_MARK) matches REGEX so far.
expect_no_agent_log() {
  local from=${3:-${AGENT_LOG_MARK:-0}}
  if tail -c +"$((from + 1))" "$AGENT_LOG" 2>/dev/null | grep -qE -- "$1"; then
    fail "$2: the agent log unexpectedly has '$1': $(tail -c +"$((from + 1))" "$AGENT_LOG" | grep -E -- "$1" | head -3)"
  fi
}
