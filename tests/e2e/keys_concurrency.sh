#!/usr/bin/env bash
# keys_concurrency: 20 `porthole keys add` processes racing on the same
# temporary tier all land: every key exactly once, no line lost or torn, and
# sshd still reads the result.
source "$(dirname "$0")/lib.sh"
require_porthole

N=20
L=phc$UNIQ
make_user "$L"
T=$WORK/ssh
CAT=$WORK/catalogue.toml
CONF=$WORK/keys.toml
DROPIN=$WORK/porthole.conf
write_keys_conf "$CONF" "$L" "$T" "$CAT"
TMP=$T/tmp_authorized_keys
printf '[known]\n[revoked]\n' >"$CAT"

for i in $(seq 1 $N); do new_key "k$i"; done

run "$PORTHOLE" keys --config "$CONF" install-sshd-config self --output "$DROPIN"
expect_rc 0 "install-sshd-config"

trace "$N parallel adds"
pids=()
for i in $(seq 1 $N); do
  timeout 60 "$PORTHOLE" keys --config "$CONF" add self "$(pub_path "k$i")" 1h \
    </dev/null >"$WORK/add$i.out" 2>"$WORK/add$i.err" &
  pids+=($!)
done
for i in $(seq 1 $N); do
  rc=0
  wait "${pids[i - 1]}" || rc=$?
  [ "$rc" = 0 ] || fail "parallel add $i exited $rc: $(cat "$WORK/add$i.err")"
done

[ -f "$TMP" ] || fatal "no temporary tier $TMP after $N adds"
lines=$(grep -c '' "$TMP" || true)
[ "$lines" = "$N" ] || fail "temporary tier has $lines lines, want $N: $(cat "$TMP")"
for i in $(seq 1 $N); do
  expect_key_count "$TMP" "k$i" 1 "parallel add $i"
done
# Every line is whole: options, type, key, comment.
bad=$(grep -vcE '^expiry-time="[0-9]{12}Z" ssh-ed25519 [A-Za-z0-9+/=]+ k[0-9]+@e2e$' "$TMP" || true)
[ "$bad" = 0 ] || fail "$bad malformed lines in the temporary tier: $(cat "$TMP")"
# No temporary or lock files left lying next to the tier (other than the tier itself).
leftover=$(find "$T" -mindepth 1 -newer "$CONF" ! -name tmp_authorized_keys ! -name revoked_keys.krl \
  ! -name '*.lock' ! -name '.*.lock' -print)
[ -z "$leftover" ] || fail "files left in the tier dir after the adds: $leftover"

run "$PORTHOLE" keys --config "$CONF" list self --json
expect_rc 0 "list --json"
json_check "$OUT" "
t = [e for e in d if e['tier'] == 'temporary']
assert len(t) == $N, 'list shows %d temporary keys' % len(t)
assert all(e['state'] == 'active' for e in t), t
assert len({e['fingerprint'] for e in t}) == $N, 'duplicate fingerprints'
" "list after parallel adds"

start_sshd main "$DROPIN"
expect_login "$L" k1 "first racing key"
expect_login "$L" "k$N" "last racing key"

pass
