#!/usr/bin/env bash
# agent_dbus: the D-Bus side of the agent (PROTOCOL.md 7, 13 row 13) with a
# real dbus-daemon and a real emitter owning io.torizon.TznService:
#   - PollRasNow re-validates the active session at once: with validation
#     every hour, changed keys end the session within 1 s of the signal;
#   - a burst of 1,000 signals costs a few polls (counted at the fake RAS:
#     GET sessions and GET commands) and no error, and with a bad command
#     does not end a healthy session or the agent;
#   - org.porthole.Agent1 answers `porthole-agent status` (session state,
#     relay, mode) and its PollNow method polls;
#   - dbus-daemon restarted: the agent reconnects and signals work again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
require_cmd dbus-daemon gdbus
EMIT=$(cd "$(dirname "$0")/../tools" && pwd)/tzn_emit.py
/usr/bin/python3 -c 'import gi' 2>/dev/null || fatal "python3-gi missing (scripts/setup installs it)"

BUS=$WORK/bus
export DBUS_SESSION_BUS_ADDRESS=unix:path=$BUS
start_bus() {
  dbus-daemon --session --address="$DBUS_SESSION_BUS_ADDRESS" --nofork --nopidfile \
    </dev/null >"$WORK/dbus.log" 2>&1 &
  BUS_PID=$!
  wait_for 10 test -S "$BUS" || fatal "dbus-daemon did not start: $(cat "$WORK/dbus.log")"
}
stop_bus() { kill "$BUS_PID" 2>/dev/null || true; wait "$BUS_PID" 2>/dev/null || true; rm -f "$BUS"; }
start_bus
at_exit stop_bus

new_key alice
new_key bob
start_ras
AGENT_VALIDATION_SECS=3600 AGENT_DEVICE_EXTRA="enable_dbus_client = true" \
  AGENT_TARGET_HOST_PORT=127.0.0.1:9 write_agent_config target_host
start_agent
wait_request POST /ras/public-keys 20 >/dev/null || fail "the agent did not register its key"
start_relay "$RAS_STATE/device-key.pub"
make_policy --operator "$(pub_path alice)" --operator "$(pub_path bob)"
write_session --operator "$(pub_path alice)"
expect_agent_log "session: tunnel up" 15 "tunnel up"

trace "porthole-agent status over D-Bus"
run "$PORTHOLE_AGENT" status --json
expect_rc 0 "porthole-agent status"
json_check "$OUT" '
assert d["session_state"] == "active", d
assert d["relay"] == "127.0.0.1:'"$RELAY_PORT"'", d
assert d["mode"] == "target_host", d' "status"

trace "a burst of 1,000 signals: a few polls, no error"
mark=$(file_size "$AGENT_LOG")
req_mark=$(file_size "$RAS_STATE/requests.jsonl")
/usr/bin/python3 "$EMIT" PollRasNow '{}' 1000 || fail "tzn_emit burst failed"
# The bus delivered every signal before this call's reply: each one has
# woken the loops by then.
run "$PORTHOLE_AGENT" status --json
expect_rc 0 "status after the burst"
json_check "$OUT" 'assert d["session_state"] == "active", d' "status after the burst"
# One more wake-up after all of them: once both loops have polled for it,
# nothing of the burst is left.
end_mark=$(file_size "$RAS_STATE/requests.jsonl")
kill -USR1 "$AGENT_PID"
wait_request GET /ras/sessions 5 "$end_mark" >/dev/null || fail "no sessions poll after the burst"
wait_request GET /ras/commands 5 "$end_mark" >/dev/null || fail "no commands poll after the burst"
sessions_polls=$(tail -c +"$((req_mark + 1))" "$RAS_STATE/requests.jsonl" | grep -c '"path":"/ras/sessions"' || true)
commands_polls=$(tail -c +"$((req_mark + 1))" "$RAS_STATE/requests.jsonl" | grep -c '"path":"/ras/commands"' || true)
trace "1,000 PollRasNow signals (+1 SIGUSR1): ${sessions_polls} sessions polls, ${commands_polls} commands polls"
((sessions_polls >= 1 && sessions_polls <= 6)) || fail "the burst caused $sessions_polls sessions polls, want 1..6"
((commands_polls >= 1 && commands_polls <= 6)) || fail "the burst caused $commands_polls commands polls, want 1..6"
expect_no_agent_log "Z (warning|error) " "burst" "$mark"
expect_no_agent_log "session: ended" "burst" "$mark"

trace "a bad command and bad JSON keep the healthy session"
/usr/bin/python3 "$EMIT" Reboot '{}' || fail "tzn_emit failed"
/usr/bin/python3 "$EMIT" PollRasNow 'not json' || fail "tzn_emit failed"
run "$PORTHOLE_AGENT" status --json
expect_rc 0 "status after bad signals"
json_check "$OUT" 'assert d["session_state"] == "active", d' "status after bad signals"
expect_no_agent_log "session: ended" "bad signals" "$mark"

trace "PollRasNow with changed keys ends the session within 1 s"
write_session --operator "$(pub_path bob)"
mark=$(file_size "$AGENT_LOG")
t0=$(date +%s%N)
/usr/bin/python3 "$EMIT" PollRasNow '{}' || fail "tzn_emit failed"
expect_agent_log "session: ended: keys changed" 5 "keys changed after PollRasNow" "$mark"
ms=$((($(date +%s%N) - t0) / 1000000))
((ms < 1000)) || fail "the session ended ${ms} ms after the signal, want < 1000"
trace "cut ${ms} ms after the signal"

trace "the PollNow method of org.porthole.Agent1"
expect_agent_log "session: tunnel up" 15 "tunnel up with bob" "$mark"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)"
run gdbus call --session --dest org.porthole.Agent --object-path /org/porthole/Agent \
  --method org.porthole.Agent1.PollNow
expect_rc 0 "gdbus call PollNow"
expect_agent_log "session: ended: keys changed" 5 "keys changed after PollNow" "$mark"

trace "dbus-daemon restarted: the agent reconnects"
expect_agent_log "session: tunnel up" 15 "tunnel up with alice" "$mark"
mark=$(file_size "$AGENT_LOG")
stop_bus
expect_agent_log "dbus: lost the connection to the session bus" 5 "bus loss noticed" "$mark"
start_bus
expect_agent_log "dbus: connected to the session bus" 10 "reconnected within the 3 s retry" "$mark"
write_session --operator "$(pub_path bob)"
/usr/bin/python3 "$EMIT" PollRasNow '{}' || fail "tzn_emit failed"
expect_agent_log "session: ended: keys changed" 5 "PollRasNow after the bus came back" "$mark"
agent_alive || fail "the agent died with the bus"

stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
pass
