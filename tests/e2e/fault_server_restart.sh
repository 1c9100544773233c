#!/usr/bin/env bash
# fault_server_restart: porthole-server SIGKILLed and started again, with a
# real agent (spawned_sshd) in its own network namespace (fault_lib.sh).
#   - mid-session: the operator's ssh through the relay drops (the relay is
#     in the server, so the tunnel must); the agent notices, reconnects to
#     the new server by itself and its tunnel comes back up; the session
#     is still open (same id); the operator connects again and runs a
#     command; validation works against the new server (closing the
#     session cuts the tunnel within seconds);
#   - a command running while the server is down (restart-service with a
#     6 s test command line): it runs once, its result is kept pending
#     on the device and delivered when the server is back, exactly once,
#     with the right output.
#
#   PORTHOLE_BIN=... PORTHOLE_SERVER_BIN=... PORTHOLE_AGENT_BIN=... \
#   PORTHOLE_TEST_TUF=... bash tests/e2e/fault_server_restart.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
source "$(dirname "$0")/fault_lib.sh"

fault_topology
server_init
server_start
RUNS=$WORK/runs
: >"$RUNS"
chmod 666 "$RUNS"
FAULT_AGENT_PORTHOLE="restart_service_command = [\"sh\", \"-c\", \"echo \$\$ >>$RUNS; sleep 6; echo restarted {service}\"]" \
  device_add dev1
device_agent_start dev1
operator_login

trace "a session: the operator runs a command on dev1"
op_connect dev1 echo "first-$UNIQ"
expect_rc 0 "connect before the restart"
[ "$OUT" = "first-$UNIQ" ] || fail "connect output '$OUT'; stderr: ${ERR:0:600}"
SID=$(session_id dev1)
[ -n "$SID" ] || fatal "no live session on dev1"

trace "a long-running operator shell, then porthole-server is SIGKILLed"
"${SX[@]}" env HOME="$OP_HOME" "$PORTHOLE" connect "$DEV_USER@dev1" -- -F /dev/null \
  -o ServerAliveInterval=2 -o ServerAliveCountMax=3 "echo shell-up; sleep 120" \
  </dev/null >"$WORK/long.out" 2>"$WORK/long.err" &
LONG=$!
at_exit kill_quiet "$LONG"
wait_log "$WORK/long.out" '^shell-up$' 30 >/dev/null || fatal "the long shell did not start: $(cat "$WORK/long.err")"
mark=$(file_size "$AGENT_LOG")
t0=$SECONDS
server_stop KILL
# The relay's end vanished with the process: the operator's ssh and the
# agent's tunnel both see the connection reset.
timeout 20 tail --pid="$LONG" -f /dev/null || fail "the operator's ssh is still running 20 s after the server died"
rc=0
wait "$LONG" || rc=$?
((rc != 0)) || fail "the operator's ssh exited 0 although its relay died"
expect_agent_log "session: ended: (relay-closed|link-dead|error)" 15 "the agent notices the tunnel drop" "$mark"
trace "tunnel drop seen after $((SECONDS - t0)) s; starting porthole-server again"

mark=$(file_size "$AGENT_LOG")
server_start
t0=$SECONDS
expect_agent_log "session: tunnel up" 30 "the agent reconnects to the restarted server" "$mark"
trace "tunnel up again $((SECONDS - t0)) s after the restart"
expect_server_log "tunnel (up|.*up)" 5 "the relay reports the tunnel"
[ "$(session_id dev1)" = "$SID" ] || fail "session $SID is not live after the restart"
op_connect dev1 echo "again-$UNIQ"
expect_rc 0 "connect after the restart"
[ "$OUT" = "again-$UNIQ" ] || fail "connect after the restart: output '$OUT'; stderr: ${ERR:0:600}"
expect_err "using session $SID" "the same session is reused"

trace "validation runs against the new server: closing the session cuts the tunnel"
mark=$(file_size "$AGENT_LOG")
ph session close "$SID"
expect_rc 0 "session close"
expect_agent_log "session: ended: " 10 "session close reaches the agent" "$mark"
expect_no_agent_log "tunnel up" "no tunnel for a closed session" "$(file_size "$AGENT_LOG")"

trace "a command runs while the server is down; its result is delivered after"
ph policy allow-command restart-service slowsvc
expect_rc 0 "policy allow-command"
ph command run dev1 restart-service slowsvc --no-wait
expect_rc 0 "command run --no-wait"
CID=$(printf '%s\n' "$OUT" | tail -1)
[ -n "$CID" ] || fatal "no command id printed: $OUT"
mark=$(file_size "$AGENT_LOG")
expect_agent_log "commands: running .*restart-service" 20 "the agent starts the command"
server_stop KILL
trace "server down while the command runs"
expect_agent_log "commands: .*kept pending" 30 "the result is kept pending" "$mark"
pending=$(find "$DEVICE_DIR/state/commands" -name '*.cmd' | head -1)
[ -n "$pending" ] && [ -s "$pending" ] || fail "no pending result record in $DEVICE_DIR/state/commands"
grep -q "restarted slowsvc" "$pending" || fail "the pending record lacks the output: $(cat "$pending")"
mark=$(file_size "$AGENT_LOG")
server_start
expect_agent_log "commands: pending result of .* delivered" 30 "delivered after the outage" "$mark"
ph command show "$CID" --json
expect_rc 0 "command show"
json_check "$OUT" '
r = d.get("result") or {}
assert r.get("success") is True, d
assert r.get("stdout") == "restarted slowsvc\n", d
assert r.get("exit_code") == 0, d' "the delivered result"
[ -z "$(find "$DEVICE_DIR/state/commands" -name '*.cmd')" ] || fail "a pending record is left after delivery"
[ "$(wc -l <"$RUNS")" = 1 ] || fail "the command ran $(wc -l <"$RUNS") times, want once"
# More polls: the server must not hand it out again, nor the agent re-run it.
mark=$(file_size "$AGENT_LOG")
kill -USR1 "$AGENT_PID"
expect_agent_log "commands: no new commands" 10 "a commands poll after the delivery" "$mark"
expect_no_agent_log "commands: running" "no second run" "$mark"
[ "$(wc -l <"$RUNS")" = 1 ] || fail "the command ran again after delivery"
[ "$(grep -cE "commands: (pending )?result of $CID delivered" "$AGENT_LOG")" = 1 ] ||
  fail "the result was delivered $(grep -cE "commands: (pending )?result of $CID delivered" "$AGENT_LOG") times, want once"

stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
pass
