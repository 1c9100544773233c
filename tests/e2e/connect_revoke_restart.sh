#!/usr/bin/env bash
# connect_revoke_restart: the real porthole-server with a real
# porthole-agent (spawned_sshd) and OpenSSH operators:
#   - revocation: `porthole session close` in the middle of a transfer cuts
#     the operator's ssh and the agent's tunnel within 1 s (the figure is
#     printed; asserted with a generous 3 s bound); session.close,
#     tunnel.down and operator.disconnect (with its bytes) are audited;
#   - server restart (the relay with it): a session is open and the agent's
#     tunnel up; the server is killed and started again on the same data
#     dir; the agent reconnects by itself, the same session carries the
#     operator again (porthole connect reuses it), and `porthole audit`
#     shows the tunnel going down and up again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"

OP=op$UNIQ
make_user "$OP"
ssh-keygen -q -t ed25519 -N '' -C alice@e2e -f "$OP_HOME/.ssh/id_ed25519" </dev/null
start_server
ph_login
ph policy allow-key "$OP_HOME/.ssh/id_ed25519.pub" --name alice
expect_rc 0 "policy allow-key alice"
start_device dev1 spawned_sshd
DEV1=${DEV_ID[dev1]}

trace "revocation: session close in the middle of a transfer"
ph connect "$OP@dev1" -- -F /dev/null true
expect_rc 0 "connect dev1"
SID=$(session_of dev1)
[ -n "$SID" ] || fatal "no live session on dev1 after connect"
ph ssh-config --key "$OP_HOME/.ssh/id_ed25519"
expect_rc 0 "ssh-config"
printf '%s\n' "$OUT" >"$WORK/ssh_config"
# An endless upload into a file on the device.
mark=$(file_size "${DEV_LOG[dev1]}")
env HOME="$OP_HOME" ssh -F "$WORK/ssh_config" -o BatchMode=yes "$OP@dev1" "cat >/home/$OP/sink" \
  </dev/zero >"$WORK/xfer.log" 2>&1 &
XFER=$!
at_exit _stop_pid "$XFER"
growing() { [ "$(file_size "/home/$OP/sink")" -gt $((8 * 1024 * 1024)) ]; }
wait_for 30 growing || fatal "the transfer did not start: $(cat "$WORK/xfer.log")"
t0=$(now_ms)
ph session close "$SID"
expect_rc 0 "session close"
timeout 10 tail -s 0.02 --pid="$XFER" -f /dev/null || fail "the operator's transfer survived the close"
t1=$(now_ms)
log_wait "${DEV_LOG[dev1]}" 'session: ended' 10 "$mark" >/dev/null || fail "the agent's tunnel survived the close"
t2=$(now_ms)
trace "FIGURE session close -> operator cut $((t1 - t0)) ms, agent tunnel ended (seen) $((t2 - t0)) ms"
(((t1 - t0) < 3000)) || fail "operator cut after $((t1 - t0)) ms; want < 1 s (bound 3 s)"
(((t2 - t0) < 3000)) || fail "agent tunnel ended after $((t2 - t0)) ms; want < 1 s (bound 3 s)"
size1=$(file_size "/home/$OP/sink")
sleep 0.5
[ "$(file_size "/home/$OP/sink")" = "$size1" ] || fail "bytes still reach the device after the close"
expect_audit "any(e['kind'] == 'session.close' and e['session'] == '$SID' for e in events)" "session.close"
expect_audit "any(e['kind'] == 'tunnel.down' and e['session'] == '$SID' for e in events)" "tunnel.down"
expect_audit "any(e['kind'] == 'operator.disconnect' and e['session'] == '$SID' and e['details']['bytes_to_device'] >= 8*1024*1024 for e in events)" \
  "operator.disconnect with the bytes sent"
rm -f "/home/$OP/sink"

trace "server restart: the agent reconnects, the session carries on"
ph connect "$OP@dev1" -- -F /dev/null 'echo before'
expect_rc 0 "connect before the restart"
[ "$OUT" = before ] || fail "before the restart: '$OUT' $ERR"
SID=$(session_of dev1)
mark=$(file_size "${DEV_LOG[dev1]}")
stop_server KILL
start_server
expect_dev_log dev1 'session: tunnel up' 60 "the agent reconnected to the restarted relay" "$mark"
ph connect "$OP@dev1" -- -F /dev/null 'echo after'
expect_rc 0 "connect after the restart"
[ "$OUT" = after ] || fail "after the restart: '$OUT' $ERR"
expect_err "using session $SID" "the same session after the restart"
dev_alive dev1 || fail "the agent exited"
expect_audit "sum(1 for e in events if e['kind'] == 'tunnel.up' and e['session'] == '$SID') >= 2" \
  "tunnel.up before and after the restart"
expect_audit "any(e['kind'] == 'operator.connect' and e['device'] == '$DEV1' for e in events)" "operator.connect"
pass
