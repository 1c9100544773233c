#!/usr/bin/env bash
# keys_fullfs: when the temporary tier cannot be rewritten (its file system is
# full, or read-only), `porthole keys` exits 1 naming the file and leaves the
# file byte-identical: an atomic rewrite never truncates the old contents.
source "$(dirname "$0")/lib.sh"
require_porthole

T=$WORK/ssh
SMALL=$WORK/small
CAT=$WORK/catalogue.toml
CONF=$WORK/keys.toml
write_keys_conf "$CONF" root "$T" "$CAT" "$T/customer_authorized_keys"
TMP=$SMALL/tmp_authorized_keys
sed -i "s|^temporary = .*|temporary = \"$TMP\"|" "$CONF"
grep -qF "temporary = \"$TMP\"" "$CONF" || fatal "could not point the temporary tier at $TMP"
printf '[known]\n[revoked]\n' >"$CAT"

mkdir -m 755 "$SMALL"
mount -t tmpfs -o size=64k,mode=755 e2e-small "$SMALL" || fatal "mount -t tmpfs on $SMALL failed"
at_exit umount "$SMALL"

keys() { run "$PORTHOLE" keys --config "$CONF" "$@"; }

for k in a b c d e new; do new_key "$k"; done
for k in a b c d e; do
  keys add self "$(pub_path "$k")" 1h
  expect_rc 0 "add $k before filling the disk"
done
expect_key_count "$TMP" e 1 "setup"
# Make the tier span two 4 KiB pages, so that a rewrite with one free page
# fails half-way through writing, not at the first byte.
for i in $(seq 1 32); do new_key "pad$i"; done
for i in $(seq 1 32); do
  echo "expiry-time=\"209912312359Z\" $(pub_line "pad$i")"
done >>"$TMP"
size=$(stat -c %s "$TMP")
[ "$size" -gt 4096 ] && [ "$size" -lt 8192 ] || fatal "tier is $size bytes, want 4097..8191"
cp "$TMP" "$WORK/tmp.before"

# expect_failed_intact WHAT: the last run exited 1, named the tier file, and
# the tier file is unchanged.
expect_failed_intact() {
  trace "  $1: exit $RC: $ERR"
  expect_rc 1 "$1"
  [[ "$ERR" == *"$TMP"* ]] || fail "$1: the error does not name $TMP: $ERR"
  cmp -s "$TMP" "$WORK/tmp.before" || fail "$1: $TMP changed: $(diff "$WORK/tmp.before" "$TMP")"
}

# avail: bytes free on the small file system.
avail() { df --output=avail -B1 "$SMALL" | tail -1 | tr -d ' '; }
# no_leftovers WHAT: nothing but the tier, the filler (and a lock file).
no_leftovers() {
  local left
  left=$(find "$SMALL" -mindepth 1 ! -name tmp_authorized_keys ! -name filler \
    ! -name '*.lock' ! -name '.*.lock')
  [ -z "$left" ] || fail "$1: temporary files left behind: $left"
}

trace "file system nearly full: one page free, the new file needs two"
# Fill every remaining block (dd stops with ENOSPC), then free one page.
dd if=/dev/zero of="$SMALL/filler" bs=4096 2>/dev/null || true
[ "$(avail)" = 0 ] || fatal "could not fill $SMALL ($(avail) bytes left)"
truncate -s -4096 "$SMALL/filler"
[ "$(avail)" = 4096 ] || fatal "want one free page on $SMALL, have $(avail) bytes"
keys add self "$(pub_path new)" 1h
expect_failed_intact "add with one page free"
no_leftovers "add with one page free"
keys rm self "$(pub_path pad1)"
expect_failed_intact "rm with one page free"
no_leftovers "rm with one page free"
[ "$(avail)" = 4096 ] || fail "failed rewrites did not give back their space ($(avail) bytes free)"

trace "file system full"
dd if=/dev/zero of="$SMALL/filler" bs=4096 oflag=append conv=notrunc 2>/dev/null || true
[ "$(avail)" = 0 ] || fatal "could not fill $SMALL ($(avail) bytes left)"
keys add self "$(pub_path new)" 1h
expect_failed_intact "add on a full file system"
keys add self "$(pub_path a)" 2h
expect_failed_intact "re-add (replace) on a full file system"
no_leftovers "full file system"

trace "file system read-only"
rm -f "$SMALL/filler"
mount -o remount,ro "$SMALL" || fatal "mount -o remount,ro $SMALL failed"
keys add self "$(pub_path new)" 1h
expect_failed_intact "add on a read-only file system"
keys rm self "$(pub_path b)"
expect_failed_intact "rm on a read-only file system"
keys clear self
expect_failed_intact "clear on a read-only file system"

trace "writable again: the same add succeeds"
mount -o remount,rw "$SMALL" || fatal "mount -o remount,rw $SMALL failed"
keys add self "$(pub_path new)" 1h
expect_rc 0 "add after the file system is writable again"
expect_key_count "$TMP" new 1 "add after recovery"
expect_key_count "$TMP" a 1 "add after recovery keeps old lines"

pass
