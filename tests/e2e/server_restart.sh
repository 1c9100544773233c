#!/usr/bin/env bash
# server_restart: porthole-server's state survives kill -9 and a restart:
# devices (and a removed one), a live session (same body to the device, same
# reverse port), pending and done commands, the policy (also an edit made
# while the server was down), the audit trail and the operator token.
#
#   PORTHOLE_SERVER_BIN=build/src/server/porthole-server bash tests/e2e/server_restart.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/server_lib.sh"

srv_init
srv_start
srv_device_add dev1
srv_device_add dev2
srv_device_add gone
new_key alice
new_key bob
new_key devkey
server policy allow-key "$(pub_path alice)" --name alice
expect_rc 0 "allow-key alice"
server policy allow-command echo test
expect_rc 0 "allow-command"
open_session dev1 "$(pub_path alice)"
sid=$SESSION_ID
dev_curl dev1 GET sessions
expect_http 200 "session before"
session_before=$OUT
op_curl POST /api/v1/commands '{"device": "dev2", "name": "echo", "args": ["test"]}'
expect_http 201 "command"
pending_id=$(srv_json 'j["id"]')
op_curl POST /api/v1/commands '{"device": "dev1", "name": "echo", "args": ["test"]}'
done_id=$(srv_json 'j["id"]')
dev_curl dev1 POST "commands/$done_id/result" \
  '{"success":true,"stdout":"test","stderr":"","error":null,"exit_code":0,"finished_at":"2026-12-04T12:00:00Z"}'
[[ $HTTP_CODE == 2* ]] || fail "result: $HTTP_CODE $OUT"
dev_curl dev2 POST public-keys "{\"key\": \"$(pub_line devkey)\"}"
[[ $HTTP_CODE == 2* ]] || fail "public-keys: $HTTP_CODE"
server device remove gone
expect_rc 0 "device remove"
server policy show --json
policy_before=$(srv_json 'j["remote_sessions"]["version"], j["published"]')
op_curl GET "/api/v1/audit?limit=1000"
audit_before=$(srv_json 'len(j["events"])')

trace "kill -9"
srv_kill9
# An edit while the server is down is served after the restart.
server policy allow-key "$(pub_path bob)" --name bob
expect_rc 0 "allow-key bob while down"
srv_start

dev_curl dev1 GET sessions
expect_http 200 "session after restart"
[ "$OUT" = "$session_before" ] || fail "session body changed: $OUT vs $session_before"
op_curl GET /api/v1/sessions
[ "$(srv_json '[s["id"] for s in j["sessions"]]')" = "['$sid']" ] || fail "live sessions: $OUT"
dev_curl dev2 GET commands
[ "$(srv_json '[v["id"] for v in j["values"]]')" = "['$pending_id']" ] || fail "pending command: $OUT"
op_curl GET "/api/v1/commands/$done_id"
[ "$(srv_json 'j["state"], j["result"]["stdout"]')" = "done test" ] || fail "done command: $OUT"
server device show dev2 --json
[ "$(srv_json 'j["ssh_key"].split()[1]')" = "$(key_blob devkey)" ] || fail "dev2 key: $OUT"
dev_curl gone GET sessions
[[ $HTTP_CODE == 000 || $HTTP_CODE == 4* ]] && [ "$HTTP_CODE" != 404 ] ||
  fail "removed device served after restart: $HTTP_CODE"
server policy show --json
[ "$(srv_json 'sorted(k["name"] for k in j["published"]["authorized_keys"]), j["draft_published"]')" = "['alice', 'bob'] True" ] ||
  fail "policy after restart: $OUT"
dev_curl dev1 GET director/remote-sessions.json
[[ $OUT == *"$(key_blob bob)"* ]] || fail "served policy lacks bob's key"
op_curl GET "/api/v1/audit?limit=1000"
expect_http 200 "the token still works"
(($(srv_json 'len(j["events"])') > audit_before)) || fail "audit trail lost: $OUT"

# The restarted server serves changes: close -> 404 at once.
op_curl DELETE "/api/v1/sessions/$sid"
expect_http 200 "close after restart"
dev_curl dev1 GET sessions
expect_http 404 "closed after restart"

# Twice more, with a plain stop: nothing lost either.
srv_stop
grep -q 'porthole-server: stopped' "$SRV_LOG" || fail "no clean stop"
srv_start
dev_curl dev2 GET commands
[ "$(srv_json 'len(j["values"])')" = 1 ] || fail "after a clean restart: $OUT"
pass
