#!/usr/bin/env bash
# agent_reload: SIGHUP re-reads the configuration (agent/reload.h):
#   - an invalid file is one log line naming file, line and key, and
#     changes nothing: the session is not touched and still serves;
#   - the same settings: logged, nothing changes;
#   - new settings (another session mode, poll_timeout 1 h -> 1 s): the
#     session ends cleanly ("configuration reloaded"), comes back in the
#     new mode at once and serves; the new poll_timeout is in force;
#   - settings that parse but cannot start (an sshd_path that does not
#     exist): the agent goes back to the previous configuration and
#     serves again;
#   - SIGTERM afterwards still exits 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
require_cmd ssh

OP=op$UNIQ
make_user "$OP"
new_key alice
start_ras
start_relay
make_policy --operator "$(pub_path alice)"
AGENT_POLL_SECS=3600 write_agent_config embedded
cp "$WORK/agent.toml" "$WORK/embedded.toml"
AGENT_WRAP=("${AGENT_PRIVATE_RUN[@]}")  # spawned_sshd later makes /run/sshd
start_agent
wait_request POST /ras/public-keys 20 >/dev/null || fatal "the agent did not register its key"
relay_authorize
write_session --operator "$(pub_path alice)"
kill -USR1 "$AGENT_PID"  # poll_timeout is 1 h
expect_agent_log "session: tunnel up: .*mode embedded" 15 "tunnel up (embedded)"
SSH=(ssh -F /dev/null -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null
  -o StrictHostKeyChecking=no -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10
  -p "$SESSION_PORT" -i "$(key_path alice)")
# serves USER WHAT: a login through the tunnel runs a command.
serves() {
  run "${SSH[@]}" "$1@127.0.0.1" 'echo served'
  expect_rc 0 "$2: login through the tunnel"
  [ "$OUT" = served ] || fail "$2: the login printed '$OUT'"
}
serves "$OP" "before any reload"

trace "an invalid file: one line, nothing changes"
mark=$(file_size "$AGENT_LOG")
sed 's/^\[device\]$/[device]\nbogus = 1/' "$WORK/embedded.toml" >"$WORK/agent.toml"
kill -HUP "$AGENT_PID"
expect_agent_log "reload: $WORK/agent.toml:[0-9]+: key 'device.bogus': unknown key; keeping the running configuration" \
  5 "invalid reload logged" "$mark"
n=$(tail -c +"$((mark + 1))" "$AGENT_LOG" | grep -c 'reload:' || true)
[ "$n" = 1 ] || fail "an invalid reload logged $n reload lines, want 1"
agent_alive || fatal "the agent died on an invalid reload"
serves "$OP" "after an invalid reload"
expect_no_agent_log "session: ended" "invalid reload" "$mark"

trace "the same settings: nothing changes"
cp "$WORK/embedded.toml" "$WORK/agent.toml"
mark=$(file_size "$AGENT_LOG")
kill -HUP "$AGENT_PID"
expect_agent_log "reload: $WORK/agent.toml: no setting changed" 5 "unchanged reload" "$mark"
expect_no_agent_log "session: ended" "unchanged reload" "$mark"

trace "new settings: spawned_sshd, poll_timeout 1 s"
AGENT_POLL_SECS=1 write_agent_config spawned_sshd
cp "$WORK/agent.toml" "$WORK/spawned.toml"
mark=$(file_size "$AGENT_LOG")
kill -HUP "$AGENT_PID"
expect_agent_log "reload: $WORK/agent.toml: device.poll_timeout, device.session, .* changed; ending the session and restarting" \
  5 "valid reload" "$mark"
expect_agent_log "session: ended: configuration reloaded" 5 "session ended by the reload" "$mark"
expect_agent_log "session: tunnel up: .*mode spawned_sshd" 15 "tunnel up again (spawned_sshd)" "$mark"
[ "$(awk '{print $2}' "$WORK/agent/sshd/authorized_keys")" = "$(key_blob alice)" ] ||
  fail "spawned_sshd's authorized_keys is not the session's key"
serves "$OP" "after the reload to spawned_sshd"
# poll_timeout is 1 s now (it was 1 h): polls come by themselves.
clear_session
expect_agent_log "session: ended: session gone" 10 "session gone after the reload" "$mark"
mark=$(file_size "$RAS_STATE/requests.jsonl")
for i in 1 2; do
  wait_request GET /ras/sessions 5 "$mark" >/dev/null || fail "poll $i did not come within 5 s (poll_timeout 1 s)"
  mark=$(file_size "$RAS_STATE/requests.jsonl")
done
[ ! -s "$WORK/agent/sshd/authorized_keys" ] || fail "session keys left after the session"

trace "settings that cannot start: back to the previous ones"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)"
expect_agent_log "session: tunnel up: .*mode spawned_sshd" 15 "tunnel up before the broken reload" "$mark"
sed "s|^config_dir = |sshd_path = \"$WORK/no-such-sshd\"\nconfig_dir = |" "$WORK/spawned.toml" >"$WORK/agent.toml"
mark=$(file_size "$AGENT_LOG")
kill -HUP "$AGENT_PID"
expect_agent_log "cannot start: device.session.spawned_sshd.sshd_path: $WORK/no-such-sshd" 10 "new config refused at start" "$mark"
expect_agent_log "reload: the new configuration cannot start \(see above\); going back to the previous one" \
  5 "fallback" "$mark"
expect_agent_log "session: tunnel up: .*mode spawned_sshd" 15 "tunnel up on the previous configuration" "$mark"
serves "$OP" "after the fallback"

stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM after reloads: agent exit $AGENT_RC, want 0"
pass
