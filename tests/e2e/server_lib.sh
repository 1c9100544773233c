# shellcheck shell=bash
# The real porthole-server for the server_*.sh scenarios. Sourced after
# lib.sh (WORK, at_exit, fail/fatal, run, new_key ...):
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/server_lib.sh"
#   srv_init                     data dir $SRV_DATA, free loopback ports
#   srv_start                    runs it; waits for its "ready" log line
#   srv_device_add dev1          bundle in $WORK/bundles/dev1; DEV_ID[dev1]
#   dev_curl dev1 GET sessions   RAC-format call over mTLS as that device
#   op_curl POST /api/v1/sessions '{"device": "dev1", ...}'
#
#   PORTHOLE_SERVER_BIN=build/src/server/porthole-server bash tests/e2e/server_x.sh
#
# The server is stopped at exit (SIGTERM, then SIGKILL after 10 s).
#
# Variables (paths absolute):
#   srv_init   SERVER SRV_DATA SRV_DEV_PORT SRV_OP_PORT SRV_RELAY_PORT
#              SRV_TOKEN (the admin token) SRV_CA (tls/ca.pem) SRV_CA_PIN
#              RAS_URL (https://127.0.0.1:PORT/ras/) DIRECTOR_URL OP_URL
#   srv_start  SRV_PID SRV_LOG
#   srv_device_add  DEV_ID[NAME], DEV_DIR[NAME]
# Functions setting RC, OUT (body), ERR like lib.sh's run; HTTP_CODE too.

_require_exe PORTHOLE_SERVER_BIN "porthole-server binary, e.g. build/src/server/porthole-server"
SERVER=$(readlink -f "$PORTHOLE_SERVER_BIN")
require_cmd curl openssl python3
SRV_DATA=$WORK/srv
SRV_BUNDLES=$WORK/bundles
declare -A DEV_ID=() DEV_DIR=()

# srv_wait_log FILE REGEX TIMEOUT_S [FROM_BYTE]: waits until a line of FILE
# (from byte FROM_BYTE) matches the extended REGEX, following it with tail
# -F (no polling). Prints the line; 1 after TIMEOUT_S seconds or as soon as
# process WAIT_PID (if set) has exited with no match. (lib.sh's log_wait.)
srv_wait_log() { log_wait "$1" "$2" "$3" "${4:-0}" "${WAIT_PID:-}"; }

# srv_log_mark: the current size of the server's log (for srv_wait_log).
srv_log_mark() { stat -c %s "$SRV_LOG"; }

# server ARGS...: porthole-server --data-dir $SRV_DATA ARGS (sets RC OUT ERR).
server() { run "$SERVER" --data-dir "$SRV_DATA" "$@"; }

# srv_json EXPR [TEXT]: a Python expression over the JSON in TEXT (default
# $OUT), as `j`.
srv_json() {
  printf '%s' "${2-$OUT}" | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

# _srv_ports: writes fresh loopback ports into server.toml.
_srv_ports() {
  SRV_DEV_PORT=$(free_port)
  SRV_OP_PORT=$(free_port)
  SRV_RELAY_PORT=$(free_port)
  local base
  base=$(sed '/^# --- srv_lib ports ---$/,$d' "$SRV_DATA/server.toml")
  {
    printf '%s\n' "$base" "# --- srv_lib ports ---"
    printf '[device_api]\nlisten = "127.0.0.1"\nport = %s\n' "$SRV_DEV_PORT"
    printf '[operator_api]\nlisten = "127.0.0.1"\nport = %s\n' "$SRV_OP_PORT"
    printf '[relay]\nlisten = "127.0.0.1"\nport = %s\n' "$SRV_RELAY_PORT"
    printf '%s' "${SRV_EXTRA_TOML:-}"
  } >"$SRV_DATA/server.toml.new"
  mv -f "$SRV_DATA/server.toml.new" "$SRV_DATA/server.toml"
  RAS_URL=https://127.0.0.1:$SRV_DEV_PORT/ras/
  DIRECTOR_URL=https://127.0.0.1:$SRV_DEV_PORT/director/
  OP_URL=https://127.0.0.1:$SRV_OP_PORT
}

srv_init() {
  server init --hostname 127.0.0.1
  [ "$RC" = 0 ] || fatal "porthole-server init failed: $ERR"
  SRV_TOKEN=$(printf '%s\n' "$OUT" | sed -n 's/^  \(pht_[A-Za-z0-9_-]*\)$/\1/p')
  [ -n "$SRV_TOKEN" ] || fatal "init printed no token: $OUT"
  SRV_CA=$SRV_DATA/tls/ca.pem
  SRV_CA_PIN=$(openssl x509 -in "$SRV_CA" -outform DER | sha256sum | cut -d' ' -f1)
  _srv_ports
}

# srv_start: runs the server and waits (at most 20 s) for its ready line. A
# port taken in the meantime: new ports, up to three tries.
srv_start() {
  local try line
  for try in 1 2 3; do
    SRV_LOG=$WORK/server.$((${SRV_STARTS:-0} + 1)).log
    SRV_STARTS=$((${SRV_STARTS:-0} + 1))
    "$SERVER" --data-dir "$SRV_DATA" run >"$SRV_LOG" 2>&1 &
    SRV_PID=$!
    at_exit _srv_stop_pid "$SRV_PID"
    # The log line, or the process's end.
    WAIT_PID=$SRV_PID srv_wait_log "$SRV_LOG" 'porthole-server: (ready|.*(in use|error))' 20 >/dev/null || true
    line=$(grep -m1 -E 'porthole-server: ready' "$SRV_LOG" || true)
    if [ -n "$line" ] && kill -0 "$SRV_PID" 2>/dev/null; then
      trace "server ready (pid $SRV_PID, device API $SRV_DEV_PORT, operator API $SRV_OP_PORT)"
      return 0
    fi
    _srv_stop_pid "$SRV_PID"
    if grep -q -i 'in use' "$SRV_LOG"; then
      trace "a port was taken; new ports (try $try)"
      _srv_ports
      continue
    fi
    break
  done
  fatal "porthole-server did not start: $(tail -5 "$SRV_LOG")"
}

_srv_stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# srv_stop: SIGTERM and wait; srv_kill9: SIGKILL and wait.
srv_stop() { _srv_stop_pid "$SRV_PID"; }
srv_kill9() {
  kill -KILL "$SRV_PID" 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
}

# srv_device_add NAME: a device and its bundle ($WORK/bundles/NAME).
srv_device_add() {
  local name=$1
  mkdir -p "$SRV_BUNDLES"
  server device add "$name" --out "$SRV_BUNDLES/$name"
  [ "$RC" = 0 ] || fatal "device add $name: $ERR"
  DEV_DIR[$name]=$SRV_BUNDLES/$name
  DEV_ID[$name]=$(openssl x509 -in "$SRV_BUNDLES/$name/client.pem" -noout -subject -nameopt multiline |
    sed -n 's/^ *commonName *= *//p')
  [ -n "${DEV_ID[$name]}" ] || fatal "no CN in $name's certificate"
}

# srv_agent_bundle NAME DIR: `device add NAME` with its bundle's files in
# DIR/etc and DIR/agent.toml, the bundle's agent.toml with its state and run
# directories moved under DIR (var, run).
srv_agent_bundle() {
  local name=$1 dir=$2
  mkdir -p -m 700 "$dir/etc" "$dir/var" "$dir/run"
  server device add "$name" --out "$WORK/bundles/$name" --device-dir "$dir/etc"
  expect_rc 0 "device add $name"
  cp -p "$WORK/bundles/$name/"* "$dir/etc/"
  sed -e "s#\"/var/lib/porthole/#\"$dir/var/#" -e "s#\"/run/porthole\"#\"$dir/run\"#" \
    "$WORK/bundles/$name/agent.toml" >"$dir/agent.toml"
}

# _http_run ARGS...: curl ARGS with the body in OUT and the status in
# HTTP_CODE (000 when no answer); RC is curl's exit code.
_http_run() {
  local hdr=$WORK/.http_hdr
  run curl -sS -o "$WORK/.http_body" -D "$hdr" -w '%{http_code}' "$@"
  HTTP_CODE=$OUT
  OUT=$(cat "$WORK/.http_body" 2>/dev/null || true)
  HTTP_HEADERS=$(cat "$hdr" 2>/dev/null || true)
  rm -f "$WORK/.http_body" "$hdr"
}

# dev_curl NAME METHOD PATH [BODY] [CURL ARGS...]: a RAC-format request as
# device NAME (its bundle's client.pem, pkey.pem, root.crt) to RAS_URL/PATH
# (PATH starting with "director/" goes to DIRECTOR_URL instead).
dev_curl() {
  local name=$1 method=$2 path=$3 body=${4-} d url
  shift 3
  (($# > 0)) && shift
  d=${DEV_DIR[$name]}
  case $path in
  director/*) url=$DIRECTOR_URL${path#director/} ;;
  *) url=$RAS_URL$path ;;
  esac
  local args=(--cert "$d/client.pem" --key "$d/pkey.pem" --cacert "$d/root.crt"
    -X "$method" --max-time "${CURL_MAX_TIME:-15}")
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$body")
  fi
  _http_run "${args[@]}" "$@" "$url"
}

# op_curl METHOD PATH [BODY] [CURL ARGS...]: the operator API with the admin
# token.
op_curl() {
  local method=$1 path=$2 body=${3-}
  shift 2
  (($# > 0)) && shift
  local args=(--cacert "$SRV_CA" -H "Authorization: Bearer $SRV_TOKEN"
    -X "$method" --max-time "${CURL_MAX_TIME:-15}")
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$body")
  fi
  _http_run "${args[@]}" "$@" "$OP_URL$path"
}

# expect_http CODE WHAT: the last dev_curl/op_curl answered CODE.
expect_http() {
  [ "$HTTP_CODE" = "$1" ] ||
    fail "$2: HTTP $HTTP_CODE, wanted $1; body: ${OUT:0:400}; curl: ${ERR:0:300}"
}

# open_session DEVICE KEYFILE...: opens a session via the operator API;
# sets SESSION_ID.
open_session() {
  local dev=$1 keys=() k
  shift
  for k in "$@"; do keys+=("$(cat "$k")"); done
  local body
  body=$(python3 -c 'import json,sys; print(json.dumps({"device": sys.argv[1], "keys": sys.argv[2:]}))' \
    "$dev" "${keys[@]}")
  op_curl POST /api/v1/sessions "$body"
  [ "$HTTP_CODE" = 201 ] || { fail "open session on $dev: HTTP $HTTP_CODE $OUT"; return 0; }
  SESSION_ID=$(srv_json 'j["id"]')
}
