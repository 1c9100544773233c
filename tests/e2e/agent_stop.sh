#!/usr/bin/env bash
# agent_stop: stopping and crashing while a remote command runs
# (restart-service configured, through [porthole] restart_service_command,
# to a shell that appends to a marker file and sleeps 30 s):
#   - SIGTERM with a live operator shell (spawned_sshd) and the command
#     running: the agent exits 0 within 2 s; the relay connection, every
#     sshd -i and the live shell are gone, the session keys removed; the
#     command's process is killed; its failed result is kept pending
#     (nothing POSTed while stopping) and delivered once after the restart;
#     the command never runs again;
#   - SIGKILL during the command: after the restart exactly one failed
#     result is reported and the command never runs a second time (the
#     marker file has one line for it).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
require_cmd ssh

OP=op$UNIQ
make_user "$OP"
new_key alice
start_ras
start_relay
make_policy --operator "$(pub_path alice)" --allow-command restart-service=svc
MARKER=$WORK/marker
RESULTS=$RAS_STATE/results.jsonl
U1=urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11
U2=urn:tdx-ota:command:1b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f12
# Each run appends "ID-ARG PID" (the sleep keeps the shell's pid).
AGENT_DEVICE_EXTRA='commands_timeout = "60s"' \
  AGENT_PORTHOLE_EXTRA="restart_service_command = [\"/bin/sh\", \"-c\", \"echo \\\"\$1 \$\$\\\" >>$MARKER; exec sleep 30\", \"sh\", \"{service}\"]" \
  write_agent_config spawned_sshd
SSHD_DIR=$WORK/agent/sshd
AGENT_WRAP=("${AGENT_PRIVATE_RUN[@]}")

# command ID: the server hands out restart-service svc.
command() {
  printf '{"values":[{"id":"%s","name":"restart-service","args":["svc"],"created_at":"2026-11-23T10:00:00Z"}]}\n' "$1" |
    atomic_write "$RAS_STATE/commands.json"
}
runs() { if [ -f "$MARKER" ]; then grep -c "^svc " "$MARKER" || true; else echo 0; fi; }
results_for() { if [ -f "$RESULTS" ]; then grep -c "\"$1\"" "$RESULTS" || true; else echo 0; fi; }
# alive PID: running, not a zombie left for a PID 1 that does not reap.
alive() { [ -e "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
kill_quietly() { kill -9 "$1" 2>/dev/null || true; }
runs_are() { [ "$(runs)" = "$1" ]; }
results_are() { [ "$(results_for "$1")" = "$2" ]; }
sshd_children() { pgrep -f "sshd -i -f $SSHD_DIR/sshd.conf" || true; }
# poll_commands: SIGUSR1, then wait until the agent asked for commands.
poll_commands() {
  local mark
  mark=$(file_size "$RAS_STATE/requests.jsonl")
  kill -USR1 "$AGENT_PID"
  wait_request GET /ras/commands 5 "$mark" >/dev/null || fail "SIGUSR1 did not poll commands"
}

start_agent
wait_request POST /ras/public-keys 20 >/dev/null || fatal "the agent did not register its key"
relay_authorize
write_session --operator "$(pub_path alice)"
expect_agent_log "session: tunnel up: .*mode spawned_sshd" 15 "tunnel up"
SSH=(ssh -F /dev/null -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null
  -o StrictHostKeyChecking=no -o IdentitiesOnly=yes -o BatchMode=yes -p "$SESSION_PORT" -i "$(key_path alice)")
("${SSH[@]}" -tt "$OP@127.0.0.1" 'echo up; exec sleep 120' >"$WORK/live.out" 2>&1 </dev/null) &
live=$!
wait_for 10 grep -q up "$WORK/live.out" || fatal "live shell: $(cat "$WORK/live.out")"

trace "SIGTERM while a command runs and an operator is connected"
command "$U1"
wait_for 15 runs_are 1 || fatal "the command did not start: $(tail -5 "$AGENT_LOG")"
cmd_pid=$(awk '/^svc / {print $2}' "$MARKER")
at_exit kill_quietly "$cmd_pid"
mapfile -t procs < <(_descendants "$AGENT_PID")
((${#procs[@]} >= 2)) || fatal "the agent has no children (sshd -i, the command): ${procs[*]}"
mark=$(file_size "$RAS_STATE/requests.jsonl")
t0=$(now_ms)
kill -TERM "$AGENT_PID"
timeout 10 tail -s 0.02 --pid="$AGENT_PID" -f /dev/null || fail "the agent did not exit within 10 s of SIGTERM"
stop_ms=$(($(now_ms) - t0))
rc=0
wait "$AGENT_PID" || rc=$?
AGENT_PID=
trace "SIGTERM -> exit: ${stop_ms} ms"
((stop_ms < 2000)) || fail "the agent took ${stop_ms} ms to stop, want < 2000"
[ "$rc" = 0 ] || fail "SIGTERM: agent exit $rc, want 0"
alive "$cmd_pid" && fail "the command (pid $cmd_pid) survived the agent"
for p in ${procs[@]+"${procs[@]}"}; do
  alive "$p" && fail "pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)) outlived the agent"
done
[ -z "$(sshd_children)" ] || fail "sshd -i left running: $(sshd_children)"
[ ! -s "$SSHD_DIR/authorized_keys" ] || fail "session keys left: $(cat "$SSHD_DIR/authorized_keys")"
timeout 10 tail --pid="$live" -f /dev/null || fail "the operator's shell survived the agent"
wait "$live" 2>/dev/null || true
expect_agent_log "session: ended: agent shutting down" 1 "the session ended cleanly"
expect_agent_log "commands: $U1 ended: the agent is stopping; its failed result is kept pending" 1 "command ended"
[ "$(results_for "$U1")" = 0 ] || fail "a result was POSTed while stopping"
[ "$(ras_count POST "/ras/commands/$U1/result")" = 0 ] || fail "a POST was attempted while stopping"
json_check "$(cat "$WORK/agent/commands/$U1.cmd")" '
o = d["output"]
assert d["cmd_id"] == "'"$U1"'", d
assert o["success"] is False and o["exit_code"] is None, o
assert o["error"] == "cancelled: porthole-agent stopped while the command ran", o' "pending record after SIGTERM"

trace "restart: the pending result is delivered once, the command not run again"
clear_session
start_agent
wait_for 15 results_are "$U1" 1 || fail "the pending result was not delivered after the restart"
poll_commands
poll_commands
[ "$(results_for "$U1")" = 1 ] || fail "$U1 reported $(results_for "$U1") times"
[ "$(runs)" = 1 ] || fail "the command ran $(runs) times"
json_check "$(grep "\"$U1\"" "$RESULTS")" '
r = d["result"]
assert r["success"] is False and r["error"] == "cancelled: porthole-agent stopped while the command ran", r' "delivered result"
[ ! -e "$WORK/agent/commands/$U1.cmd" ] || fail "the record stayed after delivery"

trace "SIGKILL during a command: one failed result after the restart, no second run"
command "$U2"
poll_commands
wait_for 15 runs_are 2 || fatal "the second command did not start"
cmd_pid=$(awk '/^svc / {p = $2} END {print p}' "$MARKER")
at_exit kill_quietly "$cmd_pid"
stop_agent KILL
kill -9 "$cmd_pid" 2>/dev/null || true  # an orphan now: the test's to end
[ -e "$WORK/agent/commands/$U2.cmd" ] || fail "no record of the running command after SIGKILL"
start_agent
wait_for 15 results_are "$U2" 1 || fail "no result for $U2 after the restart"
poll_commands
poll_commands
poll_commands
[ "$(results_for "$U2")" = 1 ] || fail "$U2 reported $(results_for "$U2") times"
[ "$(grep -c "^svc " "$MARKER")" = 2 ] || fail "a command ran again after the crash: $(cat "$MARKER")"
json_check "$(grep "\"$U2\"" "$RESULTS")" '
r = d["result"]
assert r["success"] is False and r["exit_code"] is None, r
assert r["error"] == "a lock file for the command exists, but no output is available", r' "crash result"
stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
pass
