#!/usr/bin/env bash
# connect_refusals: what the real porthole-server's relay refuses, each
# refusal visible in `porthole audit --json` (kind relay.refused, with the
# key's fingerprint and the reason), with a real porthole-agent
# (spawned_sshd) as dev1, a second device dev2, and OpenSSH straight to the
# relay:
#   - an operator key that is in no live session (login refused);
#   - alice's key, in dev1's session, asking for dev2 (another device's
#     session);
#   - a forward to a port that is not the session's (operator direct-tcpip
#     to 127.0.0.1:OTHER, and the device's tcpip-forward of another port);
#   - a device key that is not the registered one;
#   - an expired session (--for 10s): the operator's shell is cut, the
#     agent's tunnel ends, session.expire is audited, a new login refused;
#   - audit filters: --device shows only that device's events, --since
#     skips older ones.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_cmd curl

OP=op$UNIQ
make_user "$OP"
ssh-keygen -q -t ed25519 -N '' -C alice@e2e -f "$OP_HOME/.ssh/id_ed25519" </dev/null
ALICE_KEY=$OP_HOME/.ssh/id_ed25519
ALICE_FP=$(ssh-keygen -lf "$ALICE_KEY.pub" | awk '{print $2}')
new_key eve
new_key bob
start_server
ph_login
relay_known_hosts
ph policy allow-key "$ALICE_KEY.pub" --name alice
expect_rc 0 "policy allow-key alice"
ph policy allow-key "$(pub_path bob)" --name bob
expect_rc 0 "policy allow-key bob"
start_device dev1 spawned_sshd
DEV1=${DEV_ID[dev1]}
srv device add dev2 --out "$WORK/dev2" --device-dir "$WORK/dev2"
[ "$RC" = 0 ] || fatal "device add dev2: $ERR"
DEV2=$(awk -F'[()]' '/^# porthole-agent configuration for device/ {print $2; exit}' "$WORK/dev2/agent.toml")

ph session open dev1 --json
expect_rc 0 "session open dev1"
PORT1=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["reverse_port"])')
SID1=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
ph session open dev2 --key "$(pub_path bob)"
expect_rc 0 "session open dev2 for bob"
expect_dev_log dev1 'session: tunnel up' 20 "dev1's tunnel"
relay_ssh "$ALICE_KEY" porthole -W dev1:22
expect_out "SSH-2.0-" "alice reaches dev1's sshd (the baseline)"

trace "an operator key in no live session"
relay_ssh "$(key_path eve)" porthole -W dev1:22
expect_rc 255 "eve's login"
expect_err "Permission denied" "eve is refused at login"
expect_audit "any(e['kind'] == 'relay.refused' and e['details'].get('fingerprint') == '$(fingerprint eve)' and 'is not in any live session' in e['details']['reason'] for e in events)" \
  "eve's refusal is audited"

trace "another device's session"
relay_ssh "$ALICE_KEY" porthole -W dev2:22
expect_rc 255 "alice to dev2"
expect_err "open failed" "the channel to dev2 is refused"
expect_audit "any(e['kind'] == 'relay.refused' and e['device'] == '$DEV2' and 'lists this key' in e['details']['reason'] for e in events)" \
  "the refusal for dev2 is audited"

trace "a port that is not the session's"
OTHER=$((PORT1 == 65000 ? 65001 : 65000))
relay_ssh "$ALICE_KEY" porthole -W "127.0.0.1:$OTHER"
expect_rc 255 "direct-tcpip to 127.0.0.1:$OTHER"
expect_err "open failed" "the channel to another port is refused"
relay_ssh "$ALICE_KEY" porthole -W "dev1:2222"
expect_rc 255 "direct-tcpip to dev1:2222"
expect_audit "any(e['kind'] == 'relay.refused' and 'reverse port $OTHER' in e['details']['reason'] for e in events)" \
  "the wrong port is audited"
# The device's own key file (the agent made it) forwarding another port.
relay_ssh "$WORK/dev/dev1/device-key" "$DEV1" -N -o ExitOnForwardFailure=yes -R "127.0.0.1:$OTHER:127.0.0.1:9"
expect_rc 255 "the device forwarding 127.0.0.1:$OTHER"
expect_audit "any(e['kind'] == 'relay.refused' and e['device'] == '$DEV1' and 'tcpip-forward 127.0.0.1:$OTHER' in e['details']['reason'] for e in events)" \
  "the device's wrong forward is audited"

trace "a device key that is not the registered one"
relay_ssh "$(key_path eve)" "$DEV1" -N -o ExitOnForwardFailure=yes -R "127.0.0.1:$PORT1:127.0.0.1:9"
expect_rc 255 "a device login with another key"
expect_err "Permission denied" "the unregistered device key is refused"
expect_audit "any(e['kind'] == 'relay.refused' and e['device'] == '$DEV1' and e['details'].get('user') == '$DEV1' and e['details'].get('fingerprint') == '$(fingerprint eve)' for e in events)" \
  "the unregistered device key is audited"
relay_ssh "$ALICE_KEY" porthole -W dev1:22
expect_out "SSH-2.0-" "dev1's real tunnel survived the impostor"

trace "audit filters"
audit_json --device dev2
printf '%s' "$AUDIT" | python3 -c '
import json, sys
ev = json.load(sys.stdin)["events"]
assert ev and all(e["device"] == sys.argv[1] for e in ev), ev' "$DEV2" || fail "audit --device dev2 shows other devices"
sleep 1.1 # --since has whole seconds
ph audit --json --since "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
expect_rc 0 "audit --since now"
json_check "$OUT" "assert d['events'] == [], d" "audit --since now: nothing yet"

trace "an expired session: the shell is cut, a new login refused"
ph session close "$SID1"
expect_rc 0 "close dev1's session"
mark=$(file_size "${DEV_LOG[dev1]}")
ph session open dev1 --for 10s --json
expect_rc 0 "session open --for 10s"
SID2=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
expect_dev_log dev1 'session: tunnel up' 20 "dev1's tunnel for the short session" "$mark"
cat >"$WORK/jump_config" <<EOF
Host relay
  HostName 127.0.0.1
  Port $RELAY_PORT
  User porthole
  IdentityFile $ALICE_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $WORK/relay_known_hosts
Host dev1
  IdentityFile $ALICE_KEY
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
EOF
ssh -F "$WORK/jump_config" -o BatchMode=yes -J relay "$OP@dev1" 'echo up; while echo .; do sleep 0.2; done' \
  >"$WORK/live.out" 2>&1 </dev/null &
LIVE=$!
at_exit _stop_pid "$LIVE"
wait_for 10 grep -q up "$WORK/live.out" || fail "no shell in the short session: $(cat "$WORK/live.out")"
timeout 15 tail --pid="$LIVE" -f /dev/null || fail "the expired session did not cut the operator"
expect_dev_log dev1 'session: ended' 10 "the agent's tunnel ends at expiry" "$mark"
expect_audit "any(e['kind'] == 'session.expire' and e['session'] == '$SID2' for e in events)" "session.expire"
expect_audit "any(e['kind'] == 'tunnel.down' and e['session'] == '$SID2' for e in events)" "tunnel.down at expiry"
relay_ssh "$ALICE_KEY" porthole -W dev1:22
expect_rc 255 "alice after expiry"
expect_audit "sum(1 for e in events if e['kind'] == 'relay.refused' and e['details'].get('fingerprint') == '$ALICE_FP') >= 3" \
  "alice's refusals, the last one after expiry"
pass
