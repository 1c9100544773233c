#!/usr/bin/env bash
# agent_commands: remote commands end to end (PROTOCOL.md 5, 10.1, 13 rows
# 1-6, 24) against the fake RAS, with signed policy:
#   - an allowed echo runs once and its exact CommandResult is POSTed; the
#     server repeating the command does not run it again;
#   - a command the policy does not allow is not run, its rejection is
#     POSTed ("invalid command received from server");
#   - an execution error (restart-service without a name) is a failed
#     result, not a silent re-run;
#   - with the result endpoint down, the result stays pending in
#     commands_dir and is delivered once after the outage, with identical
#     content;
#   - SIGUSR1 polls commands at once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"

start_ras
AGENT_POLL_SECS=3600 AGENT_TARGET_HOST_PORT=127.0.0.1:9 write_agent_config target_host
make_policy --allow-command echo=hello,world --allow-command restart-service=svc
RESULTS=$RAS_STATE/results.jsonl

# command ID NAME ARGS...: the server hands out this one command.
command() {
  local id=$1 name=$2
  shift 2
  python3 - "$id" "$name" "$@" <<'PY' | atomic_write "$RAS_STATE/commands.json"
import json, sys
print(json.dumps({"values": [{"id": sys.argv[1], "name": sys.argv[2], "args": sys.argv[3:],
                              "created_at": "2026-11-23T10:00:00Z"}]}))
PY
}
results_for() { if [ -f "$RESULTS" ]; then grep -c "\"$1\"" "$RESULTS" || true; else echo 0; fi; }
has_result() { [ "$(results_for "$1")" -ge 1 ]; }
result_of() { grep "\"$1\"" "$RESULTS" | tail -1; }

U1=urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11
U2=urn:tdx-ota:command:1b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f12
U3=urn:tdx-ota:command:2b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f13
U4=urn:tdx-ota:command:3b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f14

trace "an allowed echo runs once; its result is exact"
command "$U1" echo hello world
start_agent
wait_for 15 has_result "$U1" || fail "no result for $U1; log: $(tail -5 "$AGENT_LOG")"
json_check "$(result_of "$U1")" '
r = d["result"]
assert list(r) == ["success", "stdout", "stderr", "error", "exit_code", "finished_at"], list(r)
assert r["success"] is True and r["stdout"] == "hello world" and r["stderr"] == "", r
assert r["error"] is None and r["exit_code"] == 0, r
assert r["finished_at"].endswith("Z"), r' "echo result"
# The server still lists it: more polls, no second run.
mark=$(file_size "$RAS_STATE/requests.jsonl")
kill -USR1 "$AGENT_PID"
wait_request GET /ras/commands 5 "$mark" >/dev/null || fail "SIGUSR1 did not poll commands"
kill -USR1 "$AGENT_PID"
mark=$(file_size "$RAS_STATE/requests.jsonl")
kill -USR1 "$AGENT_PID"
wait_request GET /ras/commands 5 "$mark" >/dev/null || fail "second SIGUSR1 did not poll commands"
[ "$(results_for "$U1")" = 1 ] || fail "the command ran or was reported again: $(results_for "$U1") results"

trace "a command outside the policy is rejected, not run"
command "$U2" echo not-allowed
kill -USR1 "$AGENT_PID"
wait_for 10 has_result "$U2" || fail "no rejection for $U2"
json_check "$(result_of "$U2")" '
r = d["result"]
assert r["success"] is False and r["stdout"] == "" and r["exit_code"] is None, r
assert r["error"]["message"] == "invalid command received from server", r' "rejection"

trace "an execution error is a failed result"
command "$U3" restart-service
kill -USR1 "$AGENT_PID"
wait_for 10 has_result "$U3" || fail "no result for $U3 (restart-service without a name)"
json_check "$(result_of "$U3")" '
r = d["result"]
assert r["success"] is False and r["error"] is not None, r' "execution error"

trace "result endpoint down: the result stays pending and is delivered once after"
ras_fault result 500 "down"
command "$U4" echo world
mark=$(file_size "$RAS_STATE/requests.jsonl")
kill -USR1 "$AGENT_PID"
wait_request POST "/ras/commands/$U4/result" 10 "$mark" >/dev/null || fail "no POST attempt for $U4"
pending=$WORK/agent/commands/$U4.cmd
wait_for 5 test -s "$pending" || fail "no pending record $pending"
json_check "$(cat "$pending")" 'assert d["cmd_id"] == "'"$U4"'" and d["output"]["stdout"] == "world", d' "pending record"
echo '{"values":[]}' | atomic_write "$RAS_STATE/commands.json"
ras_clear_fault result
kill -USR1 "$AGENT_PID"
wait_for 10 has_result "$U4" || fail "the pending result was not delivered after the outage"
wait_for 5 test ! -e "$pending" || fail "pending record left after delivery"
[ "$(results_for "$U4")" = 1 ] || fail "the pending result was delivered $(results_for "$U4") times"
json_check "$(result_of "$U4")" 'assert d["result"]["stdout"] == "world", d' "delivered pending result"

stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
pass
