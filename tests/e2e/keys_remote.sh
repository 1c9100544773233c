#!/usr/bin/env bash
# keys_remote: `porthole keys` on an ssh destination. A second "host" is a
# root sshd on loopback with its own tier files and keys.toml, reached by a
# Host alias in an ssh_config given with -F; porthole runs itself there over
# ssh. The operator's files (ssh_config, private and public keys) are hidden
# from that host, so a KEY path must be read on the operator's side.
source "$(dirname "$0")/lib.sh"
require_porthole

L=phr$UNIQ
make_user "$L"
DEV=$WORK/dev                       # the remote host's files
RT=$DEV/ssh
RCAT=$DEV/catalogue.toml
RCONF=$DEV/keys.toml
mkdir -m 755 "$DEV"
write_keys_conf "$RCONF" "$L" "$RT" "$RCAT"
RTMP=$RT/tmp_authorized_keys
new_key operator
new_key alice
new_key bob
new_key absent
printf '[known]\n"bob@e2e" = %s\n[revoked]\n' "'$(pub_line bob)'" >"$RCAT"

run "$PORTHOLE" keys --config "$RCONF" install-sshd-config self --output "$DEV/porthole.conf"
expect_rc 0 "install-sshd-config on the remote side"
# The operator logs in to devhost as root; the login user's tiers come from
# the drop-in's Match block.
pub_line operator >"$DEV/operator_keys"
SSHD_NS_SETUP="mount -t tmpfs -o mode=700 hidden $WORK/keys" \
  start_sshd devhost "$DEV/porthole.conf" \
  "PermitRootLogin prohibit-password" "AuthorizedKeysFile $DEV/operator_keys"

CFG=$WORK/ssh_config
cat >"$CFG" <<EOF
Host devhost devjump
  HostName 127.0.0.1
  Port $PORT
Host devhost-noport
  HostName 127.0.0.1
Host deadhost
  HostName 127.0.0.1
  Port 1
Host *
  User root
  IdentityFile $WORK/keys/operator
  IdentitiesOnly yes
  UserKnownHostsFile $WORK/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
EOF

# rkeys ARGS...: porthole keys with the ssh config, porthole and its config
# on the remote side.
rkeys() {
  local verb=$1
  shift
  run "$PORTHOLE" keys -F "$CFG" "$verb" "$@" \
    --remote-porthole "$PORTHOLE" --remote-config "$RCONF"
}

trace "add to devhost by a local .pub path"
rkeys add devhost "$(pub_path alice)" 1h
expect_rc 0 "add devhost alice.pub 1h"
expect_key_count "$RTMP" alice 1 "remote add"
grep -F -- "$(key_blob alice)" "$RTMP" | grep -q '^expiry-time="[0-9]\{12\}Z" ssh-ed25519 ' ||
  fail "remote line lacks expiry-time: $(cat "$RTMP" 2>/dev/null)"
m=$(log_mark)
expect_login "$L" alice "key added remotely"
expect_log "$m" "Accepted key ED25519 $(fingerprint alice) found at $RTMP:1" "remote key accepted from the remote temporary tier"

trace "a line with quoted spaces and commas survives the trip"
opts='command="echo hello, remote world",no-pty'
rkeys add devhost "$opts $(pub_line bob)" 1h
expect_rc 0 "add devhost with command= option"
line=$(grep -F -- "$(key_blob bob)" "$RTMP" || true)
[[ "$line" =~ ^"$opts",expiry-time=\"[0-9]{12}Z\"\ ssh-ed25519\  ]] ||
  fail "options mangled on the way, or expiry-time not appended to them: $line"
rc=0
out=$(ssh_as "$L" "$(key_path bob)" id 2>"$WORK/.ssh.err") || rc=$?
[ "$rc" = 0 ] && [ "$out" = "hello, remote world" ] ||
  fail "forced command: exit $rc, output '$out'; $(cat "$WORK/.ssh.err")"

trace "list devhost --json"
rkeys list devhost --json
expect_rc 0 "list devhost --json"
json_check "$OUT" "
for fp in ('$(fingerprint alice)', '$(fingerprint bob)'):
    e = by_fp(fp)
    assert len(e) == 1, 'listed %d times' % len(e)
    assert e[0]['tier'] == 'temporary' and e[0]['file'] == '$RTMP', e[0]
    assert e[0]['state'] == 'active', e[0]
assert by_fp('$(fingerprint bob)')[0]['id'] == 'bob@e2e', 'catalogue ID on the remote side'
" "remote list"

trace "more than a pipe buffer each way: set 800 keys, list them back"
# 800 valid ed25519 public keys (any 32 bytes are a well-formed key blob):
# about 80 KB of arguments over ssh's stdin, and more JSON back.
mapfile -t bulk < <(python3 -c '
import base64, os, struct
def s(b): return struct.pack(">I", len(b)) + b
for i in range(800):
    blob = s(b"ssh-ed25519") + s(os.urandom(32))
    print("ssh-ed25519 %s bulk%d@e2e" % (base64.b64encode(blob).decode(), i))
')
rkeys set devhost --tier fleet "${bulk[@]}"
expect_rc 0 "set devhost --tier fleet with 800 keys"
n=$(grep -c 'bulk[0-9]*@e2e$' "$RT/fleet_authorized_keys" 2>/dev/null || true)
[ "$n" = 800 ] || fail "remote fleet tier has $n of the 800 keys"
rkeys list devhost --json
expect_rc 0 "list devhost --json with 800 keys"
json_check "$OUT" "
f = [e for e in d if e['tier'] == 'fleet']
assert len(f) == 800, 'listed %d fleet keys' % len(f)
" "remote list of 800 keys"

trace "a failing remote operation passes its exit code and message through"
run "$PORTHOLE" keys --config "$RCONF" rm self "$(pub_line absent)"
expect_rc 1 "rm of an absent key, run locally for reference"
local_err=$ERR
before=$(tree_state "$RT")
rkeys rm devhost "$(pub_line absent)"
expect_rc 1 "rm devhost of an absent key"
[ -n "$ERR" ] || fail "rm devhost of an absent key: no message"
[ -n "$local_err" ] && [[ "$ERR" == *"$local_err"* ]] ||
  fail "remote message '$ERR' does not carry the remote porthole's own message '$local_err'"
[ "$(tree_state "$RT")" = "$before" ] || fail "failed remote rm changed files"

rkeys add devhost "$(pub_path absent)" abc
expect_rc 2 "add devhost with VALID_FOR abc"
expect_one_line_stderr "add devhost with VALID_FOR abc"
[ "$(tree_state "$RT")" = "$before" ] || fail "remote bad input changed files"

trace "ssh that cannot connect: exit 1 naming the host"
# ssh exits at once, maybe before porthole has written the arguments to its
# stdin: repeat so that this race is exercised, not only the lucky order.
for i in 1 2 3 4 5 6 7 8; do
  rkeys list deadhost --json
  expect_rc 1 "list deadhost (nothing listens), try $i"
  [[ "$ERR" == *deadhost* ]] || fail "connection failure does not name the host deadhost (try $i): $ERR"
done
# Deterministic form of the same race: arguments larger than a pipe buffer,
# so porthole is still writing them when ssh gives up.
rkeys set deadhost --tier fleet "${bulk[@]}"
expect_rc 1 "set deadhost with 800 keys (more than a pipe buffer of arguments)"
[[ "$ERR" == *deadhost* ]] || fail "connection failure (large arguments) does not name deadhost: $ERR"

trace "-o and -J reach ssh"
rkeys list devhost-noport --json
[ "$RC" != 0 ] || fail "devhost-noport without -o Port should not reach devhost's sshd"
run "$PORTHOLE" keys -F "$CFG" -o "Port=$PORT" list devhost-noport --json \
  --remote-porthole "$PORTHOLE" --remote-config "$RCONF"
expect_rc 0 "list devhost-noport -o Port=$PORT"
json_check "$OUT" "by_fp('$(fingerprint alice)')" "list through -o Port"
m=$(log_mark)
run "$PORTHOLE" keys -F "$CFG" -J devjump list devhost --json \
  --remote-porthole "$PORTHOLE" --remote-config "$RCONF"
expect_rc 0 "list devhost -J devjump"
json_check "$OUT" "by_fp('$(fingerprint alice)')" "list through -J"
n=$(tail -c +"$((m + 1))" "$SSHD_LOG_CUR" | grep -c 'Accepted publickey for root' || true)
[ "$n" -ge 2 ] || fail "-J devjump: sshd saw $n root logins, want 2 (jump + target)"

trace "rm and clear on devhost"
rkeys rm devhost "$(pub_path alice)"
expect_rc 0 "rm devhost alice"
expect_key_count "$RTMP" alice 0 "remote rm"
expect_refused "$L" alice "after remote rm"
rkeys clear devhost
expect_rc 0 "clear devhost"
expect_key_count "$RTMP" bob 0 "remote clear"

pass
