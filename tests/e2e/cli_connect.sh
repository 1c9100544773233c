#!/usr/bin/env bash
# cli_connect: `porthole connect` from nothing to a command on a device, with
# the real porthole-server (operator API, device API, SSH relay on free
# loopback ports) and real OpenSSH on both ends:
#   dev-7   a porthole-agent in spawned_sshd mode (its host key reaches the
#           server through POST host-keys: pinned);
#   dev-9   a porthole-agent in target_host mode in front of a real root
#           sshd (no host key known: accept-new with a warning; its sshd log
#           shows which operator key it checked);
#   dev-10  a RAC-like device (plain ssh -N -R) that registered a host key
#           other than the one its sshd presents (refused);
#   dev-8   provisioned, never connects.
# Covers: a fresh session and the wait for the tunnel, reuse (no second
# relay key), the exit status, the pinned device host key (and a wrong one
# refused), accept-new, a device that never connects, --close, an sk- key
# end to end (relay hop on the ed25519 relay key), `porthole ssh-config`
# with plain ssh, and `porthole keys ... porthole:DEV`.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_cmd curl
require_soft_sk

OP=op$UNIQ
make_user "$OP"
ssh-keygen -q -t ed25519 -N '' -C alice@e2e -f "$OP_HOME/.ssh/id_ed25519" </dev/null
ssh-keygen -q -t ed25519-sk -w "$SOFT_SK" -N '' -C alice-yubi@e2e \
  -f "$OP_HOME/.ssh/id_ed25519_sk" </dev/null || fatal "could not enroll an sk key with $SOFT_SK"
ALICE_FP=$(ssh-keygen -lf "$OP_HOME/.ssh/id_ed25519.pub" | awk '{print $2}')
new_key impostor
start_server
ph_login
KH=$OP_HOME/.config/porthole/known_hosts
RELAY_DIR=$OP_HOME/.cache/porthole/relay
ph policy allow-key "$OP_HOME/.ssh/id_ed25519.pub" --name alice
expect_rc 0 "policy allow-key alice"
ph policy allow-key "$OP_HOME/.ssh/id_ed25519_sk.pub" --name alice-yubi
expect_rc 0 "policy allow-key alice-yubi"

start_device dev-7 spawned_sshd
# root and $OP log in to dev-9's sshd with the keys its agent writes.
cat >"$WORK/target.dropin" <<EOF2
AuthorizedKeysFile $WORK/dev/dev-9/authorized_keys
PermitRootLogin prohibit-password
EOF2
start_sshd target "$WORK/target.dropin" "LogLevel VERBOSE" "PermitRootLogin prohibit-password"
TARGET_LOG=${SSHD_LOG[target]}
mkdir -p "$WORK/dev/dev-9"
start_device dev-9 target_host "host_port = \"127.0.0.1:${SSHD_PORT[target]}\"
authorized_keys_path = \"$WORK/dev/dev-9/authorized_keys\""
srv device add dev-8 --out "$WORK/dev-8"
[ "$RC" = 0 ] || fatal "device add dev-8: $ERR"

# dev-10: registers its SSH key and the impostor's host key through the
# device API, then tunnels to an sshd whose host key is another one.
srv device add dev-10 --out "$WORK/dev-10" --device-dir "$WORK/dev-10"
[ "$RC" = 0 ] || fatal "device add dev-10: $ERR"
DEV10=$(awk -F'[()]' '/^# porthole-agent configuration for device/ {print $2; exit}' "$WORK/dev-10/agent.toml")
new_key dev10
dev10_post() {
  curl -sS --fail-with-body --cacert "$WORK/dev-10/root.crt" --cert "$WORK/dev-10/client.pem" \
    --key "$WORK/dev-10/pkey.pem" -X POST -H 'Content-Type: application/json' --data-binary "$2" \
    "https://127.0.0.1:$DEVICE_API_PORT/ras/$1" >/dev/null || fatal "dev-10: POST $1 failed"
}
dev10_post public-keys "{\"key\": \"$(awk '{print $1" "$2}' "$(pub_path dev10)")\"}"
dev10_post host-keys "{\"keys\": [\"$(awk '{print $1" "$2}' "$(pub_path impostor)")\"]}"
cp "$OP_HOME/.ssh/id_ed25519.pub" "$WORK/dev10-authorized_keys"
printf 'AuthorizedKeysFile %s\n' "$WORK/dev10-authorized_keys" >"$WORK/dev10.dropin"
start_sshd dev10sshd "$WORK/dev10.dropin"
relay_known_hosts

# log_has FILE TEXT WHAT: FILE (an sshd log) gets a line holding TEXT
# within 10 s.
log_has() {
  local res
  res=$(_follow "$1" 0 10 "$2")
  [ "${res%% *}" = 1 ] || fail "$3: no '$2' in $1: $(tail -5 "$1")"
}
relay_keys_of() {  # relay_keys_of SESSION: how many relay keys it holds
  ph session show "$1" --json
  printf '%s' "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["relay_keys"]))'
}

trace "connect: a new session, the wait for the tunnel, a command on the device"
ph connect "$OP@dev-7" -- -F /dev/null echo "connected-$UNIQ"
expect_rc 0 "connect $OP@dev-7"
[ "$OUT" = "connected-$UNIQ" ] || fail "connect output '$OUT'; stderr: $ERR"
expect_err "opened session" "connect says it opened a session"
[ "$(grep -c 'waiting for dev-7 to connect' <<<"$ERR")" = 1 ] ||
  fail "want exactly one progress line; stderr: $ERR"
SID=$(session_of dev-7)
[ -n "$SID" ] || fatal "no live session on dev-7 after connect"
[ "$(stat -c %a "$RELAY_DIR/$SID/id_ed25519")" = 600 ] || fail "relay key not 0600"
[ "$(stat -c %a "$RELAY_DIR/$SID")" = 700 ] || fail "relay key dir not 0700"
[ "$(stat -c %a "$RELAY_DIR")" = 700 ] || fail "relay dir not 0700"
RELAY_FP=$(ssh-keygen -lf "$RELAY_DIR/$SID/id_ed25519" | awk '{print $2}')
expect_audit "any(e['kind'] == 'operator.connect' and e['session'] == '$SID' and e['actor'] == '$RELAY_FP' for e in events)" \
  "the relay hop uses the relay-only key"
ph device show dev-7 --json
HOSTKEY7=$(printf '%s' "$OUT" | python3 -c 'import json,sys; k=json.load(sys.stdin)["host_keys"]; print(" ".join(k[0].split()[:2]) if k else "")')
[ -n "$HOSTKEY7" ] || fail "the server knows no host key of dev-7"
grep -q "^porthole-dev-7 $HOSTKEY7\$" "$KH" ||
  fail "known_hosts lacks the device's pinned host key: $(cat "$KH")"

trace "connect again: the session and its relay key are reused; ssh's exit status comes back"
before=$(relay_keys_of "$SID")
ph connect "$OP@dev-7" -- -F /dev/null 'exit 7'
expect_rc 7 "the remote exit status"
expect_err "using session $SID" "reuse"
[ "$(relay_keys_of "$SID")" = "$before" ] || fail "a reused session got another relay key"

trace "a device host key other than the one it registered is refused"
ph session open dev-10 --json
expect_rc 0 "session open dev-10"
PORT10=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["reverse_port"])')
ssh -F /dev/null -N -i "$(key_path dev10)" -o BatchMode=yes -o IdentitiesOnly=yes \
  -o UserKnownHostsFile="$WORK/relay_known_hosts" -o ExitOnForwardFailure=yes -p "$RELAY_PORT" \
  -R "127.0.0.1:$PORT10:127.0.0.1:${SSHD_PORT[dev10sshd]}" "$DEV10@127.0.0.1" >"$WORK/dev10-ssh.log" 2>&1 </dev/null &
at_exit _stop_pid "$!"
ph connect "$OP@dev-10" --wait 20s -- -F /dev/null echo "should-not-run"
expect_rc 255 "impostor host key"
[[ "$OUT" != *should-not-run* ]] || fail "a command ran on a device with the wrong host key"
expect_err "Host key verification failed" "ssh refuses the host key"

trace "no host key known (target_host): accept-new with a warning"
ph connect root@dev-9 -- -F /dev/null echo nine
expect_rc 0 "connect dev-9"
[ "$OUT" = nine ] || fail "dev-9 output '$OUT'; $ERR"
expect_err "knows no host key for dev-9" "warning line"
grep -q '^porthole-dev-9 ' "$KH" || fail "ssh did not learn dev-9's key into $KH"
log_has "$TARGET_LOG" "Accepted publickey for root from 127.0.0.1" "device login"
log_has "$TARGET_LOG" "$ALICE_FP" "the device sees the operator's own key"

trace "a device that never connects"
ph connect dev-8 --wait 3s
expect_rc 1 "dev-8 never connects"
expect_err "dev-8 did not connect within 3s" "timeout message"

trace "--close: the session ends with ssh, and so does the relay key"
ph connect --close "$OP@dev-7" -- -F /dev/null echo bye
expect_rc 0 "connect --close"
[ "$OUT" = bye ] || fail "--close output '$OUT'"
expect_err "closed session $SID" "--close says so"
[ -z "$(session_of dev-7)" ] || fail "dev-7 still has a live session after --close"
[ ! -e "$RELAY_DIR/$SID" ] || fail "--close left the relay key $RELAY_DIR/$SID"

trace "ssh-config: plain ssh through porthole ssh-proxy"
ph ssh-config --key "$OP_HOME/.ssh/id_ed25519"
expect_rc 0 "ssh-config"
printf '%s\n' "$OUT" >"$WORK/ssh_config"
grep -q '^Host dev-7$' "$WORK/ssh_config" || fail "no Host dev-7 block: $OUT"
run env HOME="$OP_HOME" ssh -F "$WORK/ssh_config" -o BatchMode=yes -l "$OP" dev-7 echo via-config
expect_rc 0 "ssh -F ssh_config dev-7"
[ "$OUT" = via-config ] || fail "ssh via ssh-config output '$OUT'; stderr: $ERR"
ph session close "$(session_of dev-7)"
expect_rc 0 "close the ssh-config session"

trace "an sk- key end to end; the relay hop still uses the ed25519 relay key"
ph session close "$(session_of dev-9)"
ph connect --key "$OP_HOME/.ssh/id_ed25519_sk" root@dev-9 -- -F /dev/null \
  -o SecurityKeyProvider="$SOFT_SK" echo sk-ok
expect_rc 0 "connect with an sk key"
[ "$OUT" = sk-ok ] || fail "sk connect output '$OUT'; stderr: $ERR"
log_has "$TARGET_LOG" "ED25519-SK $(ssh-keygen -lf "$OP_HOME/.ssh/id_ed25519_sk.pub" | awk '{print $2}')" "the device checked the sk key"
SK_SID=$(session_of dev-9)
ph session show "$SK_SID" --json
json_check "$OUT" "assert d['relay_keys'] and not any(k.startswith('sk-') for k in d['relay_keys']), d" \
  "the relay key is not the sk key"
ph session close "$SK_SID"

trace "porthole keys ... porthole:root@dev-9 through the relay"
printf '[known]\n[revoked]\n' >"$WORK/catalogue.toml"
write_keys_conf "$WORK/device-keys.toml" root "$WORK/tiers" "$WORK/catalogue.toml" "$WORK/tiers/customer"
new_key temp
ph keys -F /dev/null --remote-porthole "$PORTHOLE" --remote-config "$WORK/device-keys.toml" \
  add porthole:root@dev-9 "$(pub_path temp)" 1h
expect_rc 0 "keys add porthole:root@dev-9"
expect_key_count "$WORK/tiers/tmp_authorized_keys" temp 1 "keys add through the relay"
ph keys -F /dev/null --remote-porthole "$PORTHOLE" --remote-config "$WORK/device-keys.toml" \
  list porthole:root@dev-9 --json
expect_rc 0 "keys list porthole:root@dev-9"
json_check "$OUT" "by_fp('$(fingerprint temp)')" "keys list through the relay"
ph keys -J hub list porthole:dev-9
expect_rc 2 "-J with porthole:"
pass
