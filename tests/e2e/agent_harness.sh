#!/usr/bin/env bash
# agent_harness: the server side that the porthole-agent scenarios stand on
# works, before any agent runs (agent_lib.sh):
#   - porthole-test-tuf output verifies with the agent's own verifier
#     (porthole-agent check-policy); tampered, rogue-signed, expired and
#     under-threshold metadata fail with exit 1 and the named reason; a root
#     rotation verifies and a rotation without the old key does not;
#   - the fake RAS refuses a client without a certificate and one from
#     another CA, serves sessions (404 without session.json), public-keys,
#     commands, results and director files from its state directory, obeys
#     fault files, keeps connections alive and records every request;
#   - the relay sshd lets the device key in for a remote forward on
#     127.0.0.1 (through which the RAS answers), and nothing else;
#   - write_agent_config writes configs the agent loads in all three modes.
#
#   PORTHOLE_AGENT_BIN=build/src/agent/porthole-agent \
#   PORTHOLE_TEST_TUF=build/tests/tools/porthole-test-tuf \
#     bash tests/e2e/agent_harness.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"

X=$WORK/tufx  # metadata forged by hand in this scenario
mkdir -m 700 "$X"

# check_policy WANT_RC WHAT ARGS...: porthole-agent check-policy ARGS.
check_policy() {
  local want=$1 what=$2
  shift 2
  run "$PORTHOLE_AGENT" check-policy "$@"
  expect_rc "$want" "$what"
}
# expect_err TEXT WHAT: the last run's stderr holds TEXT.
expect_err() {
  [[ $ERR == *"$1"* ]] || fail "$2: stderr lacks '$1': $ERR"
}
expect_out() {
  [[ $OUT == *"$1"* ]] || fail "$2: stdout lacks '$1': $OUT"
}

# ---- porthole-test-tuf: keys and usage ----

trace "porthole-test-tuf keygen and usage errors"
for t in ed25519 rsa ecdsa; do
  run "$TEST_TUF" keygen --type "$t" --out "$X/$t.key"
  expect_rc 0 "keygen --type $t"
  [[ $OUT =~ ^[0-9a-f]{64}$ ]] || fail "keygen --type $t: stdout is not a key id: $OUT"
  [ "$(stat -c %a "$X/$t.key")" = 600 ] || fail "keygen $t: mode $(stat -c %a "$X/$t.key"), want 600"
  run "$TEST_TUF" keyid --key "$X/$t.key"
  expect_rc 0 "keyid $t"
done
json_check "$(cat "$X/rsa.key")" 'assert d["keytype"] == "RSA", d["keytype"]' "rsa key file"
json_check "$(cat "$X/ed25519.key")" 'assert d["keytype"] == "ED25519" and len(d["keyval"]["public"]) == 64, d' "ed25519 key file"

run "$TEST_TUF"
expect_rc 2 "no arguments"
run "$TEST_TUF" frobnicate
expect_rc 2 "unknown command"
run "$TEST_TUF" keygen --type ed25519 --out "$X/k" --bogus 1
expect_rc 2 "unknown option"
expect_err "unknown option '--bogus'" "unknown option"
run "$TEST_TUF" keygen --type dsa --out "$X/k"
expect_rc 2 "keygen --type dsa"
run "$TEST_TUF" keygen --type ed25519 --out "$X/k" --out "$X/k2"
expect_rc 2 "--out twice"
run "$TEST_TUF" root --key "$X/ed25519.key" --out "$X/r.json"
expect_rc 2 "root without an expiry"
expect_err "exactly one of --expires-days, --expires-seconds or --expires" "root without an expiry"
run "$TEST_TUF" root --key "$X/ed25519.key" --expires-days 1 --expires 2030-01-01T00:00:00Z --out "$X/r.json"
expect_rc 2 "two expiries"
run "$TEST_TUF" root --key "$X/ed25519.key" --expires-days 1 --version 0 --out "$X/r.json"
expect_rc 2 "--version 0"
run "$TEST_TUF" root --key "$X/ed25519.key" --expires-days 1 --threshold nosuchrole=1 --out "$X/r.json"
expect_rc 2 "threshold of an absent role"
run "$TEST_TUF" root --key "$X/absent.key" --expires-days 1 --out "$X/r.json"
expect_rc 1 "a missing key file"
expect_err "$X/absent.key" "a missing key file"
run "$TEST_TUF" remote-sessions --key "$X/rsa.key" --expires-days 1 \
  --authorized-key-file "$X/rsa.key" --out "$X/rs.json"
expect_rc 1 "a key file that is not an OpenSSH public key"
[ ! -e "$X/r.json" ] && [ ! -e "$X/rs.json" ] || fail "a failed run left an output file"

# ---- the shared fixtures: RAS, relay, policy, session ----

start_ras
new_key device
new_key alice
new_key bob
start_relay "$(pub_path device)"
make_policy --operator "$(pub_path alice)" --allow-command echo=test,hello \
  --allow-command reboot
write_session --operator "$(pub_path alice)"
D=$RAS_STATE/director

# ---- metadata verifies with the agent's verifier ----

trace "check-policy on make_policy's output"
check_policy 0 "make_policy output" --root "$D/root.json" --metadata "$D/remote-sessions.json" \
  --session "$RAS_STATE/session.json"
expect_out "valid remote-sessions version 1" "make_policy output"
expect_out "allowed command: echo: test hello" "make_policy output"
expect_out "allowed command: reboot" "make_policy output"
expect_out "session allowed (1 operator keys, relay $RELAY_URL)" "make_policy output"
json_check "$(cat "$D/remote-sessions.json")" '
s = d["signed"]
assert s["_type"] == "Remote-Sessions" and s["version"] == 1, s
assert s["remote_sessions"]["ssh"]["ra_server_hosts"] == ["127.0.0.1"], s
assert s["remote_sessions"]["ssh"]["ra_server_ssh_pubkeys"] == ["'"$RELAY_HOST_KEY_PUB"'"], s
' "remote-sessions.json content"
json_check "$(cat "$D/root.json")" '
s = d["signed"]
assert sorted(s["roles"]) == ["remote-sessions", "root", "snapshot", "targets", "timestamp"], s["roles"]
' "root.json roles"

write_session --operator "$(pub_path alice)" --operator "$(pub_path bob)"
check_policy 1 "an operator the policy does not list" --root "$D/root.json" \
  --metadata "$D/remote-sessions.json" --session "$RAS_STATE/session.json"
expect_err "check-policy: session not allowed:" "an operator the policy does not list"
write_session --operator "$(pub_path alice)" --url "ssh://$RELAY_USER@relay.example:$RELAY_PORT"
check_policy 1 "a relay host the policy does not list" --root "$D/root.json" \
  --metadata "$D/remote-sessions.json" --session "$RAS_STATE/session.json"
write_session --operator "$(pub_path alice)" --expires-in -60
check_policy 1 "an expired session" --root "$D/root.json" \
  --metadata "$D/remote-sessions.json" --session "$RAS_STATE/session.json"
expect_err "session expired at" "an expired session"
write_session --operator "$(pub_path alice)"

trace "tampered, rogue, expired and under-threshold metadata fail"
python3 - "$D/remote-sessions.json" "$X/tampered.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["signed"]["remote_sessions"]["ssh"]["ra_server_hosts"].append("evil.example")
json.dump(d, open(sys.argv[2], "w"))
EOF
check_policy 1 "a tampered document" --root "$D/root.json" --metadata "$X/tampered.json"
expect_err "check-policy: Failed to verify remote-sessions metadata:" "a tampered document"
expect_err "[threshold-not-met]" "a tampered document"

cp "$D/remote-sessions.json" "$X/good.json"
make_policy --operator "$(pub_path alice)" --rogue
check_policy 1 "signed by a key the root does not list" --root "$D/root.json" \
  --metadata "$D/remote-sessions.json"
expect_err "Failed to verify remote-sessions metadata" "rogue key"
expect_err "[threshold-not-met]" "rogue key"
make_policy --operator "$(pub_path alice)" --expires-seconds -5
check_policy 1 "an expired document" --root "$D/root.json" --metadata "$D/remote-sessions.json"
expect_err "[expired]" "an expired document"
make_policy --operator "$(pub_path alice)" --version 7
check_policy 0 "make_policy --version 7" --root "$D/root.json" --metadata "$D/remote-sessions.json"
expect_out "version 7" "make_policy --version 7"

# Two remote-sessions keys, threshold 2; RSA and ECDSA signers.
run "$TEST_TUF" root --key "$X/ed25519.key" --role-key "remote-sessions=$X/rsa.key,$X/ecdsa.key" \
  --threshold remote-sessions=2 --version 1 --expires-days 10 --out "$X/root-t2.json"
expect_rc 0 "root with threshold 2"
run "$TEST_TUF" remote-sessions --key "$X/rsa.key" --expires-days 1 --host 127.0.0.1 \
  --authorized-key-file "$(pub_path alice)" --relay-key-file "$RELAY_HOST_KEY_FILE" --out "$X/rs-one.json"
expect_rc 0 "remote-sessions by one key"
check_policy 1 "one signature of two" --root "$X/root-t2.json" --metadata "$X/rs-one.json"
expect_err "signature threshold of 2 not met" "one signature of two"
run "$TEST_TUF" remote-sessions --key "$X/rsa.key" --key "$X/ecdsa.key" --expires-days 1 \
  --host 127.0.0.1 --authorized-key-file "$(pub_path alice)" \
  --relay-key-file "$RELAY_HOST_KEY_FILE" --empty-commands --out "$X/rs-two.json"
expect_rc 0 "remote-sessions by two keys"
check_policy 0 "two signatures of two (RSA-PSS and ECDSA)" --root "$X/root-t2.json" \
  --metadata "$X/rs-two.json" --session "$RAS_STATE/session.json"
json_check "$(cat "$X/rs-two.json")" '
assert d["signed"]["remote_commands"]["allowed_commands"] == {}, d["signed"]
assert [s["method"] for s in d["signatures"]] == ["rsassa-pss-sha256", "ecdsa-sha2-nistp256"], d["signatures"]
' "--empty-commands and signature methods"

# sign: any signed value, e.g. a remote-sessions document without commands.
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["signed"]))' \
  "$X/good.json" >"$X/unsigned.json"
run "$TEST_TUF" sign --key "$TUF_RS_KEY" --in "$X/unsigned.json" --out "$X/resigned.json"
expect_rc 0 "sign"
check_policy 0 "a document re-signed with sign" --root "$D/root.json" --metadata "$X/resigned.json"

trace "root rotation"
cp "$D/root.json" "$X/1.root.json"
rotate_root --new-rs-key
[ -f "$D/2.root.json" ] && cmp -s "$D/2.root.json" "$D/root.json" ||
  fail "rotate_root did not publish 2.root.json as root.json too"
run "$TEST_TUF" verify-root --trusted "$X/1.root.json" --update "$D/2.root.json"
expect_rc 0 "verify-root 1 -> 2"
expect_out "valid root version 2" "verify-root 1 -> 2"
make_policy --operator "$(pub_path alice)"
check_policy 0 "metadata by the rotated remote-sessions key, new root" --root "$D/2.root.json" \
  --metadata "$D/remote-sessions.json"
check_policy 1 "metadata by the rotated remote-sessions key, old root" --root "$X/1.root.json" \
  --metadata "$D/remote-sessions.json"
expect_err "[threshold-not-met]" "old root, new key"
# Version 2 signed by the new root key only: the old root's threshold fails.
run "$TEST_TUF" root --key "$TUF_ROOT_KEY" --role-key "remote-sessions=$TUF_RS_KEY" \
  --version 2 --expires-days 10 --out "$X/2-unsigned-by-old.json"
expect_rc 0 "root 2 without the old key"
run "$TEST_TUF" verify-root --trusted "$X/1.root.json" --update "$X/2-unsigned-by-old.json"
expect_rc 1 "a rotation not signed by the old root key"
expect_err "[threshold-not-met]" "a rotation not signed by the old root key"

# ---- the fake RAS ----

trace "the RAS requires a client certificate from its CA"
U=https://127.0.0.1:$RAS_PORT
n0=$(ras_count GET /ras/sessions)
run curl -sS --cacert "$RAS_PKI/ca.crt" "$U/ras/sessions"
[ "$RC" != 0 ] || fail "a client without a certificate got an answer: $OUT"
run curl -sS --cacert "$RAS_PKI/ca.crt" --cert "$RAS_PKI/rogue.crt" --key "$RAS_PKI/rogue.key" \
  "$U/ras/sessions"
[ "$RC" != 0 ] || fail "a client certificate from another CA got an answer: $OUT"
[ "$(ras_count GET /ras/sessions)" = "$n0" ] || fail "a refused client reached requests.jsonl"
grep -q 'PEER_DID_NOT_RETURN_A_CERTIFICATE' "$RAS_STATE/tls-errors.jsonl" ||
  fail "tls-errors.jsonl lacks the missing certificate: $(cat "$RAS_STATE/tls-errors.jsonl")"
grep -q 'CERTIFICATE_VERIFY_FAILED' "$RAS_STATE/tls-errors.jsonl" ||
  fail "tls-errors.jsonl lacks the rogue certificate: $(cat "$RAS_STATE/tls-errors.jsonl")"
# The server certificate is for 127.0.0.1 and signed by the test CA.
run curl -sS --cacert "$RAS_PKI/rogue-ca.crt" --cert "$RAS_PKI/client.crt" \
  --key "$RAS_PKI/client.key" "$U/ras/sessions"
[ "$RC" != 0 ] || fail "the server certificate verified against another CA"

trace "sessions: 200 with session.json, 404 without, fault files"
# ras_get PATH [CURL_ARGS...]: STATUS and BODY (also in $WORK/.body, byte
# for byte) of one request.
ras_get() {
  local path=$1
  shift
  STATUS=$(ras_curl -o "$WORK/.body" -w '%{http_code}' "$@" "$path") || fail "curl $path failed"
  BODY=$(cat "$WORK/.body")
}
# body_is FILE WHAT: the last ras_get's body is exactly FILE's content.
body_is() {
  cmp -s "$WORK/.body" "$1" || fail "$2: the body is not $1: $(head -c 300 "$WORK/.body")"
}
ras_get /ras/sessions -H 'x-ats-namespace: 0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11'
[ "$STATUS" = 200 ] || fail "sessions with session.json: $STATUS"
body_is "$RAS_STATE/session.json" "sessions"
json_check "$BODY" '
s = d["ssh"]
assert s["reverse_port"] == '"$SESSION_PORT"' and s["ra_server_url"] == "'"$RELAY_URL"'", s
assert s["authorized_pubkeys"] == ["'"$(pub_line alice)"'"], s
utc(s["expires_at"])
' "the session document"
json_check "$(ras_last GET /ras/sessions)" '
assert d["client_cn"] == "device-0001", d
assert d["headers"]["x-ats-namespace"] == "0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11", d
assert d["headers"]["user-agent"].startswith("curl/"), d
assert d["status"] == 200, d
' "the recorded sessions request"
clear_session
ras_get /ras/sessions
[ "$STATUS" = 404 ] || fail "sessions without session.json: $STATUS, want 404"
ras_fault sessions 500 '{"code":"boom","description":"outage"}'
ras_get /ras/sessions
[ "$STATUS" = 500 ] && [ "$BODY" = '{"code":"boom","description":"outage"}' ] ||
  fail "sessions.status 500: $STATUS $BODY"
ras_clear_fault sessions
ras_delay sessions 1.5
t=$(ras_curl -o /dev/null -w '%{time_total}' /ras/sessions)
ras_clear_fault sessions
python3 -c "import sys; sys.exit(not float('$t') >= 1.4)" || fail "sessions.delay 1.5: answered in ${t}s"
write_session --operator "$(pub_path alice)"
ras_get /ras/sessions
[ "$STATUS" = 200 ] || fail "sessions after write_session again: $STATUS"

trace "keep-alive: two requests on one connection"
ras_curl -v -o /dev/null -o /dev/null "$U/ras/sessions" /ras/commands 2>"$WORK/curl-v.err" ||
  fail "two requests in one curl failed"
grep -q 'Re-using existing connection' "$WORK/curl-v.err" ||
  fail "the connection was not kept alive: $(grep -i connect "$WORK/curl-v.err" | head -5)"

trace "public-keys"
ras_get /ras/public-keys -H 'Content-Type: application/json' \
  --data "{\"key\": \"$(pub_line device)\"}"
[ "$STATUS" = 200 ] || fail "POST public-keys: $STATUS $BODY"
[ "$(cat "$RAS_STATE/device-key.pub")" = "$(pub_line device)" ] ||
  fail "device-key.pub: $(cat "$RAS_STATE/device-key.pub")"
ras_fault public-keys 503
ras_get /ras/public-keys -H 'Content-Type: application/json' --data '{"key": "ssh-ed25519 AAAA other"}'
[ "$STATUS" = 503 ] || fail "public-keys.status 503: $STATUS"
[ "$(cat "$RAS_STATE/device-key.pub")" = "$(pub_line device)" ] ||
  fail "a refused public-keys POST replaced device-key.pub"
ras_clear_fault public-keys
ras_get /ras/public-keys --data 'not json'
[ "$STATUS" = 400 ] || fail "public-keys with a bad body: $STATUS"
[ "$(ras_count POST /ras/public-keys)" = 3 ] || fail "public-keys count $(ras_count POST /ras/public-keys), want 3"

trace "director files"
ras_get /director/root.json
[ "$STATUS" = 200 ] || fail "director/root.json: $STATUS"
body_is "$D/root.json" "director/root.json"
ras_get /director/2.root.json
[ "$STATUS" = 200 ] || fail "director/2.root.json: $STATUS"
ras_get /director/3.root.json
[ "$STATUS" = 404 ] || fail "director/3.root.json: $STATUS, want 404"
ras_get /director/remote-sessions.json
[ "$STATUS" = 200 ] || fail "director/remote-sessions.json: $STATUS"
body_is "$D/remote-sessions.json" "director/remote-sessions.json"
ras_fault director-remote-sessions.json 500
ras_get /director/remote-sessions.json
[ "$STATUS" = 500 ] || fail "director-remote-sessions.json.status: $STATUS"
ras_get /director/root.json
[ "$STATUS" = 200 ] || fail "a fault on one director file hit root.json: $STATUS"
ras_clear_fault director-remote-sessions.json
ras_fault director 424
ras_get /director/root.json
[ "$STATUS" = 424 ] || fail "director.status 424: $STATUS"
ras_clear_fault director
ras_get /director/..%2fsession.json
[ "$STATUS" = 404 ] || fail "a director path outside director/: $STATUS"

trace "commands and results"
ras_get /ras/commands
[ "$STATUS" = 200 ] && [ "$BODY" = '{"values":[]}' ] || fail "commands without commands.json: $STATUS $BODY"
CMD='{"values":[{"id":"urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11","name":"echo","args":["test"],"created_at":"2025-07-30T16:00:00Z"}]}'
printf '%s\n' "$CMD" | atomic_write "$RAS_STATE/commands.json"
ras_get /ras/commands
body_is "$RAS_STATE/commands.json" "commands"
URN=urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11
ras_get "/ras/commands/$URN/result" -H 'Content-Type: application/json' \
  --data '{"success":true,"stdout":"test","stderr":"","error":null,"exit_code":0,"finished_at":"2025-07-30T16:00:03Z"}'
[ "$STATUS" = 200 ] || fail "POST result: $STATUS"
json_check "$(cat "$RAS_STATE/results.jsonl")" '
assert d["id"] == "'"$URN"'" and d["result"]["stdout"] == "test", d
' "results.jsonl"
ras_fault result 400 '{"code":"command_not_found","description":"gone"}'
ras_get "/ras/commands/$URN/result" --data '{"success":true}'
[ "$STATUS" = 400 ] && [[ $BODY == *command_not_found* ]] || fail "result.status 400: $STATUS $BODY"
ras_clear_fault result
[ "$(wc -l <"$RAS_STATE/results.jsonl")" = 1 ] || fail "a refused result was stored"
ras_get /ras/nowhere
[ "$STATUS" = 404 ] || fail "an unknown path: $STATUS"

trace "wait_request and wait_log follow the request log"
mark=$(file_size "$RAS_STATE/requests.jsonl")
ras_curl -o /dev/null -X GET "/ras/commands?long_poll=1" &
bg=$!
line=$(wait_request GET /ras/commands 10 "$mark") || fail "wait_request did not see GET /ras/commands"
wait "$bg" || true
[[ $line == *'"path":"/ras/commands?long_poll=1"'* ]] || fail "wait_request printed: $line"
if wait_log "$RAS_STATE/requests.jsonl" '"method":"DELETE"' 1 "$mark" >/dev/null; then
  fail "wait_log matched a request that never came"
fi

# ---- the relay ----

trace "the relay lets the device key in for a remote forward on 127.0.0.1 only"
# relay_ssh KEY OPTIONS...: the real ssh client to the relay as RELAY_USER.
relay_ssh() {
  local key=$1
  shift
  timeout 30 ssh -F /dev/null -o UserKnownHostsFile="$WORK/known_hosts" \
    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
    -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10 \
    -o ExitOnForwardFailure=yes -i "$(key_path "$key")" -p "$RELAY_PORT" \
    "$@" "$RELAY_USER@127.0.0.1" </dev/null
}
[[ $RELAY_HOST_KEY_PUB == ssh-ed25519\ * ]] || fail "RELAY_HOST_KEY_PUB: $RELAY_HOST_KEY_PUB"
[ "$RELAY_URL" = "ssh://$RELAY_USER@127.0.0.1:$RELAY_PORT" ] || fail "RELAY_URL: $RELAY_URL"
# expect_forward WHAT: the device key gets a dynamic remote forward on
# 127.0.0.1 at the relay, through which the RAS answers (TLS still checks
# 127.0.0.1 and the CA); the ssh client is stopped again.
expect_forward() {
  local what=$1 fwd res rport out
  relay_ssh device -N -R "127.0.0.1:0:127.0.0.1:$RAS_PORT" 2>"$WORK/fwd.err" &
  fwd=$!
  res=$(FOLLOW_PID=$fwd _follow "$WORK/fwd.err" 0 20 "Allocated port")
  if [ "${res%% *}" = 1 ]; then
    rport=$(sed -n 's/.*Allocated port \([0-9]*\) .*/\1/p' "$WORK/fwd.err" | head -1)
    out=$(ras_curl -w ' %{http_code}' "https://127.0.0.1:$rport/ras/sessions") ||
      fail "$what: no answer through the relay's forward on port $rport"
    [[ $out == *' 200' ]] || fail "$what: through the relay: $out"
  else
    fail "$what: the device key got no dynamic remote forward: $(cat "$WORK/fwd.err"); relay log: $(tail -8 "$RELAY_LOG")"
  fi
  kill "$fwd" 2>/dev/null || true
  wait "$fwd" 2>/dev/null || true
}
expect_forward "the relay"
grep -q "Accepted publickey for $RELAY_USER" "$RELAY_LOG" || fail "relay log lacks the device login"

# A relay outage: stop_relay, then restart_relay on the same port and key.
stop_relay
rc=0
relay_ssh device -N -R "127.0.0.1:0:127.0.0.1:$RAS_PORT" 2>"$WORK/down.err" || rc=$?
[ "$rc" = 255 ] || fail "the stopped relay answered (exit $rc): $(cat "$WORK/down.err")"
restart_relay
expect_forward "the restarted relay"

rc=0
relay_ssh device -N -R "localhost:0:127.0.0.1:$RAS_PORT" 2>"$WORK/fwd2.err" || rc=$?
[ "$rc" = 255 ] && grep -q 'remote port forwarding failed' "$WORK/fwd2.err" ||
  fail "a forward on 'localhost' was not refused (exit $rc): $(cat "$WORK/fwd2.err")"
rc=0
out=$(relay_ssh device -o RemoteCommand="echo shell-ok" 2>"$WORK/cmd.err") || rc=$?
[ "$rc" != 0 ] && [[ $out != *shell-ok* ]] || fail "the relay ran a command for the device key"
rc=0
relay_ssh alice -N -R "127.0.0.1:0:127.0.0.1:$RAS_PORT" 2>"$WORK/alice.err" || rc=$?
[ "$rc" = 255 ] && grep -q 'Permission denied' "$WORK/alice.err" ||
  fail "the relay let in a key it does not list (exit $rc): $(cat "$WORK/alice.err")"
# relay_authorize with no argument: the key the device POSTed.
relay_authorize
grep -qF "permitlisten=\"127.0.0.1:*\" $(pub_line device)" \
  "$(getent passwd "$RELAY_USER" | cut -d: -f6)/.ssh/authorized_keys" ||
  fail "relay_authorize did not install device-key.pub"

# ---- agent configs ----

trace "write_agent_config: the agent loads all three modes"
AGENT_TARGET_HOST_PORT=127.0.0.1:22 write_agent_config target_host
grep -qx 'poll_timeout = { secs = 1, nanos = 0 }' "$WORK/agent.toml" || fail "poll_timeout not written"
write_agent_config spawned_sshd
AGENT_DEVICE_KEY=$(key_path device) AGENT_TORIZON_EXTRA='namespace = "0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11"' \
  write_agent_config embedded 'shell = "/bin/sh"'
run "$PORTHOLE_AGENT" --check-config --config "$WORK/agent.toml"
expect_rc 0 "check-config of the embedded config"
expect_out "$RAS_URL" "check-config of the embedded config"
expect_out "0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11" "check-config: namespace"

# ---- start_agent / stop_agent plumbing ----

trace "start_agent: the agent process runs and is stopped"
make_policy --operator "$(pub_path alice)"
mark=$(file_size "$RAS_STATE/requests.jsonl")
start_agent
if line=$(WAIT_PID=$AGENT_PID wait_request POST /ras/public-keys 20 "$mark"); then
  # A daemon is there: it introduced itself with the device key.
  json_check "$line" '
assert d["client_cn"] == "device-0001", d
assert json.loads(d["body"])["key"].split()[:2] == "'"$(pub_line device)"'".split()[:2], d["body"]
assert d["headers"].get("user-agent"), d
' "the agent's public-keys request"
  agent_alive || fail "the agent exited after POST public-keys; log: $(tail -5 "$AGENT_LOG")"
elif grep -q 'not implemented' "$AGENT_LOG"; then
  trace "the agent daemon is not implemented yet; skipped its public-keys check"
else
  fail "the agent neither POSTed public-keys nor said why: $(tail -10 "$AGENT_LOG")"
fi
stop_agent
agent_alive && fail "stop_agent left the agent running"
trace "agent exit status $AGENT_RC"

pass
