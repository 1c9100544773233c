#!/usr/bin/env bash
# agent_policy: the agent uses a session only when signed policy and the
# session itself allow it, and ends it the moment they stop (PROTOCOL.md
# 4.5, 10.2 test_director_error / test_director_changed, 13 rows 11, 12, 14,
# 15):
#   - metadata signed by an unknown key: "Failed to verify remote-sessions
#     metadata", no SSH connection to the relay, logged once;
#   - an operator key or relay host the metadata does not list: "invalid
#     session received from server", no connection;
#   - a session already expired: not used; one that expires while up: cut
#     at expires_at;
#   - a relay presenting another host key than the session pins (an
#     impostor): refused before authentication;
#   - metadata re-signed by an unknown key while the tunnel is up: cut;
#   - the server failing transiently (500) while the tunnel is up: kept for
#     the grace, then cut; recovering within the grace keeps it;
#   - a garbage session body: a clear error, no crash.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"

new_key alice
new_key mallory
start_ras
AGENT_TARGET_HOST_PORT=127.0.0.1:9 write_agent_config target_host
start_agent
wait_request POST /ras/public-keys 20 >/dev/null || fail "the agent did not register its key"
start_relay "$RAS_STATE/device-key.pub"

relay_connections() { grep -c "Connection from 127.0.0.1" "$RELAY_LOG" || true; }
# expect_logged_once REGEX WHAT: exactly one warning line matches.
expect_logged_once() {
  local n
  n=$(tail -c +"$((mark + 1))" "$AGENT_LOG" | grep -E -- "$1" | grep -c " warning " || true)
  [ "$n" = 1 ] || fail "$2: logged $n times at warning level, want once"
}
# polls_since MARK: GET sessions requests after byte MARK of requests.jsonl.
polls_since() {
  tail -c +"$(($1 + 1))" "$RAS_STATE/requests.jsonl" | grep -c '"method":"GET","path":"/ras/sessions' || true
}

trace "director error: rogue-signed metadata, no connection"
make_policy --operator "$(pub_path alice)" --rogue
before=$(relay_connections)
mark=$(file_size "$AGENT_LOG")
rmark=$(file_size "$RAS_STATE/requests.jsonl")
write_session --operator "$(pub_path alice)"
expect_agent_log "Failed to verify remote-sessions metadata: .*threshold" 5 "rogue metadata" "$mark"
# Several more polls, the same failure: logged once, still no connection.
wait_for_polls() { [ "$(polls_since "$rmark")" -ge 3 ]; }
wait_for 20 wait_for_polls ||
  fail "the agent stopped polling after a director error"
expect_logged_once "Failed to verify remote-sessions metadata" "the director error"
[ "$(relay_connections)" = "$before" ] || fail "the agent connected to the relay with unverified metadata"
expect_no_agent_log "tunnel up" "rogue metadata" "$mark"

trace "an operator key outside the policy: invalid session, no connection"
clear_session  # the previous session must not become valid with it
make_policy --operator "$(pub_path alice)"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)" --operator "$(pub_path mallory)"
expect_agent_log "invalid session received from server: .*does not allow client key" 10 "mallory's key" "$mark"
[ "$(relay_connections)" = "$before" ] || fail "the agent connected for a session the policy refuses"

trace "a relay host outside the policy: invalid session"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)" --url "ssh://$RELAY_USER@localhost:$RELAY_PORT"
expect_agent_log "invalid session received from server: .*host" 10 "relay host localhost" "$mark"
[ "$(relay_connections)" = "$before" ] || fail "the agent connected to a relay host the policy does not list"

trace "an expired session is not used"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)" --expires-in -60
expect_agent_log "session expired at .*; not connecting" 10 "expired session" "$mark"
[ "$(relay_connections)" = "$before" ] || fail "the agent connected for an expired session"

trace "an impostor relay: the session pins another host key (allowed by policy)"
ssh-keygen -q -t ed25519 -N '' -C impostor -f "$WORK/impostor" </dev/null
clear_session  # the previous session must not become valid with it
make_policy --operator "$(pub_path alice)" --relay-key "$WORK/impostor.pub"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)" --relay-key "$(cat "$WORK/impostor.pub")"
expect_agent_log "cannot open the tunnel: .*host key" 10 "impostor relay" "$mark"
expect_no_agent_log "tunnel up" "impostor relay" "$mark"
grep -q "Accepted publickey for $RELAY_USER" "$RELAY_LOG" &&
  fail "the device authenticated to a relay whose host key it did not pin"

trace "director changed while the tunnel is up: cut"
clear_session  # the previous session must not become valid with it
make_policy --operator "$(pub_path alice)"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)"
expect_agent_log "session: tunnel up" 10 "tunnel up" "$mark"
mark=$(file_size "$AGENT_LOG")
make_policy --operator "$(pub_path alice)" --rogue
expect_agent_log "session: ended: Failed to verify remote-sessions metadata" 5 "re-signed metadata" "$mark"

trace "transient server errors: kept within the grace, cut after it"
make_policy --operator "$(pub_path alice)"
mark=$(file_size "$AGENT_LOG")
expect_agent_log "session: tunnel up" 15 "tunnel up again" "$mark"
mark=$(file_size "$AGENT_LOG")
ras_fault sessions 500 "maintenance"
expect_agent_log "re-validation failed \(1 of 3 allowed\), keeping the session: .*HTTP 500" 5 "first failure" "$mark"
ras_clear_fault sessions
expect_agent_log "re-validation works again" 5 "recovery" "$mark"
expect_no_agent_log "session: ended" "a short outage" "$mark"
mark=$(file_size "$AGENT_LOG")
ras_fault sessions 503
expect_agent_log "session: ended: re-validation failing for 4 periods: .*HTTP 503" 10 "a long outage" "$mark"
ras_clear_fault sessions

trace "expires while up: cut at expires_at"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)" --expires-in 4
expect_agent_log "session: tunnel up" 10 "tunnel up before expiry" "$mark"
expect_agent_log "session: ended: session expired at" 8 "expiry" "$mark"

trace "a garbage session body: one clear error, no crash"
mark=$(file_size "$AGENT_LOG")
echo '{"ssh": {"reverse_port": "x"}}' | atomic_write "$RAS_STATE/session.json"
expect_agent_log "cannot poll for a session \(retrying\): GET .*sessions: bad session" 10 "garbage session" "$mark"
agent_alive || fail "the agent died on a garbage session"

stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
pass
