#!/usr/bin/env bash
# server_device_api: the real porthole-server's device API over real mTLS,
# driven with curl as a RAC device would (PROTOCOL.md 3), the operator API
# with curl, and the real porthole-agent with a provisioning bundle.
#   sessions: 404 -> opened by an operator -> the DeviceSession (relay URL,
#     pinned relay key, keys, reverse port, expiry) -> closed -> 404 at once;
#     a long poll is answered as soon as the session opens.
#   public-keys: stored, a new key replaces it, both audited.
#   commands: created by an operator, listed to the device, result posted and
#     seen by the operator; an unknown id is 400 command_not_found.
#   director: root.json, 1.root.json, remote-sessions.json; 404 for absent
#     versions.
#   policy edits with `porthole-server policy` while the server runs.
#   refusals: a certificate from another CA (same CN), no certificate, a
#     device removed while the server runs.
#   the agent with the bundle's agent.toml (paths moved into $WORK)
#     registers its key and polls.
#
#   PORTHOLE_SERVER_BIN=build/src/server/porthole-server \
#   PORTHOLE_AGENT_BIN=build/src/agent/porthole-agent bash tests/e2e/server_device_api.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/server_lib.sh"
require_agent

srv_init
srv_start
srv_device_add dev1
srv_device_add dev2
new_key alice
new_key bob
new_key devkey
new_key devkey2

# ---- policy edits while the server runs ----
trace "policy allow-key / allow-command while running"
server policy allow-key "$(pub_path alice)" --name alice
expect_rc 0 "policy allow-key"
[[ $OUT == *"served as remote-sessions.json version 2"* ]] || fail "allow-key: $OUT"
server policy allow-command echo test
expect_rc 0 "policy allow-command"
server policy show --json
expect_rc 0 "policy show"
[ "$(srv_json 'j["remote_sessions"]["version"]')" = 3 ] || fail "policy show version: $OUT"
[ "$(srv_json 'j["draft_published"]')" = True ] || fail "draft not published: $OUT"
[ "$(srv_json '[k["name"] for k in j["published"]["authorized_keys"]]')" = "['alice']" ] ||
  fail "published keys: $OUT"
dev_curl dev1 GET director/remote-sessions.json
expect_http 200 "remote-sessions.json"
[ "$(srv_json 'j["signed"]["version"]')" = 3 ] || fail "served remote-sessions version: ${OUT:0:300}"
[[ $OUT == *"$(key_blob alice)"* ]] || fail "served remote-sessions.json lacks alice's key"

# ---- sessions ----
trace "sessions: 404, long poll, open, DeviceSession, close"
dev_curl dev1 GET sessions
expect_http 404 "no session yet"
[[ ${HTTP_HEADERS,,} == *"x-porthole-extensions: long-poll="* ]] ||
  fail "no X-Porthole-Extensions header: $HTTP_HEADERS"
etag=$(printf '%s\n' "$HTTP_HEADERS" | sed -n 's/^[Ee][Tt][Aa][Gg]: "\([0-9a-f]*\)".*/\1/p')
[ -n "$etag" ] || fail "no ETag on the 404: $HTTP_HEADERS"

# The long poll: held until the session opens.
d=${DEV_DIR[dev1]}
(
  curl -sS --max-time 30 --cert "$d/client.pem" --key "$d/pkey.pem" --cacert "$d/root.crt" \
    -o "$WORK/longpoll.body" -w '%{http_code}' \
    "${RAS_URL}sessions?wait=25&seen=$etag" >"$WORK/longpoll.code" 2>"$WORK/longpoll.err"
  date +%s%N >"$WORK/longpoll.done"
) &
lp_pid=$!
# The request is held before the session is opened: the server counts it.
held() {
  run curl -sS --cacert "$SRV_CA" "$OP_URL/metrics"
  [[ $OUT =~ porthole_long_poll_waiters\ [1-9] ]]
}
wait_for 10 held || fail "the long poll is not held: $(grep long_poll <<<"$OUT")"
open_body=$(python3 -c 'import json,sys; print(json.dumps({"device": "dev1", "keys": [sys.argv[1]]}))' "$(pub_line alice)")
t0=$(date +%s%N)
op_curl POST /api/v1/sessions "$open_body"
t1=$(date +%s%N)
expect_http 201 "open dev1's session"
SESSION_ID=$(srv_json 'j["id"]')
wait "$lp_pid" || fail "long poll curl failed: $(cat "$WORK/longpoll.err")"
[ "$(cat "$WORK/longpoll.code")" = 200 ] || fail "long poll answered $(cat "$WORK/longpoll.code")"
t2=$(cat "$WORK/longpoll.done")
# The device's answer comes with (or before) the operator's: at most a
# second after the open returned, whatever the machine's load.
open_ms=$(((t1 - t0) / 1000000))
lp_ms=$(((t2 - t1) / 1000000))
((lp_ms < 1000)) || fail "the long poll was answered ${lp_ms} ms after the open returned"
trace "open took ${open_ms} ms (curl included); the long poll was answered $((t2 > t1 ? lp_ms : 0)) ms after it"

dev_curl dev1 GET sessions
expect_http 200 "session visible"
[ "$OUT" = "$(cat "$WORK/longpoll.body")" ] || fail "long poll body differs from the poll: $(cat "$WORK/longpoll.body")"
relay_key=$(awk '{print $1" "$2}' "$SRV_DATA"/relay/*.pub 2>/dev/null | head -1)
printf '%s' "$OUT" | python3 -c '
import json, sys, datetime
j = json.load(sys.stdin)["ssh"]
dev, port, alice, relay_key = sys.argv[1:5]
want = "ssh://%s@127.0.0.1:%s" % (dev, port)
assert j["ra_server_url"] == want, ("ra_server_url", j["ra_server_url"], want)
assert [k.split()[1] for k in j["authorized_pubkeys"]] == [alice.split()[1]], j["authorized_pubkeys"]
assert 40000 <= j["reverse_port"] <= 49999, j["reverse_port"]
if relay_key:
    assert j["ra_server_ssh_pubkey"].split()[:2] == relay_key.split()[:2], (j["ra_server_ssh_pubkey"], relay_key)
else:
    assert j["ra_server_ssh_pubkey"].startswith("ssh-"), j["ra_server_ssh_pubkey"]
exp = datetime.datetime.fromisoformat(j["expires_at"].replace("Z", "+00:00"))
now = datetime.datetime.now(datetime.timezone.utc)
assert now < exp < now + datetime.timedelta(hours=2), j["expires_at"]
' "${DEV_ID[dev1]}" "$SRV_RELAY_PORT" "$(pub_line alice)" "$relay_key" 2>"$WORK/check.err" ||
  fail "DeviceSession: $(tail -1 "$WORK/check.err"); body: $OUT"
# The served policy has the relay key the session pins.
server policy show --json
pinned=$(printf '%s' "$(cat "$WORK/longpoll.body")" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ssh"]["ra_server_ssh_pubkey"].split()[1])')
[[ $OUT == *"$pinned"* ]] || fail "the pinned relay key is not in the policy"

dev_curl dev2 GET sessions
expect_http 404 "dev2 does not see dev1's session"
# A key not in the policy is refused for a session.
body=$(python3 -c 'import json,sys; print(json.dumps({"device": "dev2", "keys": [sys.argv[1]]}))' "$(pub_line bob)")
op_curl POST /api/v1/sessions "$body"
expect_http 403 "bob's key is not in the policy"

op_curl DELETE "/api/v1/sessions/$SESSION_ID"
expect_http 200 "close"
dev_curl dev1 GET sessions
expect_http 404 "closed session is gone at once"

# ---- public-keys ----
trace "public-keys"
dev_curl dev1 POST public-keys "{\"key\": \"$(pub_line devkey)\"}"
[[ $HTTP_CODE == 2* ]] || fail "POST public-keys: HTTP $HTTP_CODE $OUT"
server device show dev1 --json
[ "$(srv_json 'j["ssh_key"].split()[1]')" = "$(key_blob devkey)" ] || fail "stored key: $OUT"
dev_curl dev1 POST public-keys "{\"key\": \"$(pub_line devkey2)\"}"
[[ $HTTP_CODE == 2* ]] || fail "POST public-keys (new key): HTTP $HTTP_CODE $OUT"
server device show dev1 --json
[ "$(srv_json 'j["ssh_key"].split()[1]')" = "$(key_blob devkey2)" ] || fail "key not replaced: $OUT"
op_curl GET "/api/v1/audit?device=dev1"
expect_http 200 "audit"
n=$(srv_json 'len([e for e in j["events"] if e["kind"] == "device.key"])')
[ "$n" = 2 ] || fail "device.key audit events: $n; $OUT"
dev_curl dev1 POST public-keys '{"key": "ssh-ed25519 not-base64!"}'
[[ $HTTP_CODE == 4* ]] || fail "bad key line: HTTP $HTTP_CODE"

# ---- commands ----
trace "commands"
op_curl POST /api/v1/commands '{"device": "dev1", "name": "echo", "args": ["test"]}'
expect_http 201 "command create"
cmd_id=$(srv_json 'j["id"]')
[[ $cmd_id == urn:tdx-ota:command:* ]] || fail "command id: $cmd_id"
op_curl POST /api/v1/commands '{"device": "dev1", "name": "echo", "args": ["other"]}'
expect_http 403 "command args not in the policy"
dev_curl dev1 GET commands
expect_http 200 "GET commands"
[ "$(srv_json 'j["values"][0]["id"]')" = "$cmd_id" ] || fail "commands: $OUT"
[ "$(srv_json 'j["values"][0]["name"], j["values"][0]["args"]')" = "echo ['test']" ] || fail "commands: $OUT"
dev_curl dev2 GET commands
[ "$(srv_json 'len(j["values"])')" = 0 ] || fail "dev2 sees dev1's command: $OUT"
result='{"success":true,"stdout":"test","stderr":"","error":null,"exit_code":0,"finished_at":"2026-12-04T12:00:00.123Z"}'
dev_curl dev2 POST "commands/$cmd_id/result" "$result"
expect_http 400 "dev2 posting dev1's result"
[ "$(srv_json 'j["code"]')" = command_not_found ] || fail "other device's result: $OUT"
dev_curl dev1 POST "commands/$cmd_id/result" "$result"
[[ $HTTP_CODE == 2* ]] || fail "POST result: HTTP $HTTP_CODE $OUT"
op_curl GET "/api/v1/commands/$cmd_id"
[ "$(srv_json 'j["state"], j["result"]["stdout"], j["result"]["exit_code"]')" = "done test 0" ] ||
  fail "operator sees the result: $OUT"
dev_curl dev1 GET commands
[ "$(srv_json 'len(j["values"])')" = 0 ] || fail "a done command still listed: $OUT"
dev_curl dev1 POST "commands/urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11/result" "$result"
expect_http 400 "unknown command id"
[ "$(srv_json 'j["code"]')" = command_not_found ] || fail "unknown id: $OUT"
[ -n "$(srv_json 'j["description"]')" ] || fail "no description: $OUT"
dev_curl dev1 POST "commands/$cmd_id/result" '{"success": tru'
[[ $HTTP_CODE == 4* ]] || fail "malformed result: HTTP $HTTP_CODE"

# ---- director ----
trace "director documents"
dev_curl dev1 GET director/root.json
expect_http 200 "root.json"
[ "$(srv_json 'j["signed"]["_type"], j["signed"]["version"]')" = "Root 1" ] || fail "root.json: ${OUT:0:200}"
dev_curl dev1 GET director/1.root.json
expect_http 200 "1.root.json"
dev_curl dev1 GET director/2.root.json
expect_http 404 "2.root.json (absent)"
dev_curl dev1 GET director/99999.root.json
expect_http 404 "99999.root.json"
dev_curl dev1 GET director/nothing.json
expect_http 404 "nothing.json"

# ---- refusals ----
trace "refusals: other CA, no certificate, removed device"
mkdir -m 700 "$WORK/rogue"
(
  cd "$WORK/rogue"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
  openssl req -x509 -new -key ca.key -subj "/CN=porthole device CA" -days 2 -out ca.crt 2>/dev/null
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out leaf.key 2>/dev/null
  openssl req -new -key leaf.key -subj "/CN=${DEV_ID[dev1]}" -out leaf.csr 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\nsubjectAltName=URI:urn:uuid:%s\n' "${DEV_ID[dev1]}" >ext
  openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext -out leaf.crt 2>/dev/null
) || fatal "rogue PKI"
_http_run --cert "$WORK/rogue/leaf.crt" --key "$WORK/rogue/leaf.key" --cacert "${DEV_DIR[dev1]}/root.crt" \
  --max-time 10 "${RAS_URL}sessions"
[[ $HTTP_CODE == 000 || $HTTP_CODE == 4* ]] || fail "other CA, same CN: HTTP $HTTP_CODE $OUT"
[[ $HTTP_CODE != 2* && $OUT != *ssh* ]] || fail "other CA got an answer: $OUT"
_http_run --cacert "${DEV_DIR[dev1]}/root.crt" --max-time 10 "${RAS_URL}sessions"
[[ $HTTP_CODE == 000 || $HTTP_CODE == 4* ]] || fail "no certificate: HTTP $HTTP_CODE $OUT"
_http_run --cacert "${DEV_DIR[dev1]}/root.crt" --max-time 10 "${DIRECTOR_URL}root.json"
[[ $HTTP_CODE == 000 || $HTTP_CODE == 4* ]] || fail "no certificate, director: HTTP $HTTP_CODE"
# Removed while running: refused from the next request.
open_session dev2 "$(pub_path alice)"
dev_curl dev2 GET sessions
expect_http 200 "dev2 session before removal"
server device remove dev2
expect_rc 0 "device remove"
dev_curl dev2 GET sessions
[[ $HTTP_CODE == 000 || $HTTP_CODE == 4* ]] || fail "removed device: HTTP $HTTP_CODE $OUT"
[[ $HTTP_CODE != 404 ]] || fail "removed device gets a plain 404 (must be refused)"
dev_curl dev2 GET director/root.json
[[ $HTTP_CODE == 000 || $HTTP_CODE == 4* ]] || fail "removed device, director: HTTP $HTTP_CODE"
dev_curl dev1 GET sessions
expect_http 404 "dev1 still served"

# ---- the real agent with a bundle ----
trace "porthole-agent with a bundle"
A=$WORK/agentdev
srv_agent_bundle agentdev "$A"
diff <(sed 's#"/[^"]*"#P#g' "$WORK/bundles/agentdev/agent.toml") <(sed 's#"/[^"]*"#P#g' "$A/agent.toml") >/dev/null ||
  fail "agent.toml changed beyond paths"
"$PORTHOLE_AGENT" --config "$A/agent.toml" >"$WORK/agent.log" 2>&1 &
agent_pid=$!
at_exit _srv_stop_pid "$agent_pid"
WAIT_PID=$agent_pid srv_wait_log "$WORK/agent.log" 'device key registered' 20 >/dev/null ||
  fail "the agent did not register its key: $(tail -5 "$WORK/agent.log")"
WAIT_PID=$agent_pid srv_wait_log "$WORK/agent.log" 'the server offers long polls' 20 >/dev/null ||
  fail "the agent does not long-poll: $(tail -5 "$WORK/agent.log")"
server device show agentdev --json
agent_key=$(ssh-keygen -y -f "$A/var/device-key" 2>/dev/null | awk '{print $2}' || true)
[ "$(srv_json 'j["ssh_key"].split()[1] if j["ssh_key"] else None')" = "$agent_key" ] ||
  fail "registered key is not the agent's: $OUT"
# It polls: a session opened now reaches it, and it fetches and verifies the
# director's documents for it (its TUF state appears).
open_session agentdev "$(pub_path alice)"
tuf_ok() { [ -s "$A/var/tuf/root.json" ]; }
wait_for 15 tuf_ok || fail "the agent did not verify the director's root: $(tail -5 "$WORK/agent.log")"
grep -q 'Failed to verify' "$WORK/agent.log" && fail "the agent refused the server's metadata: $(grep 'Failed to verify' "$WORK/agent.log" | head -2)"
kill -0 "$agent_pid" 2>/dev/null || fail "the agent exited: $(tail -5 "$WORK/agent.log")"
_srv_stop_pid "$agent_pid"
# Last-seen times are flushed on stop.
srv_stop
server device list
expect_rc 0 "device list"
line=$(printf '%s\n' "$OUT" | grep '^agentdev ' || true)
[[ $line =~ ^agentdev\ +[0-9a-f-]+\ +20[0-9][0-9]- ]] || fail "agentdev LAST SEEN not set: $line"
grep -q 'porthole-server: stopped' "$SRV_LOG" || fail "no clean stop in the log"
pass
