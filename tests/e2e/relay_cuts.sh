#!/usr/bin/env bash
# relay_cuts: porthole's SSH relay cutting what is no longer allowed, with
# OpenSSH on both sides (ssh -N -R device in front of a real sshd, ssh -J
# operator):
#   - the session closed in the middle of a transfer (table reloaded, the
#     relay revalidates): the operator's scp and the device's ssh -R both
#     end within a second (asserted with a 3 s bound; the real figure is
#     printed), the device is told why (SSH_MSG_DISCONNECT);
#   - a session that expires is cut at expires_at without being asked;
#   - a device that vanishes (its ssh -R stopped with SIGSTOP) is detected
#     by the relay's keepalives within interval x (count + 1) (+1 s slack).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"
require_cmd ssh scp

DEV=3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f
OP=op$UNIQ
make_user "$OP"
new_key device
new_key alice
PORT7=$(free_port)
KA_MS=1000
KA_COUNT=2

install -m 644 "$(pub_path alice)" "$WORK/target_authorized_keys"
echo "# relay_cuts" >"$WORK/target.conf"
start_sshd target "$WORK/target.conf" "AuthorizedKeysFile $WORK/target_authorized_keys" \
  "AllowUsers $OP" "Subsystem sftp internal-sftp"
TARGET_PORT=${SSHD_PORT[target]}

rt_device "$DEV" dev-7 "$(pub_path device)"
rt_session s7 "$DEV" "$PORT7" 3600 "$(pub_path alice)"
start_test_relay --keepalive-interval-ms "$KA_MS" --keepalive-count "$KA_COUNT"
operator_config alice
operator_config device

# start_device: ssh -N -R as the device; DEVICE_PID, its log device.N.out.
ndev=0
start_device() {
  ndev=$((ndev + 1))
  DEVICE_OUT=$WORK/device.$ndev.out
  ssh -F "$WORK/ssh_config.device" -o ExitOnForwardFailure=yes -o LogLevel=INFO -N \
    -R "127.0.0.1:$PORT7:127.0.0.1:$TARGET_PORT" "$DEV@relay" </dev/null >"$DEVICE_OUT" 2>&1 &
  DEVICE_PID=$!
  at_exit bg_stop "$DEVICE_PID"
}

trace "the session closed in the middle of a transfer"
mark=$(event_mark)
start_device
expect_event tunnel_up "forwarding" 20 "tunnel up" "$mark"
head -c $((400 * 1024 * 1024)) /dev/zero >"$WORK/big"
mark=$(event_mark)
# A slow reader keeps the transfer going for a while: -l 80000 kbit/s.
timeout 120 scp -q -l 80000 -F "$WORK/ssh_config.alice" -J relay "$WORK/big" "$OP@dev-7:big" \
  2>"$WORK/scp.err" &
SCP=$!
at_exit bg_stop "$SCP"
expect_event operator_connect "to dev-7:22" 20 "scp connected" "$mark"
home=$(getent passwd "$OP" | cut -d: -f6)
grows() { [ "$(stat -c %s "$home/big" 2>/dev/null || echo 0)" -gt 1000000 ]; }
wait_for 30 grows || fail "the scp did not get going: $(cat "$WORK/scp.err")"
rt_drop_session s7
rt_commit
mark=$(event_mark)
t0=$(now_ms)
relay_hup
timeout 10 tail -s 0.02 --pid="$SCP" -f /dev/null || fail "scp survived the end of the session"
t_op=$(now_ms)
timeout 10 tail -s 0.02 --pid="$DEVICE_PID" -f /dev/null || fail "ssh -R survived the end of the session"
t_dev=$(now_ms)
scp_rc=0
wait "$SCP" || scp_rc=$?
[ "$scp_rc" != 0 ] || fail "scp finished successfully although its session was closed"
[ "$(stat -c %s "$home/big")" -lt $((400 * 1024 * 1024)) ] || fail "the whole file arrived"
trace "session closed -> operator cut in $((t_op - t0)) ms, device cut in $((t_dev - t0)) ms"
(((t_op - t0) < 3000 && (t_dev - t0) < 3000)) ||
  fail "cut took $((t_op - t0)) ms (operator) and $((t_dev - t0)) ms (device); want < 1 s (bound 3 s)"
grep -q "Received disconnect from 127.0.0.1 port $TRELAY_PORT:11: session closed" "$DEVICE_OUT" ||
  fail "the device was not told why: $(cat "$DEVICE_OUT")"
expect_event tunnel_down "session closed" 5 "tunnel_down reported" "$mark"
expect_event operator_disconnect "session closed" 5 "operator_disconnect reported" "$mark"
(($(event_field "$EVENT" bytes_to_device) > 1000000)) || fail "bytes_to_device: $EVENT"
rm -f "$home/big"

trace "a session that expires is cut at expires_at"
EXP_IN=15
rt_session s7 "$DEV" "$PORT7" "$EXP_IN" "$(pub_path alice)"
relay_reload
expires=$(python3 -c 'import json,sys; print([s["expires"] for s in json.load(open(sys.argv[1]))["sessions"] if s["id"]=="s7"][0])' "$TRELAY_TABLE")
mark=$(event_mark)
start_device
expect_event tunnel_up "forwarding" 20 "tunnel up again" "$mark"
timeout 30 tail -s 0.02 --pid="$DEVICE_PID" -f /dev/null || fail "the expired session's tunnel stayed up"
t_cut=$(now_ms)
t_exp=$(($(date -d "$expires" +%s) * 1000))
trace "expires_at $expires; cut $((t_cut - t_exp)) ms after it"
(((t_cut - t_exp) >= 0 && (t_cut - t_exp) < 3000)) ||
  fail "cut $((t_cut - t_exp)) ms from expires_at; want 0..1000 (bound 3000)"
expect_event tunnel_down "session expired" 5 "expiry reported" "$mark"
grep -q ":11: session expired" "$DEVICE_OUT" || fail "the device was not told: $(cat "$DEVICE_OUT")"

trace "a vanished device is found by keepalives"
rt_drop_session s7
rt_session s7 "$DEV" "$PORT7" 3600 "$(pub_path alice)"
relay_reload
mark=$(event_mark)
start_device
expect_event tunnel_up "forwarding" 20 "tunnel up a third time" "$mark"
kill -STOP "$DEVICE_PID"
t0=$(now_ms)
bound=$((KA_MS * (KA_COUNT + 1) + 1000))
expect_event tunnel_down "keepalive timeout" $(((bound + 3000) / 1000)) "keepalive cut" "$mark"
t1=$(now_ms)
kill -CONT "$DEVICE_PID" 2>/dev/null || true
trace "stopped device cut $((t1 - t0)) ms after SIGSTOP (keepalive ${KA_MS} ms x $KA_COUNT; bound $bound ms)"
(((t1 - t0) <= bound + 1000)) || fail "keepalive cut after $((t1 - t0)) ms; want <= $bound (+1 s)"
pass
