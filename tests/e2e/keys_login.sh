#!/usr/bin/env bash
# keys_login: what `porthole keys` writes on this machine ("self") is what a
# real sshd enforces. The drop-in comes from `install-sshd-config`; every
# tier, expiry, the catalogue's command= restriction, the KRL, rm, clear,
# prune and forever are checked by logging in with the real ssh client.
source "$(dirname "$0")/lib.sh"
require_porthole
require_cmd runuser

L=phl$UNIQ
make_user "$L"
HOME_L=$(getent passwd "$L" | cut -d: -f6)
T=$WORK/ssh
CAT=$WORK/catalogue.toml
CONF=$WORK/keys.toml
DROPIN=$WORK/porthole.conf
write_keys_conf "$CONF" "$L" "$T" "$CAT"
ROOTF=$T/root_authorized_keys
FLEET=$T/fleet_authorized_keys
TMP=$T/tmp_authorized_keys
SESSION=$T/session_authorized_keys
KRL=$T/revoked_keys.krl
CUST=$HOME_L/.ssh/authorized_keys

keys() { run "$PORTHOLE" keys --config "$CONF" "$@"; }

for k in timed expired restricted alice lost stolen forever rootk fleetk sessionk months set1; do
  new_key "$k"
done
# twin has the same comment as forever: rm must match key material only.
ssh-keygen -q -t ed25519 -N '' -C "forever@e2e" -f "$WORK/keys/twin" </dev/null

# write_catalogue "KNOWN_ID=LINE"... -- "REVOKED_ID=LINE"...
write_catalogue() {
  local e
  {
    echo "[known]"
    for e in "$@"; do
      if [ "$e" = -- ]; then
        echo "[revoked]"
        continue
      fi
      printf '"%s" = %s\n' "${e%%=*}" "'${e#*=}'"
    done
  } >"$CAT"
}
catalogue_v1() {
  write_catalogue \
    "restricted@e2e=restrict,command=\"echo restricted-ok\" $(pub_line restricted)" \
    "alice@e2e=$(pub_line alice)" \
    -- \
    "lost@e2e=$(pub_line lost)" "$@"
}
catalogue_v1

# check_expiry FILE KEY SECONDS WHAT: the key's line in FILE carries
# expiry-time="YYYYMMDDHHMMZ" about SECONDS from now (minute precision, UTC).
# SECONDS may be "1m" for one calendar month.
check_expiry() {
  local file=$1 key=$2 secs=$3 what=$4 msg
  if ! msg=$(python3 - "$file" "$(key_blob "$key")" "$secs" 2>&1 <<'EOF'
import datetime, re, sys
path, blob, want = sys.argv[1:]
lines = [l for l in open(path) if blob in l]
assert len(lines) == 1, "%d lines hold the key" % len(lines)
m = re.findall(r'expiry-time="([^"]*)"', lines[0])
assert len(m) == 1, "want one expiry-time option: " + lines[0]
assert re.fullmatch(r"\d{12}Z", m[0]), "not YYYYMMDDHHMMZ: " + m[0]
got = datetime.datetime.strptime(m[0], "%Y%m%d%H%MZ").replace(tzinfo=datetime.timezone.utc)
now = datetime.datetime.now(datetime.timezone.utc)
if want == "1m":
    try:
        exp = now.replace(month=now.month % 12 + 1, year=now.year + (now.month == 12))
    except ValueError:  # no such day next month: accept 28..31 days
        exp = None
    if exp is None:
        ok = datetime.timedelta(days=28) <= got - now <= datetime.timedelta(days=31, minutes=1)
    else:
        ok = -180 <= (got - exp).total_seconds() <= 120
else:
    ok = -180 <= (got - now).total_seconds() - int(want) <= 120
assert ok, "expiry %s is not %s s from now (%s)" % (m[0], want, now.isoformat())
EOF
  ); then
    fail "$what: ${msg##*$'\n'}"
  fi
}

# key_line_no FILE KEY: the line number of KEY in FILE.
key_line_no() { grep -nF -- "$(key_blob "$2")" "$1" | head -1 | cut -d: -f1; }

# ---------------------------------------------------------------------------
trace "install-sshd-config writes the drop-in and the KRL"
keys install-sshd-config self --output "$DROPIN"
expect_rc 0 "install-sshd-config"
[ -f "$DROPIN" ] || fatal "install-sshd-config wrote no $DROPIN"
python3 - "$DROPIN" "$L" "$ROOTF" "$FLEET" "$TMP" "$SESSION" "$KRL" "$HOME_L" <<'EOF' ||
import sys
path, user, root, fleet, tmp, session, krl, home = sys.argv[1:]
lines = [l.split() for l in open(path) if l.strip() and not l.lstrip().startswith("#")]
kw = [l[0].lower() for l in lines]
assert kw.count("match") == 1, "want one Match line: %r" % lines
mi = kw.index("match")
assert lines[mi][1:] == ["User", user], "Match line %r" % lines[mi]
rk = [l for l in lines[:mi] if l[0].lower() == "revokedkeys"]
assert rk == [["RevokedKeys", krl]], "want 'RevokedKeys %s' before Match: %r" % (krl, lines)
ak = [l for l in lines[mi:] if l[0].lower() == "authorizedkeysfile"]
assert len(ak) == 1, "want one AuthorizedKeysFile after Match: %r" % lines
files = ak[0][1:]
assert len(files) == 5, "want 5 tier files: %r" % files
# sshd expands a leading ~ to the home of the user running sshd (root), so
# the customer tier must be %h/..., relative, or the login user's absolute path.
assert files[3] in ("%h/.ssh/authorized_keys", ".ssh/authorized_keys",
                    home + "/.ssh/authorized_keys"), "customer tier written as %r" % files[3]
assert [files[0], files[1], files[2], files[4]] == [root, fleet, tmp, session], "tier order %r" % files
EOF
  fail "drop-in $DROPIN does not match the contract (above); it is: $(cat "$DROPIN")"
drop_text=$(cat "$DROPIN")
keys sshd-config
expect_rc 0 "sshd-config"
[ "$OUT" = "$drop_text" ] ||
  fail "sshd-config prints something else than install-sshd-config wrote: '$OUT' vs '$drop_text'"

[ -f "$KRL" ] || fatal "install-sshd-config wrote no KRL $KRL (sshd refuses every key without it)"
rc=0
ssh-keygen -Q -f "$KRL" "$(pub_path lost)" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "KRL written by install-sshd-config does not revoke catalogue-revoked lost@e2e (ssh-keygen -Q exit $rc)"
rc=0
ssh-keygen -Q -f "$KRL" "$(pub_path alice)" >/dev/null 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "KRL revokes alice@e2e, which is not revoked (ssh-keygen -Q exit $rc)"

trace "the catalogue: known, known --full, known --revoked"
keys known
expect_rc 0 "known"
ids=$(awk '{print $1}' <<<"$OUT")
grep -qx 'alice@e2e' <<<"$ids" && grep -qx 'restricted@e2e' <<<"$ids" ||
  fail "known does not list alice@e2e and restricted@e2e, one ID per line: $OUT"
grep -q 'lost@e2e' <<<"$OUT" && fail "known lists the revoked lost@e2e: $OUT"
keys known --full
expect_rc 0 "known --full"
grep -qF "command=\"echo restricted-ok\" $(pub_line restricted)" <<<"$OUT" ||
  fail "known --full does not print restricted@e2e's full line: $OUT"
keys known --revoked
expect_rc 0 "known --revoked"
grep -q 'lost@e2e' <<<"$OUT" || fail "known --revoked does not list lost@e2e: $OUT"
grep -q 'alice@e2e' <<<"$OUT" && fail "known --revoked lists alice@e2e: $OUT"

# ---------------------------------------------------------------------------
trace "sshd reads every tier the drop-in names"
pub_line rootk >"$ROOTF"
{ pub_line fleetk; echo "this line is not a key"; } >"$FLEET"
pub_line sessionk >"$SESSION"
start_sshd main "$DROPIN" "LogLevel DEBUG1"

expect_refused "$L" timed "before any add"
for pair in "rootk:$ROOTF" "fleetk:$FLEET" "sessionk:$SESSION"; do
  k=${pair%%:*} f=${pair#*:}
  m=$(log_mark)
  expect_login "$L" "$k" "key in tier file $f"
  expect_log "$m" "Accepted key ED25519 $(fingerprint "$k") found at $f:1" "$k accepted from $f"
done

# ---------------------------------------------------------------------------
trace "add 1h: temporary tier, expiry-time, logs in; re-add replaces in place"
keys add self "$(pub_path timed)" 1h
expect_rc 0 "add timed.pub 1h"
expect_key_count "$TMP" timed 1 "add 1h"
check_expiry "$TMP" timed 3600 "add 1h"
m=$(log_mark)
expect_login "$L" timed "key added 1h"
expect_log "$m" "Accepted key ED25519 $(fingerprint timed) found at $TMP:1" "timed accepted from the temporary tier"

keys add self "$(pub_line alice)" 1d
expect_rc 0 "add alice line 1d"
check_expiry "$TMP" alice 86400 "add 1d"
keys add self "$(pub_line timed)" 2h
expect_rc 0 "re-add timed 2h"
expect_key_count "$TMP" timed 1 "re-add of the same key"
[ "$(key_line_no "$TMP" timed)" = 1 ] || fail "re-added key moved from line 1: $(cat "$TMP")"
check_expiry "$TMP" timed 7200 "re-add 2h"
keys add self "$(pub_path months)" 1w
expect_rc 0 "add 1w"
check_expiry "$TMP" months 604800 "add 1w"
keys add self "$(pub_path months)" 1m
expect_rc 0 "add 1m"
check_expiry "$TMP" months 1m "add 1m (calendar month)"
expect_key_count "$TMP" months 1 "re-add 1w then 1m"

# ---------------------------------------------------------------------------
trace "an expired line is refused by sshd, listed expired, pruned"
echo "expiry-time=\"202001010000Z\" $(pub_line expired)" >>"$TMP"
n=$(key_line_no "$TMP" expired)
m=$(log_mark)
expect_refused "$L" expired "expired line"
expect_log "$m" "$TMP:$n: entry expired at" "sshd's reason for the expired line"
keys list self --json
expect_rc 0 "list --json"
json_check "$OUT" "
e = by_fp('$(fingerprint expired)')[0]
assert e['state'] == 'expired', 'expired key state %r' % e['state']
assert e['tier'] == 'temporary' and e['file'] == '$TMP' and e['line'] == $n, 'where: %r' % e
assert utc(e['expiry']) == datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc), e['expiry']
t = by_fp('$(fingerprint timed)')[0]
assert t['state'] == 'active', 'timed state %r' % t['state']
assert t['tier'] == 'temporary' and t['line'] == 1, 'timed where: %r' % t
delta = (utc(t['expiry']) - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
assert 7200 - 180 <= delta <= 7200 + 120, 'timed expiry %s' % t['expiry']
" "list shows expired and active keys"

keys prune self
expect_rc 0 "prune"
expect_key_count "$TMP" expired 0 "prune removes the expired line"
expect_key_count "$TMP" timed 1 "prune keeps an unexpired line"
expect_key_count "$TMP" alice 1 "prune keeps an unexpired line"
expect_login "$L" timed "after prune"

# ---------------------------------------------------------------------------
trace "a catalogue key with restrict,command= can only run that command"
keys add self restricted@e2e 1h
expect_rc 0 "add restricted@e2e 1h (by catalogue ID)"
expect_key_count "$TMP" restricted 1 "add by ID"
line=$(grep -F -- "$(key_blob restricted)" "$TMP" || true)
[[ "$line" == *restrict* && "$line" == *'command="echo restricted-ok"'* ]] ||
  fail "catalogue options not kept: $line"
check_expiry "$TMP" restricted 3600 "add by ID 1h"
rc=0
out=$(ssh_as "$L" "$(key_path restricted)" id 2>"$WORK/.ssh.err") || rc=$?
[ "$rc" = 0 ] && [ "$out" = restricted-ok ] ||
  fail "restricted key asked for 'id': exit $rc, output '$out' (want 'restricted-ok'); $(cat "$WORK/.ssh.err")"
keys list self --json
expect_rc 0 "list --json"
json_check "$OUT" "
e = by_fp('$(fingerprint restricted)')[0]
assert e['id'] == 'restricted@e2e', 'id %r' % e['id']
assert 'echo restricted-ok' in json.dumps(e['options']), 'options %r' % e['options']
" "list names the catalogue ID and options"

# ---------------------------------------------------------------------------
trace "a revoked key is refused through the KRL even with a line in a tier"
echo "expiry-time=\"209912312359Z\" $(pub_line lost)" >>"$TMP"
m=$(log_mark)
expect_refused "$L" lost "revoked key with a line in the temporary tier"
expect_log "$m" "revoked by file $KRL" "sshd's reason for the revoked key"
keys list self --json
expect_rc 0 "list --json"
json_check "$OUT" "
e = by_fp('$(fingerprint lost)')[0]
assert e['state'] == 'REVOKED', 'revoked key state %r' % e['state']
" "list shows REVOKED"

# stolen@e2e becomes revoked in the catalogue after the KRL was written.
pub_line stolen >>"$ROOTF"
catalogue_v1 "stolen@e2e=$(pub_line stolen)"
keys rm self --revoked
expect_rc 0 "rm self --revoked"
expect_key_count "$TMP" lost 0 "rm --revoked sweeps the temporary tier"
expect_key_count "$ROOTF" stolen 0 "rm --revoked sweeps the root tier"
expect_key_count "$ROOTF" rootk 1 "rm --revoked keeps unrevoked keys"
rc=0
ssh-keygen -Q -f "$KRL" "$(pub_path stolen)" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "rm --revoked did not rewrite the KRL with stolen@e2e (ssh-keygen -Q exit $rc)"
pub_line stolen >>"$FLEET"
m=$(log_mark)
expect_refused "$L" stolen "key revoked by the KRL that rm --revoked wrote"
expect_log "$m" "revoked by file $KRL" "sshd's reason for the newly revoked key"
grep -vF -- "$(key_blob stolen)" "$FLEET" >"$FLEET.new" && cat "$FLEET.new" >"$FLEET" && rm "$FLEET.new"

trace "a revoked key cannot be added, by line, path or ID"
before=$(tree_state "$T" "$HOME_L" "$CAT")
for arg in "$(pub_line lost)" "$(pub_path stolen)" lost@e2e stolen@e2e; do
  for valid in 1h forever; do
    keys add self "$arg" "$valid"
    expect_rc "1|2" "add of revoked key '$arg' $valid"
    [ -n "$ERR" ] || fail "add of revoked key '$arg' $valid: no message on stderr"
  done
done
[ "$(tree_state "$T" "$HOME_L" "$CAT")" = "$before" ] ||
  fail "a refused add of a revoked key changed files"

# ---------------------------------------------------------------------------
trace "rm takes effect; rm of an absent key exits 1"
keys rm self "$(pub_path timed)"
expect_rc 0 "rm timed"
expect_key_count "$TMP" timed 0 "rm"
expect_refused "$L" timed "after rm"
before=$(tree_state "$T" "$HOME_L")
keys rm self "$(pub_path timed)"
expect_rc 1 "rm of an absent key"
[ -n "$ERR" ] || fail "rm of an absent key: no message on stderr"
[ "$(tree_state "$T" "$HOME_L")" = "$before" ] || fail "rm of an absent key changed files"

trace "clear empties the temporary tier only"
expect_login "$L" alice "alice before clear"
keys clear self
expect_rc 0 "clear"
[ "$(grep -c 'ssh-' "$TMP" 2>/dev/null || true)" = 0 ] || fail "clear left key lines: $(cat "$TMP")"
expect_refused "$L" alice "after clear"
expect_refused "$L" restricted "after clear"
expect_login "$L" rootk "root tier after clear"

# ---------------------------------------------------------------------------
trace "forever goes to the customer tier in the login user's home"
keys add self "$(pub_path forever)" forever
expect_rc 0 "add forever"
expect_key_count "$CUST" forever 1 "add forever"
grep -F -- "$(key_blob forever)" "$CUST" | grep -q expiry-time &&
  fail "forever line has an expiry-time: $(cat "$CUST")"
expect_key_count "$TMP" forever 0 "add forever (not temporary)"
[ -e /root/.ssh/authorized_keys ] && grep -qF -- "$(key_blob forever)" /root/.ssh/authorized_keys &&
  fail "forever key landed in root's authorized_keys"
[ "$(stat -c %U:%a "$HOME_L/.ssh")" = "$L:700" ] && [ "$(stat -c %U "$CUST")" = "$L" ] ||
  fail "customer tier not the login user's own: $(stat -c '%n %U:%a' "$HOME_L/.ssh" "$CUST")"
m=$(log_mark)
expect_login "$L" forever "key added forever"
expect_log "$m" "Accepted key ED25519 $(fingerprint forever) found at $CUST:1" "forever key accepted from the customer tier"

# ---------------------------------------------------------------------------
trace "list --json has the documented fields (--config after the verb too)"
keys add self alice@e2e 1h
expect_rc 0 "add alice@e2e 1h"
run "$PORTHOLE" keys list self --json --config "$CONF"
expect_rc 0 "list self --json --config FILE (option after the verb)"
json_check "$OUT" "
fields = {'tier','file','line','type','fingerprint','comment','id','options','expiry','state'}
assert isinstance(d, list), 'not an array'
for e in d:
    assert fields <= set(e), 'missing %s in %r' % (fields - set(e), e)
    assert e['state'] in ('active','expired','REVOKED','unparseable'), e
    assert isinstance(e['line'], int) and e['line'] >= 1, e
tiers = {'root':'$ROOTF','fleet':'$FLEET','temporary':'$TMP','customer':'$CUST','session':'$SESSION'}
for e in d:
    assert tiers.get(e['tier']) == e['file'], 'tier/file %r' % e
want = {'$(fingerprint rootk)':('root',1,'rootk@e2e',None),
        '$(fingerprint fleetk)':('fleet',1,'fleetk@e2e',None),
        '$(fingerprint sessionk)':('session',1,'sessionk@e2e',None),
        '$(fingerprint forever)':('customer',1,'forever@e2e',None),
        '$(fingerprint alice)':('temporary',$(key_line_no "$TMP" alice),'alice@e2e','alice@e2e')}
for fp, (tier, line, comment, id_) in want.items():
    m = by_fp(fp)
    assert len(m) == 1, 'key %s listed %d times' % (comment, len(m))
    e = m[0]
    assert (e['tier'], e['line'], e['comment'], e['id']) == (tier, line, comment, id_), 'want %r got %r' % ((tier, line, comment, id_), e)
    assert e['type'] == 'ssh-ed25519' and e['state'] == 'active', e
    assert (e['expiry'] is None) == (tier != 'temporary'), 'expiry %r' % e
bad = [e for e in d if e['state'] == 'unparseable']
assert len(bad) == 1 and bad[0]['tier'] == 'fleet' and bad[0]['line'] == 2, 'unparseable: %r' % bad
assert len(d) == 6, 'want 6 entries, got %d' % len(d)
" "list --json contents"

# ---------------------------------------------------------------------------
trace "rm matches key material, never the comment"
keys add self "$(pub_path twin)" 1h
expect_rc 0 "add twin (same comment as forever)"
keys rm self "ssh-ed25519 $(key_blob forever) another-comment"
expect_rc 0 "rm forever by its key with another comment"
expect_key_count "$CUST" forever 0 "rm by key material"
expect_key_count "$TMP" twin 1 "rm leaves a different key with the same comment"
[ "$(stat -c %U "$CUST")" = "$L" ] || fail "rewrite of the customer tier changed its owner to $(stat -c %U "$CUST")"
expect_refused "$L" forever "after rm by key material"
expect_login "$L" twin "same-comment key after rm"

# ---------------------------------------------------------------------------
trace "root writing in the login user's home does not follow the user's symlinks"
# The login user controls ~/.ssh; root must not be steered to write elsewhere.
mkdir -m 755 "$WORK/victim"
echo "root's own file" >"$WORK/victim/authorized_keys"
victim_before=$(tree_state "$WORK/victim")
rm -f "$CUST"
runuser -u "$L" -- ln -s "$WORK/victim/authorized_keys" "$CUST"
keys add self "$(pub_path forever)" forever
[ "$(tree_state "$WORK/victim")" = "$victim_before" ] ||
  fail "add forever wrote through the user's symlink ~/.ssh/authorized_keys into $WORK/victim"
if [ "$RC" = 0 ] && { [ -L "$CUST" ] || [ "$(stat -c %U "$CUST")" != "$L" ]; }; then
  fail "add forever over a symlinked authorized_keys: exit 0 but $(stat -c '%F %U' "$CUST")"
fi
rm -rf "$CUST" "$HOME_L/.ssh"
runuser -u "$L" -- ln -s "$WORK/victim" "$HOME_L/.ssh"
keys add self "$(pub_path forever)" forever
[ "$(tree_state "$WORK/victim")" = "$victim_before" ] ||
  fail "add forever wrote through the user's symlink ~/.ssh into $WORK/victim: $(ls -la "$WORK/victim")"
rm -f "$HOME_L/.ssh"

# ---------------------------------------------------------------------------
trace "set replaces every key of one tier, atomically"
before=$(tree_state "$T" "$HOME_L")
keys set self --tier fleet "$(pub_path set1)" "ssh-ed25519 $(key_blob set1 | cut -c1-30) broken"
expect_rc 2 "set with one malformed key among good ones"
[ "$(tree_state "$T" "$HOME_L")" = "$before" ] || fail "set with a malformed key changed files"
keys set self --tier fleet "$(pub_path set1)" lost@e2e
expect_rc "1|2" "set with a revoked key"
[ "$(tree_state "$T" "$HOME_L")" = "$before" ] || fail "set with a revoked key changed files"
keys set self --tier fleet "$(pub_path set1)" restricted@e2e
expect_rc 0 "set --tier fleet set1 restricted@e2e"
expect_key_count "$FLEET" set1 1 "set"
expect_key_count "$FLEET" restricted 1 "set by ID"
expect_key_count "$FLEET" fleetk 0 "set drops the tier's old keys"
grep -F -- "$(key_blob restricted)" "$FLEET" | grep -qF 'command="echo restricted-ok"' ||
  fail "set by ID lost the catalogue options: $(cat "$FLEET")"
grep -q expiry-time "$FLEET" && fail "set --tier fleet wrote an expiry-time: $(cat "$FLEET")"
expect_key_count "$ROOTF" rootk 1 "set leaves other tiers alone"
expect_key_count "$TMP" twin 1 "set leaves other tiers alone"
m=$(log_mark)
expect_login "$L" set1 "key set into the fleet tier"
expect_log "$m" "Accepted key ED25519 $(fingerprint set1) found at $FLEET:" "set1 accepted from the fleet tier"
expect_refused "$L" fleetk "old fleet key after set"

pass
