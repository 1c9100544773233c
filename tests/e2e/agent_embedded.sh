#!/usr/bin/env bash
# agent_embedded: a session served by the agent's own SSH server (embedded
# mode), reached with a real OpenSSH client through a real relay sshd
# (PROTOCOL.md 4.7, 10.2 test_embedded_server, 13 row 23):
#   - a PTY shell for any user name: the prompt appears, TERM and the window
#     size arrive, a resize is seen, `exit 7` gives ssh exit status 7;
#   - exec without a PTY: stdout, stderr and the exit status apart; 1 MiB of
#     stdin round-trips intact;
#   - sftp put/get through OpenSSH's sftp-server, byte-identical;
#   - the host key is the persistent one from server_key_path;
#   - a key outside the session is refused;
#   - the end of the session cuts a live shell.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
require_cmd ssh sftp

new_key alice
new_key mallory
start_ras
write_agent_config embedded
start_agent
wait_request POST /ras/public-keys 20 >/dev/null || fail "the agent did not register its key"
start_relay "$RAS_STATE/device-key.pub"
make_policy --operator "$(pub_path alice)"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)"
expect_agent_log "session: tunnel up: .*mode embedded" 15 "tunnel up" "$mark"
PORT=$SESSION_PORT
SSH=(ssh -F /dev/null -o UserKnownHostsFile="$WORK/known_hosts.op" -o GlobalKnownHostsFile=/dev/null
  -o StrictHostKeyChecking=accept-new -o IdentitiesOnly=yes -o BatchMode=yes -p "$PORT")

trace "PTY shell for any user name: prompt, TERM, window size, resize, exit status"
expect_pty_shell 200 50 120 40 7 ignored@127.0.0.1 "${SSH[@]}" -i "$(key_path alice)"

trace "exec without a PTY: stdout, stderr, exit status; stdin round trip"
run "${SSH[@]}" -i "$(key_path alice)" anyone@127.0.0.1 'echo out; echo err >&2; exit 3'
expect_rc 3 "exec exit status"
[ "$OUT" = out ] || fail "exec stdout: '$OUT'"
[[ $ERR == *err* ]] || fail "exec stderr: '$ERR'"
head -c 1048576 /dev/urandom >"$WORK/blob"
timeout 60 "${SSH[@]}" -i "$(key_path alice)" x@127.0.0.1 cat <"$WORK/blob" >"$WORK/blob.back" ||
  fail "cat through exec failed"
cmp -s "$WORK/blob" "$WORK/blob.back" || fail "1 MiB through exec came back different"

trace "sftp put and get"
home=$(getent passwd "$(id -un)" | cut -d: -f6)
remote=$WORK/sftp-remote
printf 'put %s %s\nget %s %s\n' "$WORK/blob" "$remote" "$remote" "$WORK/blob.sftp" >"$WORK/sftp.batch"
timeout 60 sftp -F /dev/null -o UserKnownHostsFile="$WORK/known_hosts.op" -o GlobalKnownHostsFile=/dev/null \
  -o IdentitiesOnly=yes -o BatchMode=yes -P "$PORT" -i "$(key_path alice)" -b "$WORK/sftp.batch" \
  op@127.0.0.1 >"$WORK/sftp.out" 2>&1 || fail "sftp: $(tail -5 "$WORK/sftp.out")"
cmp -s "$WORK/blob" "$remote" || fail "sftp put: the file differs"
cmp -s "$WORK/blob" "$WORK/blob.sftp" || fail "sftp get: the file differs"
: "$home"

trace "the host key is the persistent server_key_path key"
want=$(ssh-keygen -lf "$WORK/agent/embedded_host_key" | awk '{print $2}')
got=$(ssh-keygen -lf "$WORK/known_hosts.op" | awk '{print $2}' | sort -u)
[ "$got" = "$want" ] || fail "host key $got, want $want (one key for every connection)"

trace "a key outside the session is refused"
run "${SSH[@]}" -i "$(key_path mallory)" op@127.0.0.1 true
expect_rc 255 "mallory"
[[ $ERR == *"Permission denied"* ]] || fail "mallory: $ERR"

trace "the end of the session cuts a live shell"
("${SSH[@]}" -tt -i "$(key_path alice)" op@127.0.0.1 'echo up; exec sleep 120' >"$WORK/live.out" 2>&1) &
live=$!
wait_for 10 grep -q up "$WORK/live.out" 2>/dev/null || fail "live shell: $(cat "$WORK/live.out")"
mark=$(file_size "$AGENT_LOG")
clear_session
expect_agent_log "session: ended: session gone" 5 "session gone" "$mark"
timeout 10 tail --pid="$live" -f /dev/null || fail "the shell survived the end of the session"
wait "$live" 2>/dev/null || true
pgrep -f "sleep 120" >/dev/null && fail "the session's child survived the end of the session"

stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
pass
