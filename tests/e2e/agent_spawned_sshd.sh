#!/usr/bin/env bash
# agent_spawned_sshd: sessions served by OpenSSH's own sshd, one `sshd -i`
# per forwarded connection (PROTOCOL.md 8.1, 10.2 test_spawned_sshd, 13 rows
# 18-22), with a real relay sshd and a real ssh client:
#   agent as root:
#   - a user logs in with the session key: PTY shell (prompt, TERM, window
#     size), exec with exit status, sftp (internal-sftp), ssh -L;
#   - root may not log in; a key outside the session is refused;
#   - the generated sshd.conf is hardened; authorized_keys holds exactly the
#     session's keys; no sshd runs while nobody is connected;
#   - the end of the session cuts a live shell, empties authorized_keys and
#     leaves no sshd behind;
#   agent started as root with unprivileged_user_group (RAC's usual setup):
#   - it drops to that user for good after reading its TLS material (the
#     client key stays root-only);
#   - that user logs in (exec), nobody else does.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
require_cmd ssh sftp curl setpriv

OP=op$UNIQ
make_user "$OP"
new_key alice
new_key mallory
start_ras
write_agent_config spawned_sshd
SSHD_DIR=$WORK/agent/sshd
AGENT_WRAP=("${AGENT_PRIVATE_RUN[@]}")
start_agent
wait_request POST /ras/public-keys 20 >/dev/null || fail "the agent did not register its key"
start_relay "$RAS_STATE/device-key.pub"
make_policy --operator "$(pub_path alice)"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)"
expect_agent_log "session: tunnel up: .*mode spawned_sshd" 15 "tunnel up" "$mark"
PORT=$SESSION_PORT
KH=$WORK/known_hosts.op
SSH=(ssh -F /dev/null -o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null
  -o StrictHostKeyChecking=accept-new -o IdentitiesOnly=yes -o BatchMode=yes -p "$PORT")
sshd_children() { pgrep -f "sshd -i -f $SSHD_DIR/sshd.conf" || true; }

trace "the generated config and files"
conf=$SSHD_DIR/sshd.conf
for line in "StrictModes yes" "PermitRootLogin no" "PasswordAuthentication no" \
  "AllowAgentForwarding no" "AllowTcpForwarding local" "X11Forwarding no" \
  "Subsystem sftp internal-sftp" "AuthorizedKeysFile $SSHD_DIR/authorized_keys"; do
  grep -qxF "$line" "$conf" || fail "sshd.conf lacks '$line'"
done
grep -q '^AllowUsers' "$conf" && fail "a root agent's sshd.conf must not restrict users"
[ "$(stat -c %a "$conf")" = 600 ] || fail "sshd.conf mode $(stat -c %a "$conf")"
[ "$(stat -c %a "$SSHD_DIR")" = 711 ] || fail "config_dir mode $(stat -c %a "$SSHD_DIR"), want 711 for a root agent"
[ "$(stat -c %a "$SSHD_DIR/host_key_ed25519")" = 600 ] || fail "host key mode"
[ "$(awk '{print $2}' "$SSHD_DIR/authorized_keys")" = "$(key_blob alice)" ] ||
  fail "authorized_keys is not exactly the session's key: $(cat "$SSHD_DIR/authorized_keys")"
[ -z "$(sshd_children)" ] || fail "an sshd runs before anyone connected"

trace "exec with exit status, stderr apart"
run "${SSH[@]}" -i "$(key_path alice)" "$OP@127.0.0.1" 'id -un; echo err >&2; exit 3'
expect_rc 3 "exec exit status"
[ "$OUT" = "$OP" ] || fail "exec as $OP printed '$OUT'"
[[ $ERR == *err* ]] || fail "exec stderr: '$ERR'"
[ "$(ssh-keygen -lf "$KH" | awk '{print $2}')" = "$(ssh-keygen -lf "$SSHD_DIR/host_key_ed25519" | awk '{print $2}')" ] ||
  fail "the operator did not meet the persistent host key"

trace "PTY shell: prompt, TERM, window size"
expect_pty_shell 100 30 132 43 5 "$OP@127.0.0.1" "${SSH[@]}" -i "$(key_path alice)"

trace "sftp (internal-sftp) put and get"
head -c 300000 /dev/urandom >"$WORK/blob"
home=$(getent passwd "$OP" | cut -d: -f6)
printf 'put %s blob\nget blob %s\n' "$WORK/blob" "$WORK/blob.back" >"$WORK/sftp.batch"
timeout 60 sftp -F /dev/null -o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null \
  -o IdentitiesOnly=yes -o BatchMode=yes -P "$PORT" -i "$(key_path alice)" -b "$WORK/sftp.batch" \
  "$OP@127.0.0.1" >"$WORK/sftp.out" 2>&1 || fail "sftp: $(tail -5 "$WORK/sftp.out")"
cmp -s "$WORK/blob" "$home/blob" || fail "sftp put: the file differs"
cmp -s "$WORK/blob" "$WORK/blob.back" || fail "sftp get: the file differs"

trace "ssh -L through the session reaches a port on the device"
lport=$(free_port)
"${SSH[@]}" -i "$(key_path alice)" -o ExitOnForwardFailure=yes -N \
  -L "127.0.0.1:$lport:127.0.0.1:$RAS_PORT" "$OP@127.0.0.1" 2>"$WORK/fwd.err" &
fwd=$!
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$lport") 2>/dev/null; }
wait_for 10 listening ||
  fail "ssh -L did not listen: $(cat "$WORK/fwd.err")"
body=$(curl -sS --cacert "$RAS_PKI/ca.crt" --cert "$RAS_PKI/client.crt" --key "$RAS_PKI/client.key" \
  --resolve "127.0.0.1:$lport:127.0.0.1" "https://127.0.0.1:$lport/ras/sessions") ||
  fail "curl through ssh -L failed"
[[ $body == *reverse_port* ]] || fail "ssh -L: unexpected body '$body'"
kill "$fwd" 2>/dev/null || true
wait "$fwd" 2>/dev/null || true

trace "root and keys outside the session are refused"
run "${SSH[@]}" -i "$(key_path alice)" root@127.0.0.1 true
expect_rc 255 "root login"
run "${SSH[@]}" -i "$(key_path mallory)" "$OP@127.0.0.1" true
expect_rc 255 "mallory"
no_sshd_children() { [ -z "$(sshd_children)" ]; }
wait_for 10 no_sshd_children ||
  fail "sshd -i processes outlived their connections: $(sshd_children)"

trace "the end of the session cuts a live shell and cleans up"
("${SSH[@]}" -tt -i "$(key_path alice)" "$OP@127.0.0.1" 'echo up; exec sleep 120' >"$WORK/live.out" 2>&1) &
live=$!
wait_for 10 grep -q up "$WORK/live.out" 2>/dev/null || fail "live shell: $(cat "$WORK/live.out")"
mark=$(file_size "$AGENT_LOG")
clear_session
expect_agent_log "session: ended: session gone" 5 "session gone" "$mark"
timeout 10 tail --pid="$live" -f /dev/null || fail "the shell survived the end of the session"
wait "$live" 2>/dev/null || true
[ -z "$(sshd_children)" ] || fail "sshd -i left running after the session: $(sshd_children)"
[ ! -s "$SSHD_DIR/authorized_keys" ] || fail "session keys left in authorized_keys: $(cat "$SSHD_DIR/authorized_keys")"
stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"

trace "agent started as root, dropping to unprivileged_user_group: only that user may log in"
AG=ag$UNIQ
make_user "$AG"
agdir=$WORK/agent-$AG
install -d -m 755 -o "$AG" -g "$(id -gn "$AG")" "$agdir"
# The client key stays root's (0600): read before the drop, as RAC's
# /var/sota/import/pkey.pem is.
[ "$(stat -c '%U %a' "$RAS_PKI/client.key")" = "root 600" ] || chmod 600 "$RAS_PKI/client.key"
AGENT_DEVICE_EXTRA="unprivileged_user_group = \"$AG:$(id -gn "$AG")\"" \
  AGENT_DEVICE_KEY=$agdir/device-key.sec AGENT_SSHD_DIR=$agdir/sshd write_agent_config spawned_sshd
sed -i "s|^local_tuf_repo_path = .*|local_tuf_repo_path = \"$agdir/uptane-repo\"|; s|^commands_dir = .*|commands_dir = \"$agdir/commands\"|" "$WORK/agent.toml"
AGENT_WRAP=()
mark=$(file_size "$RAS_STATE/requests.jsonl")
start_agent
wait_request POST /ras/public-keys 20 "$mark" >/dev/null || fail "the unprivileged agent did not register"
expect_agent_log "running as $AG:.* \(privileges dropped[;)]" 5 "privilege drop"
[ "$(awk '/^Uid:/ {print $2 $3 $4 $5}' "/proc/$AGENT_PID/status")" = "$(id -u "$AG")$(id -u "$AG")$(id -u "$AG")$(id -u "$AG")" ] ||
  fail "the agent still has another uid: $(grep -E '^(Uid|Gid):' "/proc/$AGENT_PID/status")"
relay_authorize "$RAS_STATE/device-key.pub"
write_session --operator "$(pub_path alice)"
expect_agent_log "session: tunnel up: .*mode spawned_sshd" 15 "tunnel up (unprivileged)"
grep -qxF "AllowUsers $AG" "$agdir/sshd/sshd.conf" || fail "sshd.conf of an unprivileged agent lacks AllowUsers $AG"
[ "$(stat -c %U "$agdir/sshd/host_key_ed25519")" = "$AG" ] || fail "the host key is not the agent user's"
rm -f "$KH"
run "${SSH[@]}" -i "$(key_path alice)" "$AG@127.0.0.1" 'id -un'
expect_rc 0 "login as the agent's user"
[ "$OUT" = "$AG" ] || fail "login as $AG printed '$OUT'"
run "${SSH[@]}" -i "$(key_path alice)" "$OP@127.0.0.1" true
expect_rc 255 "another user with an unprivileged agent"
stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM (unprivileged): agent exit $AGENT_RC, want 0"
pass
