#!/usr/bin/env bash
# A non-root operator editing root-owned tiers: porthole re-runs itself with
# `sudo -n` only because the files need it, the change lands with the file
# still root's, and without sudo rights it fails cleanly with nothing changed.
. "$(dirname "$0")/lib.sh"
require_porthole
require_cmd sudo runuser

tag=$UNIQ
op="ph-op-$tag"
nosudo="ph-no-$tag"
make_user "$op"
make_user "$nosudo"
rule="/etc/sudoers.d/porthole-e2e-$tag"
printf '%s ALL=(root) NOPASSWD: %s\n' "$op" "$PORTHOLE" >"$rule"
chmod 0440 "$rule"
at_exit rm -f "$rule"
visudo -cq -f "$rule" || fatal "sudoers rule rejected by visudo"

conf="$WORK/keys.toml"
tiers="$WORK/tiers"
write_keys_conf "$conf" "$op" "$tiers" "$WORK/catalogue.toml" "$tiers/customer"
new_key alice
pub="$WORK/alice.pub"  # $WORK/keys is root's alone
install -m 644 "$(pub_path alice)" "$pub"

trace "operator with sudo rights: the add lands through sudo"
run runuser -u "$op" -- "$PORTHOLE" keys --config "$conf" add self "$pub" 1h
expect_rc 0 "add as $op"
expect_key_count "$tiers/tmp_authorized_keys" alice 1 "alice in the temporary tier"
[ "$(stat -c %U:%a "$tiers/tmp_authorized_keys")" = root:644 ] ||
  fail "tier file not root:644 after the sudo'd add: $(stat -c %U:%a "$tiers/tmp_authorized_keys")"

trace "list reads without sudo (the files are world-readable)"
run runuser -u "$op" -- "$PORTHOLE" keys --config "$conf" list self --json
expect_rc 0 "list as $op"
json_check "$OUT" 'assert len(d) == 1 and d[0]["state"] == "active", d' "list shows alice"

trace "operator without sudo rights: fails, nothing changes"
before=$(tree_state "$tiers")
run runuser -u "$nosudo" -- "$PORTHOLE" keys --config "$conf" rm self "$pub"
[ "$RC" -ne 0 ] || fail "rm as $nosudo succeeded without sudo rights"
[ "$(tree_state "$tiers")" = "$before" ] || fail "tiers changed after a refused rm"

trace "root never goes through sudo"
run env PATH=/nonexistent "$PORTHOLE" keys --config "$conf" rm self "$pub"
expect_rc 0 "rm as root with no sudo on PATH"
expect_key_count "$tiers/tmp_authorized_keys" alice 0 "alice removed"
pass
