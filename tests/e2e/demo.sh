#!/usr/bin/env bash
# demo: the README's first command, scripts/demo, with the build skipped
# (scripts/demo --no-build --build-dir BUILD --free-ports): the real
# porthole-server, porthole-agent (spawned sshd) and porthole on loopback,
# end to end. Asserts that it exits 0 having run `uname -a; id` on the
# device through the relay as the demo's login user, seen the tunnel drop
# after the session was closed, and printed the by-hand commands; and that
# it left nothing behind: no process, no work dir, no user.
# Needs PORTHOLE_BIN, PORTHOLE_AGENT_BIN, PORTHOLE_SERVER_BIN from one build.
source "$(dirname "$0")/lib.sh"
require_porthole
require_agent
_require_exe PORTHOLE_SERVER_BIN "porthole-server binary, e.g. build/src/server/porthole-server"
build=$(cd "$(dirname "$PORTHOLE")/../.." && pwd)
[ "$(readlink -f "$PORTHOLE_SERVER_BIN")" = "$build/src/server/porthole-server" ] ||
  fatal "PORTHOLE_SERVER_BIN is not in the build dir of PORTHOLE_BIN ($build)"
[ "$PORTHOLE_AGENT" = "$build/src/agent/porthole-agent" ] ||
  fatal "PORTHOLE_AGENT_BIN is not in the build dir of PORTHOLE_BIN ($build)"
top=$(cd "$(dirname "$0")/../.." && pwd)

t0=$(date +%s)
RC=0
timeout 110 "$top/scripts/demo" --no-build --build-dir "$build" --free-ports \
  </dev/null >"$WORK/demo.out" 2>&1 || RC=$?
secs=$(($(date +%s) - t0))
trace "scripts/demo exit $RC after ${secs}s"
((RC == 0)) || fail "scripts/demo exit $RC: $(tail -15 "$WORK/demo.out")"
out=$WORK/demo.out
demo_work=$(sed -n 's/^demo: work dir //p' "$out")
[ -n "$demo_work" ] || fail "the demo did not name its work dir"

grep -qE '^\$ porthole connect demo[0-9a-f]+@dev1 -- .uname -a; id.$' "$out" ||
  fail "no porthole connect line: $(grep -n connect "$out" | head -3)"
user=$(grep -oE '^   uid=[0-9]+\(demo[0-9a-f]+\)' "$out" | sed 's/.*(\(.*\))/\1/')
[ -n "$user" ] || fail "id did not run as the demo user on the device"
grep -qE "^   Linux .* $(uname -m) " "$out" || fail "no uname -a output"
grep -qE '^   agent log: .*session: ended' "$out" || fail "the tunnel was not seen to drop"
grep -qE '^   [0-9]+ +[0-9T:Z-]+ +tunnel\.down ' "$out" || fail "no tunnel.down in the audit shown"
grep -q '^By hand' "$out" || fail "no by-hand commands at the end"
grep -q '^  porthole connect USER@dev1' "$out" || fail "the by-hand commands lack porthole connect"

# Nothing left behind.
[ -z "$demo_work" ] || [ ! -e "$demo_work" ] || fail "the demo left its work dir $demo_work"
if [ -n "$demo_work" ] && pgrep -f "$demo_work" >/dev/null; then
  fail "processes left behind: $(pgrep -af "$demo_work")"
fi
# (Only the demo's own user: other scenarios may add users meanwhile.)
if [ -n "$user" ] && getent passwd "$user" >/dev/null; then
  fail "the demo left its login user $user"
fi
pass
