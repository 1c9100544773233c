#!/usr/bin/env bash
# relay_openssh: porthole's SSH relay (porthole-test-relay) between stock
# OpenSSH on both sides: the device is `ssh -N -R 127.0.0.1:PORT:127.0.0.1:22`
# to the relay as its UUID (what a RAC device does) in front of a real sshd,
# the operator is `ssh -J porthole@RELAY USER@DEVICE`:
#   - a PTY shell (prompt, TERM, window size and resize, exit status);
#   - scp of 100 MiB up and back, byte-identical;
#   - sftp put and get;
#   - ssh -L through the jump to a web server bound to the device's
#     127.0.0.1 (python3 -m http.server);
#   - 50 operator connections at once through the one device tunnel;
#   - events: tunnel up, operator connect/disconnect with key fingerprint,
#     bytes each way and duration;
#   - the relay runs as an unprivileged user (it needs no root).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"
require_cmd ssh scp sftp curl cmp setpriv

DEV_ID=3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f
OP=op$UNIQ
make_user "$OP"
new_key device
new_key alice
PORT7=$(free_port)

# The device's own sshd: the operator logs in as $OP with alice's key.
install -m 644 "$(pub_path alice)" "$WORK/target_authorized_keys"
echo "# relay_openssh: everything is on the command line" >"$WORK/target.conf"
start_sshd target "$WORK/target.conf" "AuthorizedKeysFile $WORK/target_authorized_keys" \
  "AllowUsers $OP" "Subsystem sftp internal-sftp" "MaxStartups 200" "MaxSessions 200"
TARGET_PORT=${SSHD_PORT[target]}

rt_device "$DEV_ID" dev-7 "$(pub_path device)"
rt_session s7 "$DEV_ID" "$PORT7" 3600 "$(pub_path alice)"
# The relay runs unprivileged: its directory (table, host key) is its own.
RLY=rly$UNIQ
make_user "$RLY"
chown -R "$RLY:" "$WORK/relay"
TRELAY_WRAP=(setpriv --reuid="$RLY" --regid="$(id -g "$RLY")" --init-groups --no-new-privs)
start_test_relay
[ "$(stat -c %U "/proc/$TRELAY_PID")" = "$RLY" ] || fail "the relay does not run as $RLY"
[ "$(stat -c '%U %a' "$TRELAY_HOST_KEY")" = "$RLY 600" ] ||
  fail "host key: $(stat -c '%U %a' "$TRELAY_HOST_KEY"), want $RLY 600"
operator_config alice
operator_config device
CFG=$WORK/ssh_config.alice

trace "the device: ssh -N -R 127.0.0.1:$PORT7:127.0.0.1:$TARGET_PORT as $DEV_ID"
ssh -F "$WORK/ssh_config.device" -o ExitOnForwardFailure=yes -o LogLevel=INFO -N \
  -R "127.0.0.1:$PORT7:127.0.0.1:$TARGET_PORT" "$DEV_ID@relay" \
  </dev/null >"$WORK/device.out" 2>&1 &
DEVICE_PID=$!
at_exit bg_stop "$DEVICE_PID"
expect_event tunnel_up "forwarding 127.0.0.1:$PORT7" 20 "tunnel up"
[ "$(event_field "$EVENT" device)" = "$DEV_ID" ] || fail "tunnel_up device: $EVENT"
[ "$(event_field "$EVENT" session)" = s7 ] || fail "tunnel_up session: $EVENT"

trace "exec through ssh -J"
mark=$(event_mark)
run ssh -F "$CFG" -J relay "$OP@dev-7" 'id -un; exit 3'
expect_rc 3 "exec through the jump"
[ "$OUT" = "$OP" ] || fail "exec printed '$OUT': $ERR"
expect_event operator_disconnect "closed" 10 "operator disconnect" "$mark"
[ "$(event_field "$EVENT" fingerprint)" = "$(fingerprint alice)" ] || fail "fingerprint: $EVENT"
(($(event_field "$EVENT" bytes_to_device) > 1000 && $(event_field "$EVENT" bytes_from_device) > 1000)) ||
  fail "byte counts: $EVENT"

trace "PTY shell through ssh -J"
relay_pty_shell "$OP@dev-7" ssh -F "$CFG" -J relay

trace "scp 100 MiB up and back"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$WORK/big"
home=$(getent passwd "$OP" | cut -d: -f6)
t0=$(now_ms)
timeout 120 scp -q -F "$CFG" -J relay "$WORK/big" "$OP@dev-7:big" 2>"$WORK/scp.err" ||
  fail "scp up: $(cat "$WORK/scp.err")"
t1=$(now_ms)
cmp -s "$WORK/big" "$home/big" || fail "scp up: the file differs"
timeout 120 scp -q -F "$CFG" -J relay "$OP@dev-7:big" "$WORK/big.back" 2>"$WORK/scp.err" ||
  fail "scp down: $(cat "$WORK/scp.err")"
t2=$(now_ms)
cmp -s "$WORK/big" "$WORK/big.back" || fail "scp down: the file differs"
trace "scp 100 MiB: up $((t1 - t0)) ms, down $((t2 - t1)) ms"
rm -f "$home/big" "$WORK/big.back"

trace "sftp put and get"
head -c 300000 /dev/urandom >"$WORK/blob"
printf 'put %s blob\nget blob %s\n' "$WORK/blob" "$WORK/blob.back" >"$WORK/sftp.batch"
timeout 60 sftp -F "$CFG" -J relay -b "$WORK/sftp.batch" "$OP@dev-7" >"$WORK/sftp.out" 2>&1 ||
  fail "sftp: $(tail -5 "$WORK/sftp.out")"
cmp -s "$WORK/blob" "$home/blob" || fail "sftp put: the file differs"
cmp -s "$WORK/blob" "$WORK/blob.back" || fail "sftp get: the file differs"

trace "ssh -L through the jump to a web server on the device's 127.0.0.1"
mkdir -p "$WORK/www"
head -c 2000000 /dev/urandom >"$WORK/www/payload"
HTTP_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$HTTP_PORT" \
  >"$WORK/http.log" 2>&1 &
HTTP_PID=$!
at_exit bg_stop "$HTTP_PID"
http_up() { (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null; }
wait_for 20 http_up || fatal "python3 -m http.server did not listen: $(cat "$WORK/http.log")"
LPORT=$(free_port)
ssh -F "$CFG" -J relay -o ExitOnForwardFailure=yes -N \
  -L "127.0.0.1:$LPORT:127.0.0.1:$HTTP_PORT" "$OP@dev-7" 2>"$WORK/fwd.err" &
FWD=$!
at_exit bg_stop "$FWD"
l_up() { (exec 3<>"/dev/tcp/127.0.0.1/$LPORT") 2>/dev/null; }
wait_for 20 l_up || fail "ssh -L did not listen: $(cat "$WORK/fwd.err")"
curl -sS -o "$WORK/payload.back" "http://127.0.0.1:$LPORT/payload" 2>"$WORK/curl.err" ||
  fail "curl through ssh -L: $(cat "$WORK/curl.err")"
cmp -s "$WORK/www/payload" "$WORK/payload.back" || fail "ssh -L: the page differs"
kill "$FWD" 2>/dev/null || true
wait "$FWD" 2>/dev/null || true

trace "50 operator connections at once through one device tunnel"
mark=$(event_mark)
pids=()
for i in $(seq 1 50); do
  # 50 sshd logins at once on 2 busy cores: allow a slow banner.
  timeout 120 ssh -F "$CFG" -o ConnectTimeout=60 -J relay "$OP@dev-7" "echo hello-$i" \
    </dev/null >"$WORK/par.$i.out" 2>"$WORK/par.$i.err" &
  pids+=($!)
done
bad=0
for i in $(seq 1 50); do
  wait "${pids[i - 1]}" || true
  [ "$(cat "$WORK/par.$i.out")" = "hello-$i" ] || {
    bad=$((bad + 1))
    trace "connection $i: '$(cat "$WORK/par.$i.out")' $(tail -2 "$WORK/par.$i.err")"
  }
done
((bad == 0)) || fail "$bad of 50 parallel connections failed"
n=$(tail -c +"$((mark + 1))" "$TRELAY_EVENTS" | grep -c '"event":"operator_connect"' || true)
[ "$n" = 50 ] || fail "50 parallel: $n operator_connect events, want 50"
kill -0 "$DEVICE_PID" 2>/dev/null || fail "the device's ssh -R exited: $(cat "$WORK/device.out")"

trace "the relay stops cleanly and says so to the device"
stop_test_relay
[ "$TRELAY_RC" = 0 ] || fail "porthole-test-relay exit $TRELAY_RC on SIGTERM"
timeout 10 tail --pid="$DEVICE_PID" -f /dev/null || fail "the device's ssh -R outlived the relay"
grep -q "server stopping" "$WORK/device.out" || fail "the device was not told: $(cat "$WORK/device.out")"
grep -q '"event":"tunnel_down".*server stopping' "$TRELAY_EVENTS" || fail "no tunnel_down at stop"
pass
