#!/usr/bin/env bash
# relay_agent: porthole's SSH relay with the real porthole-agent as the
# device (spawned_sshd mode, root, private /run), served its session by the
# fake RAS (tests/tools/ras_server.py) with ra_server_url
# ssh://<device UUID>@127.0.0.1:<relay port> and the relay's own host key
# pinned, and OpenSSH's ssh -J as the operator:
#   - the agent logs in as its UUID with the key it registered and forwards
#     its session's port; exec and a PTY shell through ssh -J;
#   - a relay restart: the agent's tunnel ends, the agent reconnects to the
#     relay on the same port and the operator gets in again;
#   - the session closed at the relay cuts the agent's tunnel (the agent
#     logs the relay's reason) and the operator's shell.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
source "$(dirname "$0")/relay_lib.sh"
require_cmd ssh

DEV=6a1d9e2f-3b4c-4d5e-8f6a-7b8c9d0e1f2a
OP=op$UNIQ
make_user "$OP"
new_key alice
start_ras
write_agent_config spawned_sshd
AGENT_WRAP=("${AGENT_PRIVATE_RUN[@]}")
start_agent
wait_request POST /ras/public-keys 30 >/dev/null || fatal "the agent did not register its key"

PORT=$(free_port)
rt_device "$DEV" dev-7 "$RAS_STATE/device-key.pub"
rt_session s1 "$DEV" "$PORT" 3600 "$(pub_path alice)"
start_test_relay
operator_config alice
CFG=$WORK/ssh_config.alice

# What agent_lib.sh's make_policy / write_session read: this relay.
RELAY_URL=ssh://$DEV@127.0.0.1:$TRELAY_PORT
RELAY_HOST_KEY_PUB=$TRELAY_HOST_KEY_PUB
RELAY_HOST_KEY_FILE=$TRELAY_HOST_KEY_FILE
export RELAY_URL RELAY_HOST_KEY_PUB RELAY_HOST_KEY_FILE
make_policy --operator "$(pub_path alice)"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)" --port "$PORT"
expect_agent_log "session: tunnel up: .*mode spawned_sshd" 30 "agent tunnel up" "$mark"
expect_event tunnel_up "forwarding 127.0.0.1:$PORT" 10 "relay saw the agent's tunnel"
[ "$(event_field "$EVENT" user)" = "$DEV" ] || fail "the agent logged in as '$(event_field "$EVENT" user)'"
[ "$(event_field "$EVENT" fingerprint)" = "$(ssh-keygen -lf "$RAS_STATE/device-key.pub" | awk '{print $2}')" ] ||
  fail "the agent's key is not the one it registered: $EVENT"

trace "exec and a PTY shell through ssh -J"
run ssh -F "$CFG" -J relay "$OP@dev-7" 'id -un; exit 4'
expect_rc 4 "exec through the jump to the agent"
[ "$OUT" = "$OP" ] || fail "exec printed '$OUT': $ERR"
relay_pty_shell "$OP@dev-7" ssh -F "$CFG" -J relay

trace "a relay restart: the agent reconnects, the operator gets in again"
mark=$(file_size "$AGENT_LOG")
stop_test_relay
[ "$TRELAY_RC" = 0 ] || fail "porthole-test-relay exit $TRELAY_RC"
expect_agent_log "session: ended: relay-closed" 20 "the agent saw the relay go" "$mark"
mark=$(file_size "$AGENT_LOG")
start_test_relay  # same port (TRELAY_PORT), same host key
expect_agent_log "session: tunnel up: .*mode spawned_sshd" 60 "the agent reconnected" "$mark"
expect_event tunnel_up "forwarding 127.0.0.1:$PORT" 10 "the relay saw it again"
run ssh -F "$CFG" -J relay "$OP@dev-7" 'echo again'
[ "$OUT" = again ] || fail "operator after the restart: '$OUT' $ERR"

trace "the session closed at the relay cuts the agent and the operator"
ssh -F "$CFG" -J relay -tt "$OP@dev-7" 'echo up; exec sleep 120' >"$WORK/live.out" 2>&1 &
LIVE=$!
at_exit bg_stop "$LIVE"
live_up() { grep -q up "$WORK/live.out" 2>/dev/null; }
wait_for 30 live_up || fail "live shell: $(cat "$WORK/live.out")"
mark=$(file_size "$AGENT_LOG")
rt_drop_session s1
rt_commit
t0=$(now_ms)
relay_hup
timeout 10 tail -s 0.02 --pid="$LIVE" -f /dev/null || fail "the operator's shell survived"
t1=$(now_ms)
# The agent is told why (the relay's SSH_MSG_DISCONNECT text). libssh 0.10
# can lose that text: a read it makes on a stale poll event after handling
# the disconnect fails with EAGAIN and its "Socket error" replaces the
# message (seen once, in a full run under load). The session still
# ends at once; which of the two the agent logged is printed.
expect_agent_log "session: ended: (relay-closed: .*session closed|error: relay .*: Socket error: Resource temporarily unavailable)" \
  10 "the agent's session ends" "$mark"
ended=$(tail -c +"$((mark + 1))" "$AGENT_LOG" | grep -m1 -E "session: ended: ")
trace "agent: ${ended#*session: ended: }"
trace "session closed -> operator cut in $((t1 - t0)) ms"
(((t1 - t0) < 3000)) || fail "operator cut after $((t1 - t0)) ms; want < 1 s (bound 3 s)"
expect_event tunnel_down "session closed" 5 "tunnel_down reported"
agent_alive || fail "the agent exited: $(tail -5 "$AGENT_LOG")"
pass
