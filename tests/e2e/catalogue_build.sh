#!/usr/bin/env bash
# A catalogue compiled into porthole (-DPORTHOLE_CATALOGUE) is checked at
# build time: a known key that is also revoked fails the build, naming both
# IDs; a good catalogue builds and `porthole keys known` lists its IDs.
. "$(dirname "$0")/lib.sh"
require_cmd cmake ninja

src=$(cd "$(dirname "$0")/../.." && pwd)
build="$WORK/build"
# porthole links most of core (TLS, TUF, libssh): a fresh build of it takes
# minutes on two busy cores. With ccache (scripts/test builds with it) and
# the default build's flags, the objects come from the cache; the build
# directory differs, so it must not be part of the hash.
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_NOHASHDIR=1
configure() {
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    ${launcher[@]+"${launcher[@]}"} \
    -DPORTHOLE_TESTS=OFF -DPORTHOLE_BENCH=OFF -DPORTHOLE_CATALOGUE="$1" \
    >"$WORK/configure.log" 2>&1 || fatal "configure failed: $(tail -3 "$WORK/configure.log")"
}

trace "bad catalogue: the build must fail"
configure "$src/tests/catalogue/bad.toml"
if cmake --build "$build" --target porthole >"$WORK/bad.log" 2>&1; then
  fail "a catalogue with a known key that is also revoked built"
fi
grep -q "known key 'alice@fixture' is also revoked (as 'alice-old')" "$WORK/bad.log" ||
  fail "the build failure does not name the key: $(grep -m1 catalogue "$WORK/bad.log")"
[ ! -e "$build/src/cli/porthole" ] || fail "porthole was linked anyway"

trace "good catalogue: builds, and known lists it"
configure "$src/tests/catalogue/good.toml"
cmake --build "$build" --target porthole >"$WORK/good.log" 2>&1 ||
  fatal "good catalogue did not build: $(tail -5 "$WORK/good.log")"
run "$build/src/cli/porthole" keys known
expect_rc 0 "known"
grep -q '^alice@fixture  SHA256:' <<<"$OUT" || fail "known lacks alice@fixture: $OUT"
grep -q '^repair@shop1  SHA256:' <<<"$OUT" || fail "known lacks repair@shop1: $OUT"
run "$build/src/cli/porthole" keys known --revoked
grep -q '^lost@fixture  SHA256:' <<<"$OUT" || fail "known --revoked lacks lost@fixture: $OUT"
run "$build/src/cli/porthole" keys known --full
grep -qF 'repair@shop1  restrict,pty,command="/usr/share/fleet/fleet-config.sh" ssh-ed25519 ' <<<"$OUT" ||
  fail "known --full lacks the restricted line: $OUT"
pass
