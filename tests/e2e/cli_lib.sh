# shellcheck shell=bash
# Shared by the cli_*.sh scenarios (after lib.sh): the operator CLI against
# tests/tools/operator_api_fake.py, which plays porthole-server's operator
# API (docs/operator-api.md) until the real server exists.
#
#   make_pki            $WORK/pki (mkcerts.sh), $WORK/pki/chain.pem (server
#                       certificate + CA, as porthole-server sends them) and
#                       CA_PIN, the CA's DER SHA-256
#   start_fake STATE    the fake on 127.0.0.1 (inside NSX, a command prefix
#                       such as (ip netns exec NS), when set); sets API_URL
#   ph ARGS...          runs porthole (in NSX) as the operator, with
#                       HOME=$OP_HOME; sets RC, OUT, ERR like run
#   fake_requests       every API request the fake has seen, as JSON

require_porthole
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)
NSX=()
OP_HOME=$WORK/home
mkdir -p -m 700 "$OP_HOME" "$OP_HOME/.ssh"
unset XDG_CONFIG_HOME XDG_CACHE_HOME

make_pki() {
  bash "$TOOLS/mkcerts.sh" "$WORK/pki" || fatal "mkcerts.sh failed"
  cat "$WORK/pki/server.crt" "$WORK/pki/ca.crt" >"$WORK/pki/chain.pem"
  CA_PIN=$(openssl x509 -in "$WORK/pki/ca.crt" -outform DER | sha256sum | awk '{print $1}')
}

start_fake() {
  local state=$1 fifo=$WORK/fake.port port
  mkfifo "$fifo"
  ${NSX[@]+"${NSX[@]}"} python3 "$TOOLS/operator_api_fake.py" --cert "$WORK/pki/chain.pem" \
    --key "$WORK/pki/server.key" --state "$state" >"$fifo" 2>"$WORK/fake.err" &
  FAKE_PID=$!
  at_exit _stop_pid "$FAKE_PID"
  read -r -t 20 port <"$fifo" || fatal "operator_api_fake.py did not start: $(cat "$WORK/fake.err")"
  API_URL=https://localhost:$port
  trace "operator API fake on $API_URL (pid $FAKE_PID)"
}

_stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

ph() {
  run ${NSX[@]+"${NSX[@]}"} env HOME="$OP_HOME" PORTHOLE_SSH="${PORTHOLE_SSH:-ssh}" \
    "$PORTHOLE" "$@"
}

fake_requests() {
  ${NSX[@]+"${NSX[@]}"} curl -sS --cacert "$WORK/pki/ca.crt" "$API_URL/_test/requests"
}

# expect_out TEXT WHAT: the last run's stdout holds TEXT (fixed string).
expect_out() {
  [[ "$OUT" == *"$1"* ]] || fail "$2: stdout lacks '$1'; stdout: ${OUT:0:600}; stderr: ${ERR:0:400}"
}
# expect_err TEXT WHAT: the last run's stderr holds TEXT.
expect_err() {
  [[ "$ERR" == *"$1"* ]] || fail "$2: stderr lacks '$1'; stderr: ${ERR:0:600}"
}
