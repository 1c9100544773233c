#!/usr/bin/env bash
# agent_long_poll: porthole-server's device API extensions, client side
# (docs/device-api-extensions.md), against the fake RAS playing
# porthole-server (ras_extensions) or RAC's server:
#   - RAC's server (no X-Porthole-Extensions): the agent behaves exactly as
#     before: no request carries wait or seen, no POST host-keys;
#   - announced: the embedded host key is POSTed to host-keys; an idle
#     agent with poll_timeout = 1 h long-polls and sees a session written at
#     the server in well under a second; a session removed during a 1 h
#     validation period is cut at once; a command arrives at once; every
#     sessions/commands request carries wait (capped by long_poll_wait)
#     and, after the first answer, seen;
#   - the announcement withdrawn: the agent polls plainly again;
#   - the fake itself refuses bad wait/seen values and host-keys bodies.
# Prints the latencies (session seen, session cut, command result).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
require_cmd ssh-keygen

U1=urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11
U2=urn:tdx-ota:command:1b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f12
# command ID: the server hands out `echo hello`.
command() {
  printf '{"values":[{"id":"%s","name":"echo","args":["hello"],"created_at":"2026-11-23T10:00:00Z"}]}\n' "$1" |
    atomic_write "$RAS_STATE/commands.json"
}
has_result() { [ -f "$RAS_STATE/results.jsonl" ] && grep -q "\"$1\"" "$RAS_STATE/results.jsonl"; }
# wait_held PATH FROM_BYTE: the fake holds a request for PATH (a long poll
# whose seen is the current tag) logged after FROM_BYTE of held.jsonl.
wait_held() {
  wait_log "$RAS_STATE/held.jsonl" "\"path\":\"$(_re_quote "$1")\\?" 10 "$2" >/dev/null
}

new_key alice
start_ras
start_relay
make_policy --operator "$(pub_path alice)" --allow-command echo=hello

trace "RAC's server: no wait, no seen, no host-keys"
write_agent_config embedded
start_agent
wait_request POST /ras/public-keys 20 >/dev/null || fatal "the agent did not register its key"
relay_authorize
write_session --operator "$(pub_path alice)"
expect_agent_log "session: tunnel up" 15 "tunnel up (RAC's server)"
command "$U1"
wait_for 10 has_result "$U1" || fail "no result for $U1 from RAC's server"
clear_session
expect_agent_log "session: ended: session gone" 10 "session gone (RAC's server)"
stop_agent
[ -z "$(ras_queries)" ] || fail "requests to RAC's server carried a query: $(ras_queries | sort | uniq -c)"
[ "$(ras_count POST /ras/host-keys)" = 0 ] || fail "host keys were POSTed to RAC's server"
expect_no_agent_log "long poll" "RAC's server"

trace "porthole-server's extensions: host keys, long polls"
ras_extensions "long-poll=55, host-keys"
echo '{"values":[]}' | atomic_write "$RAS_STATE/commands.json"
AGENT_POLL_SECS=3600 AGENT_VALIDATION_SECS=3600 AGENT_PORTHOLE_EXTRA='long_poll_wait = "20s"' \
  write_agent_config embedded
req_mark=$(file_size "$RAS_STATE/requests.jsonl")
held_mark=$(file_size "$RAS_STATE/held.jsonl")
start_held_mark=$held_mark
start_agent
expect_agent_log "the server offers long polls: waiting up to 20 s" 15 "long polls announced"
wait_for 10 test -s "$RAS_STATE/host-keys.json" || fail "no host keys POSTed"
want=$(ssh-keygen -y -f "$WORK/agent/embedded_host_key" | awk '{print $1 " " $2}')
json_check "$(cat "$RAS_STATE/host-keys.json")" '
assert list(d) == ["keys"] and len(d["keys"]) == 1, d
k = d["keys"][0].split(" ")
assert " ".join(k[:2]) == "'"$want"'" and k[2] == "porthole-agent", d' "host-keys body"

trace "an idle agent (poll_timeout 1 h) sees a new session at once"
wait_held /ras/sessions "$held_mark" || fatal "the idle agent's sessions request is not held"
mark=$(file_size "$RAS_STATE/requests.jsonl")
log_mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)" --to "$RAS_STATE/.session.next"
validator_mark=$(file_size "$RAS_STATE/held.jsonl")
t0=$(now_ms)
mv -f "$RAS_STATE/.session.next" "$RAS_STATE/session.json"
wait_log "$RAS_STATE/requests.jsonl" '"path":"/ras/sessions\?wait=20&seen=[0-9a-f]+".*"status":200' 5 "$mark" >/dev/null ||
  fail "the held request did not return the session"
seen_ms=$(($(now_ms) - t0))
expect_agent_log "session: tunnel up" 10 "tunnel up (long poll)" "$log_mark"
up_ms=$(($(now_ms) - t0))
((seen_ms < 1000)) || fail "the session reached the agent ${seen_ms} ms after it was written, want < 1000"
trace "session written -> agent has it: ${seen_ms} ms (tunnel up after ${up_ms} ms)"

trace "a session removed is cut at once during a 1 h validation period"
# The validator long-polls with the tag of the answer it validated.
wait_held /ras/sessions "$validator_mark" || fatal "the validator's request is not held"
log_mark=$(file_size "$AGENT_LOG")
t0=$(now_ms)
clear_session
expect_agent_log "session: ended: session gone \(404\)" 5 "session cut" "$log_mark"
cut_ms=$(($(now_ms) - t0))
((cut_ms < 1000)) || fail "the session was cut ${cut_ms} ms after it was removed, want < 1000"
trace "session removed -> cut: ${cut_ms} ms"

trace "a command arrives at once"
wait_held /ras/commands "$start_held_mark" || fatal "the commands request is not held"
t0=$(now_ms)
command "$U2"
wait_for 5 has_result "$U2" || fail "no result for $U2"
cmd_ms=$(($(now_ms) - t0))
((cmd_ms < 1000)) || fail "the command's result came ${cmd_ms} ms after it was written, want < 1000"
trace "command written -> result posted: ${cmd_ms} ms"

trace "every sessions/commands request long-polls"
python3 - "$RAS_STATE/requests.jsonl" "$req_mark" <<'EOF' || fail "requests without the long poll (above)"
import json, re, sys
path, mark = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()[mark:].decode()
bad, n, first_commands = [], 0, True
for line in data.splitlines():
    r = json.loads(line)
    p = r["path"]
    # The commands loop may send its first request before the answer to
    # POST public-keys (the first announcing the extensions) arrives.
    if first_commands and p == "/ras/commands":
        first_commands = False
        continue
    if r["method"] == "GET" and p.split("?")[0] in ("/ras/sessions", "/ras/commands"):
        n += 1
        if not re.fullmatch(r"/ras/(sessions|commands)\?wait=20(&seen=[0-9a-f]{16})?", p):
            bad.append(p)
print("long polls:", n, file=sys.stderr)
if bad or n < 4:
    print("bad:", bad, "count:", n, file=sys.stderr)
    sys.exit(1)
EOF

trace "the announcement withdrawn: plain polls again"
ras_no_extensions
mark=$(file_size "$RAS_STATE/requests.jsonl")
kill -USR1 "$AGENT_PID"
expect_agent_log "no long polls: polling every 1h" 5 "extensions off"
mark=$(file_size "$RAS_STATE/requests.jsonl")
kill -USR1 "$AGENT_PID"
wait_request GET /ras/sessions 5 "$mark" >/dev/null || fail "SIGUSR1 did not poll"
[ -z "$(ras_queries "$mark")" ] || fail "a long poll after the extensions were withdrawn: $(ras_queries "$mark")"
stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"

trace "the fake refuses what the document refuses"
ras_extensions "long-poll=55, host-keys"
for q in "wait=0" "wait=-1" "wait=" "wait=1x" "wait=5&seen=ABC" "wait=5&seen=" "wait=5&seen=$(printf 'a%.0s' {1..65})"; do
  code=$(ras_curl -o /dev/null -w '%{http_code}' "/ras/sessions?$q")
  [ "$code" = 400 ] || fail "GET sessions?$q: HTTP $code, want 400"
done
code=$(ras_curl -o /dev/null -w '%{http_code}' "/ras/commands?wait=99999")
[ "$code" = 200 ] || fail "a wait over the maximum is clamped, not refused: HTTP $code"
for body in '{"keys":[]}' '{"keys":["not a key"]}' '[]' '{"keys":["ssh-ed25519 AAAA"],"x":1}'; do
  code=$(ras_curl -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$body" /ras/host-keys)
  [ "$code" = 400 ] || fail "POST host-keys $body: HTTP $code, want 400"
done
pass
