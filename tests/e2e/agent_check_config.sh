#!/usr/bin/env bash
# porthole-agent --check-config on RAC's own example files (PROTOCOL.md 2):
# client.toml loads unchanged (exit 0) and its printed form reads back the
# same; client-aktualizr.toml and other broken configs fail with exit 2 and
# exactly one line on stderr naming the file, line and key. Needs no root.
#
#   PORTHOLE_AGENT_BIN=build/src/agent/porthole-agent bash tests/e2e/agent_check_config.sh
#
# Without PORTHOLE_AGENT_BIN the agent is looked for beside PORTHOLE_BIN's
# build directory (build/src/cli/porthole -> build/src/agent/porthole-agent).
set -Eeuo pipefail
export LC_ALL=C

NAME=agent_check_config
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=$(cd "$HERE/../../../shared/testdata/rac" && pwd)
AGENT=${PORTHOLE_AGENT_BIN:-}
if [[ -z $AGENT && -n ${PORTHOLE_BIN:-} ]]; then
  AGENT=$(dirname "$PORTHOLE_BIN")/../agent/porthole-agent
fi
[[ -x $AGENT ]] || { echo "$NAME: FATAL: no porthole-agent (set PORTHOLE_AGENT_BIN)" >&2; exit 1; }

FAILED=0
fail() { printf '%s: FAIL: %s\n' "$NAME" "$*" >&2; FAILED=1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Only this test's environment reaches the agent.
unset CONFIG_FILE DEBUG_CONFIG
while read -r var; do unset "$var"; done < <(env | sed -n 's/^\(RAC__[^=]*\|PORTHOLE__[^=]*\)=.*/\1/Ip')

# run WANT_CODE ARGS...: runs the agent in $WORK, output in $WORK/out, err.
run() {
  local want=$1 code=0
  shift
  (cd "$WORK" && "$AGENT" "$@") >"$WORK/out" 2>"$WORK/err" || code=$?
  [[ $code == "$want" ]] || fail "$* -> exit $code, want $want: $(cat "$WORK/err")"
}
# one_line TEXT: stderr is exactly that one line.
one_line() {
  [[ $(wc -l <"$WORK/err") == 1 && $(cat "$WORK/err") == "$1" ]] ||
    fail "stderr is not the one line '$1':"$'\n'"$(cat "$WORK/err")"
}

# RAC's client.toml loads unchanged, and what it prints reads back the same.
run 0 --check-config --config "$DATA/client.toml"
grep -qx 'poll_timeout = { secs = 4, nanos = 0 }  # 4s' "$WORK/out" || fail "poll_timeout not printed"
grep -qx '\[device.session.embedded\]' "$WORK/out" || fail "session not printed"
[[ ! -s $WORK/err ]] || fail "stderr not empty: $(cat "$WORK/err")"
cp "$WORK/out" "$WORK/printed.toml"
run 0 check-config --config "$WORK/printed.toml"
settings() { sed -e 's/  #.*//' -e '/^#/d' "$1"; }  # comments say where from
diff <(settings "$WORK/printed.toml") <(settings "$WORK/out") >&2 ||
  fail "the printed config does not read back the same"

# RAC's client-aktualizr.toml: one line, exit 2.
run 2 --check-config --config "$DATA/client-aktualizr.toml"
one_line "porthole-agent: $DATA/client-aktualizr.toml:9: key 'device.target_host_port': unknown key (RAC's older format: write host_port under [device.session.target_host])"
[[ ! -s $WORK/out ]] || fail "stdout not empty on error"

# CONFIG_FILE, with RAC's config-crate fallback to FILE.toml.
cp "$DATA/client.toml" "$WORK/rac.toml"
CONFIG_FILE=$WORK/rac run 0 --check-config
grep -qx "# file: $WORK/rac.toml" "$WORK/out" || fail "CONFIG_FILE=$WORK/rac did not read rac.toml"
CONFIG_FILE=$WORK/none run 2 --check-config
one_line "porthole-agent: CONFIG_FILE: $WORK/none does not exist (nor $WORK/none.toml)"
# ./client.toml as the last resort (when /etc has none).
if [[ ! -e /etc/porthole/agent.toml && ! -e /etc/rac/client.toml ]]; then
  run 2 --check-config
  one_line "porthole-agent: no configuration file: CONFIG_FILE is not set and there is no /etc/porthole/agent.toml, /etc/rac/client.toml and $WORK/client.toml (--config FILE names one)"
  cp "$DATA/client.toml" "$WORK/client.toml"
  run 0 --check-config
  grep -qx "# file: $WORK/client.toml" "$WORK/out" || fail "./client.toml not used"
fi

# The environment overrides key by key, is marked, and can break it.
RAC__DEVICE__POLL_TIMEOUT__SECS=9 run 0 --check-config --config "$DATA/client.toml"
grep -qx 'poll_timeout = { secs = 9, nanos = 0 }  # 9s; from RAC__DEVICE__POLL_TIMEOUT__SECS' "$WORK/out" ||
  fail "RAC__DEVICE__POLL_TIMEOUT__SECS not applied or not marked"
RAC__DEVICE__SESSION__TARGET_HOST__HOST_PORT=127.0.0.1:22 run 2 --check-config --config "$DATA/client.toml"
one_line "porthole-agent: environment variable RAC__DEVICE__SESSION__TARGET_HOST__HOST_PORT: key 'device.session.target_host': a second session mode (embedded is set at $DATA/client.toml:18); keep exactly one of [device.session.spawned_sshd], [device.session.embedded] or [device.session.target_host]"
RAC__TORIZON__URLL=x run 2 --check-config --config "$DATA/client.toml"
one_line "porthole-agent: environment variable RAC__TORIZON__URLL: key 'torizon.urll': unknown key"

# A bad value names file, line and key.
sed 's/^poll_timeout = .*/poll_timeout = 4/' "$DATA/client.toml" >"$WORK/bad.toml"
run 2 --check-config --config "$WORK/bad.toml"
one_line "porthole-agent: $WORK/bad.toml:11: key 'device.poll_timeout': a bare integer is not a duration; write { secs = N, nanos = 0 } or a string such as \"30s\""

# --version, --help, the daemon without a config, usage errors.
run 0 --version
grep -Eqx 'porthole-agent/[0-9]+\.[0-9]+\.[0-9]+ \(([0-9a-f]{7,}|unknown); [0-9]{4}-[0-9]{2}-[0-9]{2}; [a-z]+-[0-9.]+-[A-Za-z0-9_.-]+\)' "$WORK/out" ||
  fail "--version: $(cat "$WORK/out")"
run 0 --help
grep -q 'check-config' "$WORK/out" || fail "--help does not list check-config"
# The daemon finds ./client.toml (RAC's search order), names the missing
# certificate and exits 1 before creating any key file.
unset CONFIG_FILE
run 1
grep -q "error cannot start: $WORK/device-files/dev/root.crt: No such file or directory" "$WORK/err" ||
  fail "daemon with RAC's client.toml: $(cat "$WORK/err")"
[ ! -e "$WORK/device-key-01.sec" ] || fail "the daemon created a device key although it could not start"
# With no configuration anywhere: one line naming every place.
mv "$WORK/client.toml" "$WORK/client.toml.away"
run 2
one_line "porthole-agent: no configuration file: CONFIG_FILE is not set and there is no /etc/porthole/agent.toml, /etc/rac/client.toml and $WORK/client.toml (--config FILE names one)"
mv "$WORK/client.toml.away" "$WORK/client.toml"
run 2 --bogus
run 2 --check-config --config

if ((FAILED)); then
  echo "$NAME: FAILED" >&2
  exit 1
fi
echo "$NAME: PASS" >&2
