#!/usr/bin/env bash
# server_tuf: what porthole-server signs is what the agent accepts.
#   - root.json and remote-sessions.json (and a session) pass the agent's
#     verifier (porthole-agent check-policy);
#   - the real agent trusts root v1, then follows `root rotate` (a new root
#     key, then an offline remote-sessions key) through the N.root.json
#     chain to v3 and verifies the offline-signed policy;
#   - offline signing: with the key offline, `policy allow-key` only changes
#     the draft and `policy publish` refuses; export -> `porthole policy
#     sign` -> import serves it; import refuses a document signed by a key
#     not in root, an unsigned one, a tampered one and a rollback.
#
#   PORTHOLE_SERVER_BIN=... PORTHOLE_AGENT_BIN=... PORTHOLE_BIN=... bash tests/e2e/server_tuf.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/server_lib.sh"
require_agent
require_porthole

srv_init
srv_start
srv_device_add dev1
new_key alice
new_key bob
new_key carol
server policy allow-key "$(pub_path alice)" --name alice
expect_rc 0 "allow-key alice"

# ---- the agent's verifier ----
trace "check-policy on what the server serves"
fetch() { # fetch DOC OUTFILE
  dev_curl dev1 GET "director/$1"
  expect_http 200 "$1"
  printf '%s' "$OUT" >"$2"
}
open_session dev1 "$(pub_path alice)"
dev_curl dev1 GET sessions
printf '%s' "$OUT" >"$WORK/session.json"
fetch root.json "$WORK/root1.json"
fetch remote-sessions.json "$WORK/rs.json"
run "$PORTHOLE_AGENT" check-policy --root "$WORK/root1.json" --metadata "$WORK/rs.json" \
  --session "$WORK/session.json"
expect_rc 0 "check-policy of the served documents and session"
# A byte changed in the signed part: refused by the same verifier.
sed 's/"alice"/"mallory"/' "$WORK/rs.json" >"$WORK/rs-tampered.json"
cmp -s "$WORK/rs.json" "$WORK/rs-tampered.json" && fail "tampering changed nothing"
run "$PORTHOLE_AGENT" check-policy --root "$WORK/root1.json" --metadata "$WORK/rs-tampered.json"
expect_rc 1 "check-policy of a tampered document"
op_curl DELETE "/api/v1/sessions/$SESSION_ID"

# ---- the real agent trusts root v1 ----
trace "the agent with root v1"
A=$WORK/agentdev
srv_agent_bundle agentdev "$A"
"$PORTHOLE_AGENT" --config "$A/agent.toml" >"$WORK/agent.log" 2>&1 &
agent_pid=$!
at_exit _srv_stop_pid "$agent_pid"
WAIT_PID=$agent_pid srv_wait_log "$WORK/agent.log" 'device key registered' 20 >/dev/null ||
  fatal "the agent did not start: $(tail -5 "$WORK/agent.log")"
root_version() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signed"]["version"])' "$1" 2>/dev/null; }
agent_root_is() { [ "$(root_version "$A/var/tuf/root.json")" = "$1" ]; }
agent_rs_is() {
  [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signed"]["version"])' \
    "$A/var/tuf/remote-sessions.json" 2>/dev/null)" = "$1" ]
}
open_session agentdev "$(pub_path alice)"
wait_for 15 agent_root_is 1 || fatal "the agent did not trust root v1: $(tail -5 "$WORK/agent.log")"
op_curl DELETE "/api/v1/sessions/$SESSION_ID"

# ---- rotations: a new root key, then the remote-sessions key offline ----
trace "root rotate --new-root-key"
server root rotate --new-root-key
expect_rc 0 "root rotate --new-root-key"
server root show --json
[ "$(srv_json 'j["version"]')" = 2 ] || fail "root show after rotation: $OUT"
old_root_keyid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signed"]["roles"]["root"]["keyids"][0])' "$WORK/root1.json")
[ "$(srv_json 'j["roles"]["root"]["keys"][0]["keyid"]')" != "$old_root_keyid" ] || fail "root key not replaced"
fetch 2.root.json "$WORK/root2.json"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["signatures"]))' "$WORK/root2.json")" = 2 ] ||
  fail "2.root.json is not signed by the old and the new key"

trace "offline remote-sessions key"
run env HOME="$WORK" "$PORTHOLE" policy keygen --out "$WORK/keys/rs.key"
expect_rc 0 "porthole policy keygen"
run env HOME="$WORK" "$PORTHOLE" policy keygen --out "$WORK/keys/rogue.key"
expect_rc 0 "porthole policy keygen (rogue)"
server root rotate --remote-sessions-key "$WORK/keys/rs.key"
expect_rc 2 "root rotate with a secret key file as the public key"
server root rotate --remote-sessions-key "$WORK/keys/rs.key.pub"
expect_rc 0 "root rotate --remote-sessions-key"
[[ $OUT == *offline* ]] || fail "rotate does not say the key is offline: $OUT"
server policy show --json
[ "$(srv_json 'j["remote_sessions"]["keys_online"]')" = False ] || fail "key still online: $OUT"

# With the key offline the server cannot authorise a key on its own.
trace "offline edits"
fetch remote-sessions.json "$WORK/rs-before.json"
server policy allow-key "$(pub_path bob)" --name bob
expect_rc 0 "allow-key with the key offline (draft only)"
[[ $OUT == *"NOT served"* ]] || fail "allow-key offline message: $OUT"
server policy publish
expect_rc 1 "publish with the key offline"
[[ $ERR == *"porthole policy sign"* || $ERR == *offline* ]] || fail "publish message: $ERR"
fetch remote-sessions.json "$WORK/rs-now.json"
cmp -s "$WORK/rs-before.json" "$WORK/rs-now.json" || fail "the served policy changed without the offline key"
[[ $(cat "$WORK/rs-now.json") != *"$(key_blob bob)"* ]] || fail "bob served without a signature"

# export -> sign -> import.
server policy export -o "$WORK/draft.json"
expect_rc 0 "policy export"
[ "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["signatures"], d["signed"]["_type"])' "$WORK/draft.json")" = "[] Remote-Sessions" ] ||
  fail "export: $(head -c 300 "$WORK/draft.json")"
server policy import "$WORK/draft.json"
expect_rc 1 "import of the unsigned draft"
run "$PORTHOLE" policy sign --key "$WORK/keys/rogue.key" "$WORK/draft.json" -o "$WORK/rogue-signed.json"
expect_rc 0 "sign with the rogue key"
server policy import "$WORK/rogue-signed.json"
expect_rc 1 "import of a document signed by a key not in root"
[[ $ERR == *rogue-signed.json* ]] || fail "import error does not name the file: $ERR"
run "$PORTHOLE" policy sign --key "$WORK/keys/rs.key" "$WORK/draft.json" -o "$WORK/signed.json"
expect_rc 0 "porthole policy sign"
sed 's/"bob"/"eve"/' "$WORK/signed.json" >"$WORK/signed-tampered.json"
server policy import "$WORK/signed-tampered.json"
expect_rc 1 "import of a tampered document"
RC=0
"$SERVER" --data-dir "$SRV_DATA" policy import - <"$WORK/signed.json" >"$WORK/import.out" 2>&1 || RC=$?
[ "$RC" = 0 ] || fail "policy import (stdin): exit $RC: $(cat "$WORK/import.out")"
fetch remote-sessions.json "$WORK/rs-offline.json"
[[ $(cat "$WORK/rs-offline.json") == *"$(key_blob bob)"* ]] || fail "bob not served after import"
server policy import "$WORK/signed.json"
expect_rc 1 "importing the same version again (rollback)"
fetch root.json "$WORK/root3.json"
[ "$(root_version "$WORK/root3.json")" = 3 ] || fail "latest root is not v3"
run "$PORTHOLE_AGENT" check-policy --root "$WORK/root3.json" --metadata "$WORK/rs-offline.json"
expect_rc 0 "check-policy of the offline-signed document"

# ---- the agent holding root v1 follows the chain ----
trace "the agent follows 1 -> 2 -> 3 and accepts bob's session"
open_session agentdev "$(pub_path bob)"
wait_for 15 agent_root_is 3 || fail "the agent did not follow the rotation: root $(root_version "$A/var/tuf/root.json"); $(tail -5 "$WORK/agent.log")"
rs_v=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signed"]["version"])' "$WORK/rs-offline.json")
wait_for 15 agent_rs_is "$rs_v" || fail "the agent did not take remote-sessions v$rs_v"
if grep -E 'Failed to verify|not allowed' "$WORK/agent.log" | grep -q .; then
  fail "the agent refused: $(grep -E 'Failed to verify|not allowed' "$WORK/agent.log" | tail -2)"
fi
pass
