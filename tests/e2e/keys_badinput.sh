#!/usr/bin/env bash
# keys_badinput: bad input is refused with exit 2 and exactly one line on
# stderr, before any file is touched (tier files, home, catalogue, KRL).
source "$(dirname "$0")/lib.sh"
require_porthole

T=$WORK/ssh
CAT=$WORK/catalogue.toml
CONF=$WORK/keys.toml
write_keys_conf "$CONF" root "$T" "$CAT" "$T/customer_authorized_keys"
for k in good other known; do new_key "$k"; done
printf '[known]\n"known@e2e" = %s\n[revoked]\n' "'$(pub_line known)'" >"$CAT"

keys() { run "$PORTHOLE" keys --config "$CONF" "$@"; }

# Every tier exists with content, so "changed nothing" is meaningful.
keys install-sshd-config self --output "$WORK/porthole.conf"
expect_rc 0 "install-sshd-config"
keys add self "$(pub_path other)" 1h
expect_rc 0 "setup: add 1h"
keys add self "$(pub_path other)" forever
expect_rc 0 "setup: add forever"
for f in root_authorized_keys fleet_authorized_keys session_authorized_keys; do
  pub_line other >"$T/$f"
done
before=$(tree_state "$WORK/ssh" "$CAT" "$WORK/porthole.conf")

# bad WHAT ARGS...: `porthole keys --config CONF ARGS` exits 2 with one line
# on stderr, and no file changed.
bad() {
  local what=$1
  shift
  keys "$@"
  expect_rc 2 "$what"
  expect_one_line_stderr "$what"
  [ "$(tree_state "$WORK/ssh" "$CAT" "$WORK/porthole.conf")" = "$before" ] ||
    fail "$what: files changed"
}

GOOD=$(pub_path good)
bad "VALID_FOR abc" add self "$GOOD" abc
bad "VALID_FOR 0d" add self "$GOOD" 0d
bad "VALID_FOR -3d" add self "$GOOD" -3d
bad "VALID_FOR 99999m" add self "$GOOD" 99999m
bad "VALID_FOR 3x" add self "$GOOD" 3x
bad "VALID_FOR empty" add self "$GOOD" ""
bad "VALID_FOR 1.5h" add self "$GOOD" 1.5h
bad "missing VALID_FOR" add self "$GOOD"
bad "missing KEY and VALID_FOR" add self
bad "missing HOST" rm
bad "malformed key (not base64)" add self "ssh-ed25519 !!!notbase64!!! x@e2e" 1h
bad "malformed key (blob type mismatch)" add self \
  "ssh-rsa $(key_blob good) mismatch@e2e" 1h
bad "malformed key (truncated blob)" add self \
  "ssh-ed25519 $(key_blob good | cut -c1-40) cut@e2e" 1h
bad "malformed key (unknown option)" add self "frobnicate $(pub_line good)" 1h
bad "unknown ID" add self nosuch@e2e 1h
bad "unknown ID for rm" rm self nosuch@e2e
bad "set without --tier" set self "$GOOD"
bad "set with an unknown tier" set self --tier nosuch "$GOOD"
bad "unknown verb" frobnicate self

trace "the same good input is accepted (the refusals above were for the input)"
keys add self "$GOOD" 3d
expect_rc 0 "add 3d"
expect_key_count "$T/tmp_authorized_keys" good 1 "add 3d"

pass
