#!/usr/bin/env bash
# agent_target_host: a whole session in target_host mode, RAC's
# full_no_error / test_keys_changed / test_keys_changed_without_poll
# (PROTOCOL.md 10.2) with a real relay sshd, a real target sshd and a real
# ssh client, plus porthole's fixes (13 row 21):
#   - the tunnel comes up; an operator key in the session logs in to the
#     target through it, a key outside the session does not;
#   - the session keys are in authorized_keys (marked lines) only while a
#     connection is open, counted per connection, and every other line
#     keeps its bytes;
#   - keys changed ends the session (periodic re-validation, then with only
#     a trigger: SIGUSR1), cutting the live connection;
#   - the session gone (404) ends it; SIGTERM ends the agent with exit 0 and
#     leaves authorized_keys as it found it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
require_cmd ssh

OP=op$UNIQ
make_user "$OP"
home=$(getent passwd "$OP" | cut -d: -f6)
install -d -m 700 -o "$OP" -g "$(id -gn "$OP")" "$home/.ssh"
AK=$home/.ssh/authorized_keys
new_key alice
new_key bob
new_key mallory
new_key own
new_key own2
# The user's own line, and one that only mentions RAC's marker: both stay.
printf '%s\n%s not added by rac\n' "$(pub_line own)" "$(pub_line own2 | cut -d' ' -f1,2)" >"$AK"
chown "$OP:" "$AK"
chmod 600 "$AK"
ORIGINAL=$(cat "$AK")

: >"$WORK/target.conf"
start_sshd target "$WORK/target.conf"
start_ras
AGENT_AUTHORIZED_KEYS=$AK write_agent_config target_host
start_agent
wait_request POST /ras/public-keys 20 >/dev/null || fail "the agent did not register its key"
start_relay "$RAS_STATE/device-key.pub"
make_policy --operator "$(pub_path alice)" --operator "$(pub_path bob)"

# key_lines: how many session lines authorized_keys has.
key_lines() { grep -c 'added by porthole-agent on ' "$AK" || true; }
ak_is_original() { [ "$(cat "$AK")" = "$ORIGINAL" ]; }
ak_has_session_key() { [ "$(key_lines)" = 1 ]; }
# closed_since MARK N: the agent has logged at least N forwarded
# connections closed after byte MARK of its log.
closed_since() {
  [ "$(tail -c +"$(($1 + 1))" "$AGENT_LOG" | grep -c 'forwarded connection #.* closed')" -ge "$2" ]
}
# hold USER KEY OUT: a connection that stays open (a remote sleep on a pty,
# so it ends with the connection) in the background; release $! closes it.
hold() {
  (
    SSH_OPTS=(-tt)
    ssh_as "$1" "$(key_path "$2")" 'echo up; exec sleep 120'
  ) >"$3" 2>&1 &
}
# release PID: ends a hold (the local ssh under it too).
release() {
  kill $(_descendants "$1") "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

trace "session with alice: the tunnel comes up and she logs in to the target"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)"
expect_agent_log "session: tunnel up: relay 127.0.0.1:$RELAY_PORT as $RELAY_USER, reverse port $SESSION_PORT, mode target_host, 1 operator key" 15 "tunnel up" "$mark"
PORT=$SESSION_PORT
expect_login "$OP" alice "alice through the tunnel"
expect_refused "$OP" mallory "a key outside the session"
expect_refused "$OP" bob "a key of the policy but not of this session"
wait_for 5 ak_is_original || fail "session key not removed after the last connection: $(cat "$AK")"

trace "keys are counted per connection"
mark=$(file_size "$AGENT_LOG")
hold "$OP" alice "$WORK/c1.out"
c1=$!
wait_for 10 grep -q up "$WORK/c1.out" 2>/dev/null || fail "first connection: $(cat "$WORK/c1.out")"
ak_has_session_key || fail "no session line while connected: $(cat "$AK")"
grep -qF "$(pub_line alice) added by porthole-agent on " "$AK" ||
  fail "session line lacks the operator's comment and the marker: $(cat "$AK")"
[ "$(stat -c '%U %a' "$AK")" = "$OP 600" ] || fail "authorized_keys owner/mode changed: $(stat -c '%U %a' "$AK")"
hold "$OP" alice "$WORK/c2.out"
c2=$!
wait_for 10 grep -q up "$WORK/c2.out" 2>/dev/null || fail "second connection: $(cat "$WORK/c2.out")"
release "$c2"
# Once the agent has seen the second connection end, the first still holds
# the key.
wait_for 10 closed_since "$mark" 1 || fail "the agent did not see the second connection end"
ak_has_session_key || fail "the key went with one of two connections (RAC bug 21)"
release "$c1"
wait_for 5 ak_is_original || fail "session key left after both connections ended: $(cat "$AK")"

trace "keys changed: the session ends by periodic re-validation, cutting a live connection"
hold "$OP" alice "$WORK/c3.out"
c3=$!
wait_for 10 grep -q up "$WORK/c3.out" 2>/dev/null || fail "connection before the change: $(cat "$WORK/c3.out")"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path bob)"
expect_agent_log "session: ended: keys changed" 5 "keys changed" "$mark"
timeout 10 tail --pid="$c3" -f /dev/null || fail "the operator's connection survived the end of the session"
wait "$c3" 2>/dev/null || true
wait_for 5 ak_is_original || fail "session key left after the session ended: $(cat "$AK")"
expect_agent_log "session: tunnel up: .* 1 operator key" 10 "new session with bob" "$mark"
expect_login "$OP" bob "bob in the new session"
expect_refused "$OP" alice "alice after her key left the session"

trace "session gone (404): the session ends"
mark=$(file_size "$AGENT_LOG")
clear_session
expect_agent_log "session: ended: session gone \(404\)" 5 "session gone" "$mark"
wait_for 5 ak_is_original || fail "authorized_keys not restored: $(cat "$AK")"

trace "keys changed with only a trigger (validation every hour, SIGUSR1)"
stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
AGENT_VALIDATION_SECS=3600 AGENT_AUTHORIZED_KEYS=$AK write_agent_config target_host
write_session --operator "$(pub_path alice)"
start_agent
expect_agent_log "session: tunnel up" 15 "tunnel up (slow validation)"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path bob)"
kill -USR1 "$AGENT_PID"
expect_agent_log "session: ended: keys changed" 5 "keys changed after SIGUSR1" "$mark"

trace "SIGTERM during a session: exit 0, keys gone"
expect_agent_log "session: tunnel up" 15 "tunnel up again" "$mark"
hold "$OP" bob "$WORK/c4.out"
c4=$!
wait_for 10 grep -q up "$WORK/c4.out" 2>/dev/null || fail "connection before SIGTERM: $(cat "$WORK/c4.out")"
ak_has_session_key || fail "no session line before SIGTERM"
stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM with a session: agent exit $AGENT_RC, want 0"
timeout 10 tail --pid="$c4" -f /dev/null || fail "the operator's connection survived SIGTERM"
wait "$c4" 2>/dev/null || true
ak_is_original || fail "authorized_keys not restored at SIGTERM: $(cat "$AK")"
grep -q "session: ended: agent shutting down" "$AGENT_LOG" || fail "no shutdown line in the log"

pass
