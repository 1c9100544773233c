#!/usr/bin/env bash
# cli_connect: `porthole connect` from nothing to a command on a device, with
# real OpenSSH everywhere: a real sshd plays the relay (it lets in exactly
# the relay-only keys of live sessions, for -W DEVICE:22, which the fake
# operator API writes for it), a real root sshd on port 22 plays the device,
# and the operator's real ssh runs what porthole builds. All of it inside a
# network namespace of its own (port 22 is free there; DEVICE names resolve
# to 127.0.0.1 for the relay only, through its own copy of /etc). Covers: a fresh session and the wait for
# the tunnel, reuse, the exit status, the pinned device host key (and a
# wrong one refused), accept-new when none is known, a device that never
# connects, --close, an sk- key end to end (relay hop on the relay key),
# `porthole ssh-config` with plain ssh, and `porthole keys ... porthole:DEV`.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_cmd ip openssl curl
require_soft_sk

NS=phc$UNIQ
ip netns add "$NS" || fatal "ip netns add failed"
at_exit ip netns del "$NS"
ip -n "$NS" link set lo up
NSX=(ip netns exec "$NS")

# ---- the relay's view of the system ----
# A copy of /etc with a "porthole" account (the relay's login name; the real
# system need not have one) and DEVICE names resolving to 127.0.0.1, mounted
# over /etc for the relay sshd only. The whole directory, not single files:
# a bind mount on /etc/passwd would vanish the moment anything on the host
# replaced /etc/passwd (useradd in a concurrent test does).
cp -a /etc "$WORK/relay-etc"
printf '127.0.0.1 localhost dev-7 dev-8 dev-9 dev-10\n' >"$WORK/relay-etc/hosts"
grep -v '^porthole:' /etc/passwd >"$WORK/relay-etc/passwd"
echo 'porthole:x:65534:65534:porthole relay:/nonexistent:/usr/sbin/nologin' >>"$WORK/relay-etc/passwd"
grep -v '^porthole:' /etc/shadow >"$WORK/relay-etc/shadow"
echo 'porthole:*:19000:0:99999:7:::' >>"$WORK/relay-etc/shadow"
chmod 640 "$WORK/relay-etc/shadow"

# start_ns_sshd NAME PORT ETC CONFIG-LINES...: a root sshd in the namespace,
# with its own /run and ETC mounted over /etc ("-": the system's).
start_ns_sshd() {
  local name=$1 port=$2 etc=$3 dir=$WORK/$1 pid res
  shift 3
  mkdir -m 755 "$dir"
  ssh-keygen -q -t ed25519 -N '' -C "$name-host" -f "$dir/host_ed25519" </dev/null
  {
    printf '%s\n' "$@"
    cat <<EOF2
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
PidFile none
UsePAM no
StrictModes no
LogLevel VERBOSE
PasswordAuthentication no
KbdInteractiveAuthentication no
X11Forwarding no
PrintMotd no
EOF2
  } >"$dir/sshd_config"
  : >"$dir/sshd.log"
  "${NSX[@]}" unshare -m --propagation private sh -c \
    'mount -t tmpfs -o mode=755 none /run && mkdir /run/sshd &&
     { [ "$0" = - ] || mount --bind "$0" /etc; } && exec "$@"' \
    "$etc" /usr/sbin/sshd -D -E "$dir/sshd.log" -f "$dir/sshd_config" </dev/null \
    >"$dir/stderr" 2>&1 &
  pid=$!
  at_exit _stop_tree "$pid"
  res=$(FOLLOW_PID=$pid _follow "$dir/sshd.log" 0 20 "Server listening on 127.0.0.1 port $port")
  [ "${res%% *}" = 1 ] || fatal "sshd $name did not start: $(tail -5 "$dir/sshd.log") $(cat "$dir/stderr")"
  trace "sshd $name on 127.0.0.1:$port in $NS (pid $pid)"
}
_stop_tree() {
  local p procs
  mapfile -t procs < <(_descendants "$1")
  kill "$1" ${procs[@]+"${procs[@]}"} 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for p in ${procs[@]+"${procs[@]}"}; do
    timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  done
}
# log_has NAME TEXT WHAT: sshd NAME's log holds TEXT within 10 s.
log_has() {
  local res
  res=$(_follow "$WORK/$1/sshd.log" 0 10 "$2")
  [ "${res%% *}" = 1 ] || fail "$3: $1's log has no '$2': $(tail -5 "$WORK/$1/sshd.log")"
}

start_ns_sshd relay 2222 "$WORK/relay-etc" "AuthorizedKeysFile $WORK/relay/authorized_keys" \
  "AllowUsers porthole" "PermitRootLogin no" "AllowTcpForwarding local" "PermitTTY no"
start_ns_sshd device 22 - "AuthorizedKeysFile $WORK/device/authorized_keys" \
  "PermitRootLogin prohibit-password"

# ---- the operator's keys, the policy, the server ----
ssh-keygen -q -t ed25519 -N '' -C alice@e2e -f "$OP_HOME/.ssh/id_ed25519" </dev/null
ssh-keygen -q -t ed25519-sk -w "$SOFT_SK" -N '' -C alice-yubi@e2e \
  -f "$OP_HOME/.ssh/id_ed25519_sk" </dev/null || fatal "could not enroll an sk key with $SOFT_SK"
ALICE=$(cat "$OP_HOME/.ssh/id_ed25519.pub")
YUBI=$(cat "$OP_HOME/.ssh/id_ed25519_sk.pub")
printf '%s\n%s\n' "$ALICE" "$YUBI" >"$WORK/device/authorized_keys"
new_key impostor
make_pki
cat >"$WORK/state.json" <<EOF2
{"token": "tok-$UNIQ",
 "relay": {"host": "127.0.0.1", "port": 2222, "host_key": "$(cat "$WORK/relay/host_ed25519.pub")"},
 "devices": [
   {"id": "6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f", "name": "dev-7",
    "host_keys": ["$(cat "$WORK/device/host_ed25519.pub")"]},
   {"id": "7a2d1c9f-3b58-4c4f-8e1d-4a4c2d3e5f60", "name": "dev-8", "tunnel": "never"},
   {"id": "8b3e2d0a-4c69-4d50-9f2e-5b5d3e4f6071", "name": "dev-9", "host_keys": []},
   {"id": "9c4f3e1b-5d7a-4e61-a03f-6c6e4f507182", "name": "dev-10",
    "host_keys": ["$(pub_line impostor)"]}],
 "policy": {"authorized_keys": [{"pubkey": "$ALICE", "name": "alice"},
                                {"pubkey": "$YUBI", "name": "alice-yubi"}],
            "ra_server_hosts": ["127.0.0.1"], "ra_server_ssh_pubkeys": []},
 "tunnel_delay_ms": 500,
 "relay_authorized_keys": "$WORK/relay/authorized_keys"}
EOF2
start_fake "$WORK/state.json"
printf 'tok-%s\n' "$UNIQ" >"$WORK/token"
ph login "$API_URL" --ca-sha256 "$CA_PIN" --token-file "$WORK/token"
expect_rc 0 "login"
KH=$OP_HOME/.config/porthole/known_hosts
RELAY_DIR=$OP_HOME/.cache/porthole/relay
session_of() {  # session_of DEVICE: the id of its live session
  ph session list --device "$1" --json
  printf '%s' "$OUT" | python3 -c 'import json,sys; s=json.load(sys.stdin)["sessions"]; print(s[0]["id"] if s else "")'
}
relay_key_posts() {
  fake_requests | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin)["requests"] if r["path"].endswith("/relay-keys")))'
}

trace "connect: a new session, the wait for the tunnel, a command on the device"
ph connect root@dev-7 -- -F /dev/null echo "connected-$UNIQ"
expect_rc 0 "connect root@dev-7"
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
ALICE_FP=$(ssh-keygen -lf "$OP_HOME/.ssh/id_ed25519.pub" | awk '{print $2}')
log_has relay "Accepted publickey for porthole from 127.0.0.1" "relay login"
log_has relay "ED25519 $RELAY_FP" "the relay hop uses the relay-only key"
log_has device "Accepted publickey for root from 127.0.0.1" "device login"
log_has device "$ALICE_FP" "the device sees the operator's own key"
grep -q "^porthole-dev-7 $(awk '{print $1" "$2}' "$WORK/device/host_ed25519.pub")\$" "$KH" ||
  fail "known_hosts lacks the device's pinned host key: $(cat "$KH")"

trace "connect again: the session and its relay key are reused; ssh's exit status comes back"
before=$(relay_key_posts)
ph connect root@dev-7 -- -F /dev/null 'exit 7'
expect_rc 7 "the remote exit status"
expect_err "using session $SID" "reuse"
[ "$(relay_key_posts)" = "$before" ] || fail "a reused session got another relay key"

trace "a device host key other than the server's is refused"
ph connect root@dev-10 -- -F /dev/null echo "should-not-run"
expect_rc 255 "impostor host key"
[[ "$OUT" != *should-not-run* ]] || fail "a command ran on a device with the wrong host key"
expect_err "Host key verification failed" "ssh refuses the host key"

trace "no host key known: accept-new with a warning"
ph connect root@dev-9 -- -F /dev/null echo nine
expect_rc 0 "connect dev-9"
[ "$OUT" = nine ] || fail "dev-9 output '$OUT'"
expect_err "knows no host key for dev-9" "warning line"
grep -q '^porthole-dev-9 ' "$KH" || fail "ssh did not learn dev-9's key into $KH"

trace "a device that never connects"
ph connect dev-8 --wait 3s
expect_rc 1 "dev-8 never connects"
expect_err "dev-8 did not connect within 3s" "timeout message"

trace "--close: the session ends with ssh, and so does the relay key"
ph connect --close root@dev-7 -- -F /dev/null echo bye
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
run "${NSX[@]}" env HOME="$OP_HOME" ssh -F "$WORK/ssh_config" -o BatchMode=yes -l root dev-7 echo via-config
expect_rc 0 "ssh -F ssh_config dev-7"
[ "$OUT" = via-config ] || fail "ssh via ssh-config output '$OUT'; stderr: $ERR"
ph session close "$(session_of dev-7)"
expect_rc 0 "close the ssh-config session"

trace "an sk- key end to end; the relay hop still uses the ed25519 relay key"
ph connect --key "$OP_HOME/.ssh/id_ed25519_sk" root@dev-7 -- -F /dev/null \
  -o SecurityKeyProvider="$SOFT_SK" echo sk-ok
expect_rc 0 "connect with an sk key"
[ "$OUT" = sk-ok ] || fail "sk connect output '$OUT'; stderr: $ERR"
log_has device "ED25519-SK $(ssh-keygen -lf "$OP_HOME/.ssh/id_ed25519_sk.pub" | awk '{print $2}')" "the device checked the sk key"
SK_SID=$(session_of dev-7)
grep -q '^sk-' <<<"$(ph session show "$SK_SID" --json; printf '%s' "$OUT" |
  python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["relay_keys"]))')" &&
  fail "an sk key was sent as a relay key"
ph session close "$SK_SID"

trace "porthole keys ... porthole:root@dev-7 through the relay"
printf '[known]\n[revoked]\n' >"$WORK/catalogue.toml"
write_keys_conf "$WORK/device-keys.toml" root "$WORK/tiers" "$WORK/catalogue.toml" "$WORK/tiers/customer"
new_key temp
ph keys -F /dev/null --remote-porthole "$PORTHOLE" --remote-config "$WORK/device-keys.toml" \
  add porthole:root@dev-7 "$(pub_path temp)" 1h
expect_rc 0 "keys add porthole:root@dev-7"
expect_key_count "$WORK/tiers/tmp_authorized_keys" temp 1 "keys add through the relay"
ph keys -F /dev/null --remote-porthole "$PORTHOLE" --remote-config "$WORK/device-keys.toml" \
  list porthole:root@dev-7 --json
expect_rc 0 "keys list porthole:root@dev-7"
json_check "$OUT" "by_fp('$(fingerprint temp)')" "keys list through the relay"
ph keys -J hub list porthole:dev-7
expect_rc 2 "-J with porthole:"
pass
