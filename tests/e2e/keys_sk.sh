#!/usr/bin/env bash
# keys_sk: a FIDO2 key (sk-ssh-ed25519@openssh.com, the fleet's primary
# credential) added by `porthole keys` logs in through a real sshd; sshd
# refuses a signature without user presence, and refuses the key once the
# catalogue revokes it and porthole rewrites the KRL. The "hardware" is the
# software provider from tests/sk-provider.
source "$(dirname "$0")/lib.sh"
require_porthole
require_soft_sk

L=phs$UNIQ
make_user "$L"
T=$WORK/ssh
CAT=$WORK/catalogue.toml
CONF=$WORK/keys.toml
DROPIN=$WORK/porthole.conf
write_keys_conf "$CONF" "$L" "$T" "$CAT"
TMP=$T/tmp_authorized_keys
KRL=$T/revoked_keys.krl

keys() { run "$PORTHOLE" keys --config "$CONF" "$@"; }

# Enrollment goes through ssh-sk-helper, which dlopen()s the provider.
ssh-keygen -q -t ed25519-sk -w "$SOFT_SK" -N '' -C "yubi@e2e" -f "$WORK/keys/yubi" </dev/null ||
  fatal "ssh-keygen could not enroll an ed25519-sk key with $SOFT_SK"
grep -q '^sk-ssh-ed25519@openssh.com ' "$WORK/keys/yubi.pub" ||
  fatal "enrolled key is not sk-ssh-ed25519: $(cat "$WORK/keys/yubi.pub")"

printf '[known]\n"yubi@e2e" = %s\n[revoked]\n' "'$(pub_line yubi)'" >"$CAT"
keys install-sshd-config self --output "$DROPIN"
expect_rc 0 "install-sshd-config"
[ -f "$KRL" ] || fatal "install-sshd-config wrote no KRL $KRL"
start_sshd main "$DROPIN"
SSH_OPTS=(-o "SecurityKeyProvider=$SOFT_SK")

trace "an sk key added with an expiry logs in"
keys add self yubi@e2e 2h
expect_rc 0 "add yubi@e2e 2h"
expect_key_count "$TMP" yubi 1 "add sk key"
grep -F -- "$(key_blob yubi)" "$TMP" | grep -q 'expiry-time="[0-9]\{12\}Z" sk-ssh-ed25519@openssh.com ' ||
  fail "sk key line lacks expiry-time or its type: $(cat "$TMP")"
m=$(log_mark)
expect_login "$L" yubi "sk key"
expect_log "$m" "Accepted key ED25519-SK $(fingerprint yubi) found at $TMP:1" "sk key accepted from the temporary tier"
keys list self --json
expect_rc 0 "list --json"
json_check "$OUT" "
e = by_fp('$(fingerprint yubi)')[0]
assert e['type'] == 'sk-ssh-ed25519@openssh.com', 'type %r' % e['type']
assert e['state'] == 'active' and e['id'] == 'yubi@e2e', e
" "list shows the sk key"

trace "without user presence (no touch) sshd refuses the signature"
m=$(log_mark)
SOFT_SK_NO_TOUCH=1 expect_refused "$L" yubi "sk signature without user presence"
expect_log "$m" "user presence (authenticator touch) requirement not met" "sshd's reason for the untouched key"
# The key itself is still fine: a touched signature logs in again.
expect_login "$L" yubi "sk key touched again"

trace "no-touch-required on the line: the same untouched signature is accepted"
# This proves the refusal above is about the presence flag alone: the
# provider's untouched signatures are otherwise valid.
ssh-keygen -q -t ed25519-sk -w "$SOFT_SK" -N '' -C "notouch@e2e" -O no-touch-required \
  -f "$WORK/keys/notouch" </dev/null || fatal "enrolling a no-touch-required sk key failed"
keys add self "no-touch-required $(pub_line notouch)" 1h
expect_rc 0 "add no-touch-required sk key"
grep -F -- "$(key_blob notouch)" "$TMP" | grep -q 'no-touch-required' ||
  fail "no-touch-required option lost: $(cat "$TMP")"
SOFT_SK_NO_TOUCH=1 expect_login "$L" notouch "untouched signature, no-touch-required key"

trace "ecdsa-sk (sk-ecdsa-sha2-nistp256) works the same way"
ssh-keygen -q -t ecdsa-sk -w "$SOFT_SK" -N '' -C "ecsk@e2e" -f "$WORK/keys/ecsk" </dev/null ||
  fatal "enrolling an ecdsa-sk key with $SOFT_SK failed"
keys add self "$(pub_path ecsk)" 1h
expect_rc 0 "add ecdsa-sk key"
m=$(log_mark)
expect_login "$L" ecsk "ecdsa-sk key"
expect_log "$m" "Accepted key ECDSA-SK $(fingerprint ecsk) found at $TMP:" "ecdsa-sk key accepted"
m=$(log_mark)
SOFT_SK_NO_TOUCH=1 expect_refused "$L" ecsk "untouched ecdsa-sk signature"
expect_log "$m" "user presence (authenticator touch) requirement not met" "sshd's reason for the untouched ecdsa-sk key"

trace "revoked in the catalogue + KRL rewritten: refused although its line stays"
printf '[known]\n[revoked]\n"yubi@e2e" = %s\n' "'$(pub_line yubi)'" >"$CAT"
keys install-sshd-config self --output "$DROPIN"
expect_rc 0 "install-sshd-config rewrites the KRL"
expect_key_count "$TMP" yubi 1 "install-sshd-config leaves tier files alone"
rc=0
ssh-keygen -Q -f "$KRL" "$(pub_path yubi)" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "KRL does not revoke the sk key (ssh-keygen -Q exit $rc)"
m=$(log_mark)
expect_refused "$L" yubi "revoked sk key"
expect_log "$m" "revoked by file $KRL" "sshd's reason for the revoked sk key"
keys list self --json
expect_rc 0 "list --json"
json_check "$OUT" "
e = by_fp('$(fingerprint yubi)')[0]
assert e['state'] == 'REVOKED', 'state %r' % e['state']
" "list shows the sk key REVOKED"
keys rm self --revoked
expect_rc 0 "rm --revoked"
expect_key_count "$TMP" yubi 0 "rm --revoked sweeps the sk key"
before=$(tree_state "$T")
keys add self "$(pub_path yubi)" 1h
expect_rc "1|2" "add of the revoked sk key"
[ "$(tree_state "$T")" = "$before" ] || fail "refused add of the revoked sk key changed files"

pass
