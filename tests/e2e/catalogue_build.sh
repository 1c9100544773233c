#!/usr/bin/env bash
# A catalogue compiled into porthole (-DPORTHOLE_CATALOGUE) is checked at
# build time: a known key that is also revoked fails the build, naming both
# IDs; a good catalogue is embedded and `porthole keys known` lists its IDs.
#   - a second build tree configured with the bad catalogue: the step that
#     porthole is built from fails, naming both keys, and writes nothing.
#     The tree uses the default build's porthole-catalogue-check
#     (-DPORTHOLE_CATALOGUE_CHECK, as a cross build does), so the step
#     needs nothing compiled;
#   - the same tree configured with the good catalogue: the catalogue step
#     writes the very source the default build compiled into
#     porthole-fixture-catalogue (tests/catalogue/good.toml embedded the
#     same way), and that binary's `keys known` lists the catalogue.
#
#   PORTHOLE_CATALOGUE_CHECK_BIN=build/src/cli/porthole-catalogue-check \
#   PORTHOLE_FIXTURE_CATALOGUE_BIN=build/src/cli/porthole-fixture-catalogue \
#     bash tests/e2e/catalogue_build.sh
. "$(dirname "$0")/lib.sh"
require_cmd cmake ninja
_require_exe PORTHOLE_CATALOGUE_CHECK_BIN "porthole-catalogue-check, e.g. build/src/cli/porthole-catalogue-check"
_require_exe PORTHOLE_FIXTURE_CATALOGUE_BIN "porthole-fixture-catalogue, e.g. build/src/cli/porthole-fixture-catalogue"
CHECK=$(readlink -f "$PORTHOLE_CATALOGUE_CHECK_BIN")
FIXTURE=$(readlink -f "$PORTHOLE_FIXTURE_CATALOGUE_BIN")

src=$(cd "$(dirname "$0")/../.." && pwd)
build="$WORK/build"
configure() {
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPORTHOLE_TESTS=OFF -DPORTHOLE_BENCH=OFF -DPORTHOLE_CATALOGUE="$1" \
    -DPORTHOLE_CATALOGUE_CHECK="$CHECK" \
    >"$WORK/configure.log" 2>&1 || fatal "configure failed: $(tail -3 "$WORK/configure.log")"
}

trace "bad catalogue: the build must fail"
configure "$src/tests/catalogue/bad.toml"
# porthole is linked from the catalogue step's output; that step, run on
# its own (it needs nothing compiled), must fail.
# (Captured first: `| grep -q` would close the pipe early, and pipefail
# would turn ninja's SIGPIPE into a failure.)
query=$(ninja -C "$build" -t query src/cli/porthole)
[[ $query == *builtin_catalogue.cc.o* ]] ||
  fail "porthole is not built from the catalogue step: $(printf '%s\n' "$query" | sed -n 1,20p)"
if cmake --build "$build" --target src/cli/builtin_catalogue.cc >"$WORK/bad.log" 2>&1; then
  fail "a catalogue with a known key that is also revoked built"
fi
grep -q "known key 'alice@fixture' is also revoked (as 'alice-old')" "$WORK/bad.log" ||
  fail "the build failure does not name the key: $(grep -m1 -i catalogue "$WORK/bad.log")"
[ ! -e "$build/src/cli/builtin_catalogue.cc" ] || fail "the bad catalogue was embedded anyway"

trace "good catalogue: embedded as the default build's fixture was, and known lists it"
configure "$src/tests/catalogue/good.toml"
cmake --build "$build" --target src/cli/builtin_catalogue.cc >"$WORK/good.log" 2>&1 ||
  fatal "the good catalogue was refused: $(tail -5 "$WORK/good.log")"
fixture_src=$(dirname "$FIXTURE")/fixture_catalogue.cc
[ -f "$fixture_src" ] || fatal "no $fixture_src next to $FIXTURE"
cmp -s "$build/src/cli/builtin_catalogue.cc" "$fixture_src" ||
  fail "the configured catalogue's source differs from the fixture's: $(diff "$build/src/cli/builtin_catalogue.cc" "$fixture_src" | head -5)"
run "$FIXTURE" keys known
expect_rc 0 "known"
grep -q '^alice@fixture  SHA256:' <<<"$OUT" || fail "known lacks alice@fixture: $OUT"
grep -q '^repair@shop1  SHA256:' <<<"$OUT" || fail "known lacks repair@shop1: $OUT"
run "$FIXTURE" keys known --revoked
grep -q '^lost@fixture  SHA256:' <<<"$OUT" || fail "known --revoked lacks lost@fixture: $OUT"
run "$FIXTURE" keys known --full
grep -qF 'repair@shop1  restrict,pty,command="/usr/share/fleet/fleet-config.sh" ssh-ed25519 ' <<<"$OUT" ||
  fail "known --full lacks the restricted line: $OUT"
pass
