#!/usr/bin/env bash
# relay_refusals: what porthole's SSH relay refuses, each refusal reported
# as a "refused" event naming who and why, with stock OpenSSH clients:
#   - an operator key that is in no session;
#   - an operator key whose session is another device's;
#   - a device forwarding a port that is not its session's (and
#     "localhost", what OpenSSH sends unless 127.0.0.1 is written);
#   - a device key that is not the registered one;
#   - an expired session (for the operator and for the device);
#   - an sk- (FIDO) operator key, even with a touch (libssh 0.10 cannot
#     check user presence), with one warning line in the relay's log;
#   - a session channel (plain `ssh relay`) and a device opening channels.
# The device tunnel that is allowed stays up through all of it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"
require_cmd ssh ssh-keygen
require_soft_sk

DEV7=3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f
DEV8=9b2e7c1a-4d3f-4e5a-8b6c-7d8e9f0a1b2c
DEV9=5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b
OP=op$UNIQ
make_user "$OP"
new_key device7
new_key device8
new_key device9
new_key alice
new_key bob
new_key mallory
ssh-keygen -q -t ed25519-sk -w "$SOFT_SK" -N '' -C "yubi@e2e" -f "$WORK/keys/yubi" </dev/null ||
  fatal "ssh-keygen could not enroll an ed25519-sk key with $SOFT_SK"
PORT7=$(free_port)
PORT8=$(free_port)
PORT9=$(free_port)

install -m 644 /dev/null "$WORK/target_authorized_keys"
cat "$(pub_path alice)" "$(pub_path yubi)" >"$WORK/target_authorized_keys"
echo "# relay_refusals" >"$WORK/target.conf"
start_sshd target "$WORK/target.conf" "AuthorizedKeysFile $WORK/target_authorized_keys" \
  "AllowUsers $OP"
TARGET_PORT=${SSHD_PORT[target]}

rt_device "$DEV7" dev-7 "$(pub_path device7)"
rt_device "$DEV8" dev-8 "$(pub_path device8)"
rt_device "$DEV9" dev-9 "$(pub_path device9)"
rt_session s7 "$DEV7" "$PORT7" 3600 "$(pub_path alice)" "$(pub_path yubi)"
rt_session s8 "$DEV8" "$PORT8" 3600 "$(pub_path bob)"
rt_session s9 "$DEV9" "$PORT9" -60 "$(pub_path alice)"
start_test_relay
for k in alice bob mallory device7 device8 device9 yubi; do operator_config "$k"; done

# device KEY UUID FORWARD: an ssh -N -R device in the background; DEV_PID.
device() {
  ssh -F "$WORK/ssh_config.$1" -o ExitOnForwardFailure=yes -o LogLevel=INFO -N \
    -R "$3" "$2@relay" </dev/null >"$WORK/device.$1.out" 2>&1 &
  DEV_PID=$!
  at_exit bg_stop "$DEV_PID"
}

device device7 "$DEV7" "127.0.0.1:$PORT7:127.0.0.1:$TARGET_PORT"
GOOD=$DEV_PID
expect_event tunnel_up "forwarding 127.0.0.1:$PORT7" 20 "dev-7's tunnel"
run ssh -F "$WORK/ssh_config.alice" -J relay "$OP@dev-7" true
expect_rc 0 "alice reaches dev-7"

# expect_refused_event TEXT WHAT [FIELD=VALUE...]: a refused event with TEXT
# since MARK, whose fields have these values.
expect_refused_event() {
  local text=$1 what=$2 fv
  shift 2
  expect_event refused "$text" 15 "$what" "$MARK"
  for fv in "$@"; do
    [ "$(event_field "$EVENT" "${fv%%=*}")" = "${fv#*=}" ] ||
      fail "$what: ${fv%%=*} is '$(event_field "$EVENT" "${fv%%=*}")', want '${fv#*=}'"
  done
}

trace "an operator key in no session"
MARK=$(event_mark)
run ssh -F "$WORK/ssh_config.mallory" -J relay "$OP@dev-7" true
expect_rc 255 "mallory"
expect_refused_event "login refused: key $(fingerprint mallory) is not in any live session" \
  "mallory refused" user=porthole

trace "a key whose session is another device's"
MARK=$(event_mark)
run ssh -F "$WORK/ssh_config.bob" -J relay "$OP@dev-7" true
expect_rc 255 "bob to dev-7"
expect_refused_event "direct-tcpip to dev-7:22: no live session of device $DEV7 lists this key" \
  "bob to dev-7 refused" "fingerprint=$(fingerprint bob)" device="$DEV7"
MARK=$(event_mark)
run ssh -F "$WORK/ssh_config.alice" -J relay -p "$PORT8" "$OP@127.0.0.1" true
expect_rc 255 "alice to s8's port"
expect_refused_event "no live session with this key has reverse port $PORT8" "alice to port $PORT8 refused"

trace "a device forwarding another port than its session's, or 'localhost'"
MARK=$(event_mark)
device device8 "$DEV8" "127.0.0.1:$PORT7:127.0.0.1:$TARGET_PORT"
timeout 20 tail --pid="$DEV_PID" -f /dev/null || fail "ssh -R with a wrong port kept running"
expect_refused_event "tcpip-forward 127.0.0.1:$PORT7: only 127.0.0.1:$PORT8 (the session's reverse port) may be forwarded" \
  "wrong port refused" device="$DEV8" "fingerprint=$(fingerprint device8)"
grep -q "remote port forwarding failed" "$WORK/device.device8.out" ||
  fail "the device was not told: $(cat "$WORK/device.device8.out")"
MARK=$(event_mark)
device device8 "$DEV8" "$PORT8:127.0.0.1:$TARGET_PORT"
timeout 20 tail --pid="$DEV_PID" -f /dev/null || fail "ssh -R localhost kept running"
expect_refused_event "tcpip-forward localhost:$PORT8: only 127.0.0.1:$PORT8" "localhost refused"

trace "a device key that is not the registered one"
MARK=$(event_mark)
device mallory "$DEV8" "127.0.0.1:$PORT8:127.0.0.1:$TARGET_PORT"
timeout 20 tail --pid="$DEV_PID" -f /dev/null || fail "an unregistered device key kept running"
grep -q "Permission denied (publickey)" "$WORK/device.mallory.out" ||
  fail "unregistered key: $(cat "$WORK/device.mallory.out")"
expect_refused_event "login refused: key $(fingerprint mallory) is not the registered key of device $DEV8" \
  "unregistered device key refused" user="$DEV8"

trace "an expired session"
MARK=$(event_mark)
device device9 "$DEV9" "127.0.0.1:$PORT9:127.0.0.1:$TARGET_PORT"
timeout 20 tail --pid="$DEV_PID" -f /dev/null || fail "a device of an expired session kept running"
expect_refused_event "tcpip-forward 127.0.0.1:$PORT9: device $DEV9 has no live session" \
  "expired session: device refused"
MARK=$(event_mark)
run ssh -F "$WORK/ssh_config.alice" -J relay "$OP@dev-9" true
expect_rc 255 "alice to dev-9"
expect_refused_event "direct-tcpip to dev-9:22: no live session of device $DEV9 lists this key" \
  "expired session: operator refused"

trace "an sk- key, touched or not"
for touch in 1 0; do
  MARK=$(event_mark)
  mark_log=$(file_size "$TRELAY_LOG")
  if [ "$touch" = 1 ]; then
    run ssh -F "$WORK/ssh_config.yubi" -o SecurityKeyProvider="$SOFT_SK" -J relay "$OP@dev-7" true
  else
    run env SOFT_SK_NO_TOUCH=1 ssh -F "$WORK/ssh_config.yubi" -o SecurityKeyProvider="$SOFT_SK" \
      -J relay "$OP@dev-7" true
  fi
  expect_rc 255 "sk key (touch=$touch)"
  expect_refused_event "sk- key ED25519-SK $(fingerprint yubi) refused: libssh 0.10 cannot check user presence" \
    "sk key refused (touch=$touch)" "fingerprint=$(fingerprint yubi)"
  n=$(tail -c +"$((mark_log + 1))" "$TRELAY_LOG" | grep -c "warning.*sk- key ED25519-SK" || true)
  [ "$n" = 1 ] || fail "sk key: $n warning lines in the relay log, want 1"
done
# The same sk key works against the device's own sshd (which checks the
# touch): the refusal is the relay's, not the key's.
run ssh -F "$WORK/ssh_config.yubi" -o SecurityKeyProvider="$SOFT_SK" -p "$TARGET_PORT" "$OP@127.0.0.1" true
expect_rc 0 "the sk key logs in to the device's sshd directly"

trace "a session channel and a device opening a channel"
MARK=$(event_mark)
run ssh -F "$WORK/ssh_config.alice" relay echo hi
expect_rc 255 "session channel"
expect_refused_event "session channel" "session channel refused" "fingerprint=$(fingerprint alice)"
MARK=$(event_mark)
run ssh -F "$WORK/ssh_config.device7" -W dev-7:22 "$DEV7@relay"
expect_refused_event "a device connection may not open channels" "device channel refused" device="$DEV7"

trace "the allowed tunnel survived all of it"
kill -0 "$GOOD" 2>/dev/null || fail "dev-7's ssh -R exited: $(cat "$WORK/device.device7.out")"
run ssh -F "$WORK/ssh_config.alice" -J relay "$OP@dev-7" 'echo still'
[ "$OUT" = still ] || fail "dev-7 after the refusals: '$OUT' $ERR"
n=$(grep -c '"event":"tunnel_down"' "$TRELAY_EVENTS" || true)
[ "$n" = 0 ] || fail "$n tunnel_down events: $(grep '"event":"tunnel_down"' "$TRELAY_EVENTS")"
pass
