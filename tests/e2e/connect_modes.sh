#!/usr/bin/env bash
# connect_modes: `porthole connect` and `porthole ssh-config` end to end
# with the real porthole-server (operator API, device API, SSH relay) and
# real porthole-agent devices provisioned by `porthole-server device add`,
# real OpenSSH on the operator's side:
#   - spawned_sshd (dev1): connect from nothing to a command ('uname -a;
#     id'), scp of 100 MiB byte-identical (time printed), sftp,
#     ssh -L to a device-local web server, 50 parallel operator connections
#     through the one device tunnel, `porthole keys list porthole:dev1`;
#   - embedded (dev2): exec (as the agent's user) and scp;
#   - target_host (dev3, the agent forwarding to a real sshd): exec, sftp;
#   - a RAC-like device (dev4): plain `ssh -N -R 127.0.0.1:PORT:...` with
#     the key it registered through the device API (mutual TLS, curl);
#   - audit: tunnel.up, operator.connect/disconnect with bytes, session.open.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_cmd curl scp sftp cmp

OP=op$UNIQ
make_user "$OP"
ssh-keygen -q -t ed25519 -N '' -C alice@e2e -f "$OP_HOME/.ssh/id_ed25519" </dev/null
ALICE_FP=$(ssh-keygen -lf "$OP_HOME/.ssh/id_ed25519.pub" | awk '{print $2}')
start_server
ph_login
ph policy allow-key "$OP_HOME/.ssh/id_ed25519.pub" --name alice
expect_rc 0 "policy allow-key alice"
start_device dev1 spawned_sshd

trace "spawned_sshd: porthole connect, from nothing to a command"
ph connect "$OP@dev1" -- -F /dev/null 'uname -a; id'
expect_rc 0 "connect $OP@dev1"
expect_out "$(uname -n)" "uname -a on the device"
expect_out "($OP)" "id on the device"
expect_err "opened session" "connect opened a session"
expect_dev_log dev1 'session: tunnel up: .*mode spawned_sshd' 5 "the agent's tunnel"

trace "ssh-config: plain ssh, scp, sftp"
ph ssh-config --key "$OP_HOME/.ssh/id_ed25519"
expect_rc 0 "ssh-config"
printf '%s\n' "$OUT" >"$WORK/ssh_config"
grep -q '^Host dev1$' "$WORK/ssh_config" || fail "no Host dev1 block: $OUT"
ossh() { run env HOME="$OP_HOME" ssh -F "$WORK/ssh_config" -o BatchMode=yes "$@"; }
ossh "$OP@dev1" echo via-config
expect_rc 0 "ssh dev1 through ssh-config"
[ "$OUT" = via-config ] || fail "ssh via ssh-config: '$OUT' $ERR"

head -c $((100 * 1024 * 1024)) /dev/urandom >"$WORK/big"
t0=$(now_ms)
run env HOME="$OP_HOME" scp -q -F "$WORK/ssh_config" -o BatchMode=yes "$WORK/big" "$OP@dev1:/home/$OP/big"
t1=$(now_ms)
expect_rc 0 "scp 100 MiB to dev1"
cmp -s "$WORK/big" "/home/$OP/big" || fail "scp: the device's copy differs"
trace "FIGURE scp 100 MiB through the relay (spawned_sshd): $((t1 - t0)) ms"
rm -f "$WORK/big" "/home/$OP/big"

printf 'put %s /home/%s/sftp-file\nls -l /home/%s/sftp-file\n' "$WORK/token" "$OP" "$OP" >"$WORK/sftp.batch"
run env HOME="$OP_HOME" sftp -F "$WORK/ssh_config" -o BatchMode=yes -b "$WORK/sftp.batch" "$OP@dev1"
expect_rc 0 "sftp to dev1"
cmp -s "$WORK/token" "/home/$OP/sftp-file" || fail "sftp: the file differs"

trace "ssh -L to a web server on the device's loopback"
mkdir -p "$WORK/www"
echo "page-$UNIQ" >"$WORK/www/index.html"
HTTP_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$HTTP_PORT" >"$WORK/http.log" 2>&1 &
at_exit _stop_pid "$!"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/" || fatal "http.server did not start"
LPORT=$(free_port)
env HOME="$OP_HOME" ssh -F "$WORK/ssh_config" -o BatchMode=yes -o ExitOnForwardFailure=yes \
  -N -L "127.0.0.1:$LPORT:127.0.0.1:$HTTP_PORT" "$OP@dev1" >"$WORK/fwd.log" 2>&1 &
FWD=$!
at_exit _stop_pid "$FWD"
wait_for 20 curl -sf -o "$WORK/page" "http://127.0.0.1:$LPORT/" || fail "ssh -L: no page: $(cat "$WORK/fwd.log")"
[ "$(cat "$WORK/page" 2>/dev/null)" = "page-$UNIQ" ] || fail "ssh -L: wrong page"
_stop_pid "$FWD"

trace "50 parallel operator connections through the one tunnel"
pids=()
for i in $(seq 1 50); do
  env HOME="$OP_HOME" ssh -F "$WORK/ssh_config" -o BatchMode=yes "$OP@dev1" "echo par-$i; sleep 1" \
    >"$WORK/par.$i" 2>&1 </dev/null &
  pids+=($!)
done
bad=0
for i in $(seq 1 50); do
  wait "${pids[$((i - 1))]}" || bad=$((bad + 1))
  grep -qx "par-$i" "$WORK/par.$i" || { bad=$((bad + 1)); trace "par-$i: $(head -3 "$WORK/par.$i")"; }
done
[ "$bad" = 0 ] || fail "$bad of the 50 parallel connections failed"

trace "porthole keys list porthole:dev1 (keys through the relay)"
printf '[known]\n[revoked]\n' >"$WORK/catalogue.toml"
write_keys_conf "$WORK/device-keys.toml" "$OP" "$WORK/tiers" "$WORK/catalogue.toml" "$WORK/tiers/customer"
new_key temp
cat "$(pub_path temp)" >"$WORK/tiers/fleet_authorized_keys"
ph keys -F /dev/null --remote-porthole "$PORTHOLE" --remote-config "$WORK/device-keys.toml" \
  list "porthole:$OP@dev1" --json
expect_rc 0 "keys list porthole:$OP@dev1"
json_check "$OUT" "by_fp('$(fingerprint temp)')" "keys list through the relay"

expect_audit "any(e['kind'] == 'tunnel.up' and e['device'] == '${DEV_ID[dev1]}' for e in events)" "tunnel.up"
expect_audit "any(e['kind'] == 'session.open' for e in events)" "session.open"
expect_audit "any(e['kind'] == 'operator.connect' and e['device'] == '${DEV_ID[dev1]}' and e['actor'].startswith('SHA256:') for e in events)" \
  "operator.connect (the actor: the relay key's fingerprint)"
expect_audit "any(e['kind'] == 'operator.disconnect' and e['details']['bytes_to_device'] > 100*1024*1024 for e in events)" \
  "operator.disconnect counts the 100 MiB"
expect_audit "sum(1 for e in events if e['kind'] == 'operator.connect') >= 55" "one operator.connect per connection"
SID=$(session_of dev1)
ph session close "$SID"
expect_rc 0 "close dev1's session"
expect_dev_log dev1 'session: ended' 10 "dev1's tunnel ends with its session"

trace "embedded: exec and scp"
start_device dev2 embedded
# The embedded server runs everything as the agent's own user (root here),
# whatever user name the operator sends.
ph connect "$OP@dev2" -- -F /dev/null 'id -un'
expect_rc 0 "connect dev2 (embedded)"
[ "$OUT" = root ] || fail "embedded exec: '$OUT' $ERR"
ph ssh-config --key "$OP_HOME/.ssh/id_ed25519"
printf '%s\n' "$OUT" >"$WORK/ssh_config"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/mid"
run env HOME="$OP_HOME" scp -q -F "$WORK/ssh_config" -o BatchMode=yes "$WORK/mid" "$OP@dev2:/home/$OP/mid"
expect_rc 0 "scp to dev2 (embedded)"
cmp -s "$WORK/mid" "/home/$OP/mid" || fail "embedded scp: the copy differs"

trace "target_host: exec and sftp to a real sshd"
cat >"$WORK/target.dropin" <<EOF
AuthorizedKeysFile $WORK/dev/dev3/authorized_keys
PermitRootLogin prohibit-password
EOF
start_sshd target "$WORK/target.dropin" "PermitRootLogin prohibit-password" "Subsystem sftp internal-sftp"
mkdir -p "$WORK/dev/dev3"
start_device dev3 target_host "host_port = \"127.0.0.1:${SSHD_PORT[target]}\"
authorized_keys_path = \"$WORK/dev/dev3/authorized_keys\""
ph connect root@dev3 -- -F /dev/null 'echo target-ok'
expect_rc 0 "connect dev3 (target_host)"
[ "$OUT" = target-ok ] || fail "target_host exec: '$OUT' $ERR"
ph ssh-config --key "$OP_HOME/.ssh/id_ed25519"
printf '%s\n' "$OUT" >"$WORK/ssh_config"
printf 'put %s /home/%s/sftp-3\n' "$WORK/token" "$OP" >"$WORK/sftp.batch"
run env HOME="$OP_HOME" sftp -F "$WORK/ssh_config" -o BatchMode=yes -b "$WORK/sftp.batch" root@dev3
expect_rc 0 "sftp to dev3 (target_host)"
cmp -s "$WORK/token" "/home/$OP/sftp-3" || fail "target_host sftp: the file differs"

trace "a RAC-like device: plain ssh -N -R with the key it registered"
srv device add dev4 --out "$WORK/dev4" --device-dir "$WORK/dev4"
[ "$RC" = 0 ] || fatal "device add dev4: $ERR"
DEV4=$(awk -F'[()]' '/^# porthole-agent configuration for device/ {print $2; exit}' "$WORK/dev4/agent.toml")
new_key dev4
dev_curl() {
  curl -sS --fail-with-body --cacert "$WORK/dev4/root.crt" --cert "$WORK/dev4/client.pem" \
    --key "$WORK/dev4/pkey.pem" "$@"
}
python3 -c 'import json,sys; print(json.dumps({"key": open(sys.argv[1]).read().strip()}))' "$(pub_path dev4)" >"$WORK/dev4.json"
dev_curl -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/dev4.json" \
  "https://127.0.0.1:$DEVICE_API_PORT/ras/public-keys" >/dev/null || fatal "dev4 could not register its key"
cat >"$WORK/dev4-sshd.dropin" <<EOF
AuthorizedKeysFile $WORK/dev4-authorized_keys
EOF
cp "$OP_HOME/.ssh/id_ed25519.pub" "$WORK/dev4-authorized_keys"
start_sshd dev4sshd "$WORK/dev4-sshd.dropin"
ph session open dev4 --json
expect_rc 0 "session open dev4"
PORT4=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["reverse_port"])')
python3 -c 'import json,sys; d=json.load(sys.stdin); print("[127.0.0.1]:%s %s" % (d["relay"]["port"], d["relay"]["host_key"]))' \
  <<<"$OUT" >"$WORK/relay_known_hosts"
ssh -F /dev/null -N -i "$(key_path dev4)" -o BatchMode=yes -o UserKnownHostsFile="$WORK/relay_known_hosts" \
  -o ExitOnForwardFailure=yes -o ServerAliveInterval=5 -p "$RELAY_PORT" \
  -R "127.0.0.1:$PORT4:127.0.0.1:${SSHD_PORT[dev4sshd]}" "$DEV4@127.0.0.1" >"$WORK/dev4-ssh.log" 2>&1 &
DEV4_SSH=$!
at_exit _stop_pid "$DEV4_SSH"
ph connect "$OP@dev4" --wait 20s -- -F /dev/null -o StrictHostKeyChecking=no 'echo rac-like-ok'
expect_rc 0 "connect to the ssh -R device $(cat "$WORK/dev4-ssh.log")"
[ "$OUT" = rac-like-ok ] || fail "ssh -R device: '$OUT' $ERR"
expect_audit "any(e['kind'] == 'tunnel.up' and e['device'] == '$DEV4' for e in events)" "dev4 tunnel.up"
pass
