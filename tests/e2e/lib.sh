# shellcheck shell=bash
# Shared driver for the end-to-end scenarios in this directory: sourced by each
# tests/e2e/<name>.sh, which then runs alone:
#
#   PORTHOLE_BIN=build/src/cli/porthole \
#   PORTHOLE_SOFT_SK=build/tests/sk-provider/libporthole_soft_sk.so \
#     bash tests/e2e/keys_login.sh
#
# Runs as root: it creates users, starts a root sshd on 127.0.0.1 and mounts
# file systems. Everything a scenario creates (work dir, users, sshd processes,
# mounts) is undone by an EXIT trap, also on failure or interrupt.
#
# Conventions (after openssh regress/test-exec.sh):
#   fail MSG      record a failure and carry on (the scenario exits 1 at the end)
#   fatal MSG     record a failure and stop now
#   pass          last line of every scenario: exit 0 iff nothing failed
#   trace MSG     progress line on stderr
#   expect_*      check one thing; on mismatch they call fail (and return 0,
#                 so set -e does not stop the scenario)
# Environment:
#   PORTHOLE_BIN       the porthole binary (required by scenarios that use it)
#   PORTHOLE_SOFT_SK   the software security-key provider .so (keys_sk.sh)
#   PORTHOLE_AGENT_BIN the porthole-agent binary (agent_*.sh, see agent_lib.sh)
#   PORTHOLE_TEST_TUF  the porthole-test-tuf metadata forger (agent_*.sh)
#   PORTHOLE_E2E_KEEP  =1 keeps the work dir (users, processes are still removed)

set -Eeuo pipefail
umask 022
unset SSH_AUTH_SOCK SSH_AGENT_PID
export LC_ALL=C TZ=UTC

E2E_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
SSHD=/usr/sbin/sshd
FAILED=0
_cleanups=()

trace() { printf '%s: %s\n' "$E2E_NAME" "$*" >&2; }
fail() {
  printf '%s: FAIL: %s\n' "$E2E_NAME" "$*" >&2
  FAILED=1
  return 0
}
fatal() {
  printf '%s: FATAL: %s\n' "$E2E_NAME" "$*" >&2
  FAILED=1
  exit 1
}
pass() {
  if ((FAILED)); then
    printf '%s: FAILED\n' "$E2E_NAME" >&2
    exit 1
  fi
  printf '%s: PASS\n' "$E2E_NAME" >&2
  exit 0
}

# at_exit CMD ARGS...: run CMD at exit; the last registered runs first.
at_exit() {
  local q
  printf -v q '%q ' "$@"
  _cleanups+=("$q")
}

_run_cleanups() {
  local rc=$? i
  set +eE
  trap - ERR
  for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
    eval "${_cleanups[i]}"
  done
  if ((rc == 0 && FAILED)); then rc=1; fi
  exit "$rc"
}
trap _run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
# An unexpected command failure (set -e) says where it happened.
trap 'printf "%s: FATAL: line %s: command failed (exit %s): %s\n" \
  "$E2E_NAME" "$LINENO" "$?" "$BASH_COMMAND" >&2; FAILED=1' ERR

# ---- prerequisites: a missing one is a failure that names it ----

require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 ||
      fatal "prerequisite missing: '$c' is not installed (scripts/setup installs it)"
  done
}

[ "$(id -u)" -eq 0 ] || fatal "must run as root (creates users, runs a root sshd, mounts)"
[ -x "$SSHD" ] || fatal "prerequisite missing: $SSHD (package openssh-server; scripts/setup)"
require_cmd ssh ssh-keygen unshare mount umount useradd usermod userdel \
  python3 timeout tail stat sha256sum mktemp od

# require_porthole: PORTHOLE is the absolute path of a working porthole binary.
require_porthole() {
  [ -n "${PORTHOLE_BIN:-}" ] ||
    fatal "PORTHOLE_BIN is not set (path of the porthole binary, e.g. build/src/cli/porthole)"
  [ -x "$PORTHOLE_BIN" ] || fatal "PORTHOLE_BIN=$PORTHOLE_BIN is not an executable file"
  PORTHOLE=$(readlink -f "$PORTHOLE_BIN")
}

# require_soft_sk: SOFT_SK is the absolute path of the test FIDO provider.
require_soft_sk() {
  [ -n "${PORTHOLE_SOFT_SK:-}" ] ||
    fatal "PORTHOLE_SOFT_SK is not set (path of libporthole_soft_sk.so from tests/sk-provider)"
  [ -f "$PORTHOLE_SOFT_SK" ] || fatal "PORTHOLE_SOFT_SK=$PORTHOLE_SOFT_SK does not exist"
  SOFT_SK=$(readlink -f "$PORTHOLE_SOFT_SK")
}
# require_agent: PORTHOLE_AGENT is the absolute path of porthole-agent.
require_agent() {
  _require_exe PORTHOLE_AGENT_BIN "porthole-agent binary, e.g. build/src/agent/porthole-agent"
  PORTHOLE_AGENT=$(readlink -f "$PORTHOLE_AGENT_BIN")
}

# require_test_tuf: TEST_TUF is the absolute path of porthole-test-tuf.
require_test_tuf() {
  _require_exe PORTHOLE_TEST_TUF "porthole-test-tuf binary, e.g. build/tests/tools/porthole-test-tuf"
  TEST_TUF=$(readlink -f "$PORTHOLE_TEST_TUF")
}

# _require_exe VAR WHAT: the environment variable VAR names an executable.
_require_exe() {
  [ -n "${!1:-}" ] || fatal "$1 is not set (path of the $2)"
  [ -x "${!1}" ] || fatal "$1=${!1} is not an executable file"
}
PORTHOLE=${PORTHOLE_BIN:-}
SOFT_SK=${PORTHOLE_SOFT_SK:-}
PORTHOLE_AGENT=${PORTHOLE_AGENT_BIN:-}
TEST_TUF=${PORTHOLE_TEST_TUF:-}

# ---- waiting: ports, marks, logs ----

# free_port: a TCP port on 127.0.0.1 that was free a moment ago and that no
# earlier call in this run handed out (the kernel may offer a port again as
# soon as it is released, and a test takes several before binding any).
# Always in the ephemeral range; start_sshd picks below it.
free_port() {
  local port
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if ! grep -qx "$port" "$WORK/ports-handed-out" 2>/dev/null; then
      echo "$port" >>"$WORK/ports-handed-out"
      echo "$port"
      return 0
    fi
  done
  fatal "free_port: the kernel offered only ports already handed out"
}

# file_size FILE: its size in bytes (0 when missing): a mark for log waits.
file_size() { if [ -e "$1" ]; then stat -c %s "$1"; else echo 0; fi; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# kill_quiet PID: SIGTERM to PID if it still runs (for at_exit).
kill_quiet() { kill "$1" 2>/dev/null || true; }

# wait_for SECONDS CMD...: runs CMD until it succeeds (every 0.1 s, in this
# shell, so a pgrep pattern never matches the waiter itself); 1 after
# SECONDS. Only for states nothing announces.
wait_for() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < end)) || return 1
    sleep 0.1
  done
}

# log_follow FILE SECS FROM PID PREDICATE...: follows FILE from byte FROM
# (it may not exist yet) with tail -F, no polling, until PREDICATE LINE
# succeeds for a line; prints that line. 1 after SECS, or as soon as
# process PID (if not empty) has exited with no match.
log_follow() {
  local file=$1 secs=$2 from=$3 pid=$4 fd tailpid line pid_opt=()
  shift 4
  [ -n "$pid" ] && pid_opt=(--pid="$pid")
  exec {fd}< <(exec timeout "$secs" tail -c +"$((from + 1))" -F "${pid_opt[@]}" \
    "$file" 2>/dev/null)
  tailpid=$!
  while IFS= read -r -u "$fd" line; do
    if "$@" "$line"; then
      kill "$tailpid" 2>/dev/null || true
      exec {fd}<&-
      printf '%s\n' "$line"
      return 0
    fi
  done
  kill "$tailpid" 2>/dev/null || true
  exec {fd}<&-
  return 1
}

# log_wait FILE REGEX SECS [FROM] [PID]: a line of FILE from byte FROM
# matches the ERE REGEX within SECS (log_follow). Prints the line.
_line_matches() { [[ $2 =~ $1 ]]; }
log_wait() { log_follow "$1" "$3" "${4:-0}" "${5:-}" _line_matches "$2"; }

# ---- the work dir ----
# Not under /tmp: sshd's StrictModes rejects a path with a group/world-
# writable ancestor, and /tmp is 1777. Not under /run either: the sshd
# wrapper below hides /run. 0755 so the login users' sshd can read tiers.

WORK=$(mktemp -d /var/lib/porthole-e2e.XXXXXX)
chmod 755 "$WORK"
_remove_work() {
  if [ "${PORTHOLE_E2E_KEEP:-}" = 1 ]; then
    trace "kept work dir $WORK"
  else
    rm -rf "$WORK"
  fi
}
at_exit _remove_work
mkdir -m 700 "$WORK/keys"
# A short random tag for names that must not collide (users, key comments).
UNIQ=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
trace "work dir $WORK"

# ---- running commands ----

# run CMD ARGS...: runs an executable (60 s limit) without tripping set -e;
# sets RC, OUT (stdout) and ERR (stderr).
run() {
  RC=0
  timeout 60 "$@" </dev/null >"$WORK/.out" 2>"$WORK/.err" || RC=$?
  OUT=$(cat "$WORK/.out")
  ERR=$(cat "$WORK/.err")
}

# expect_rc WANT WHAT: the last run exited WANT. WANT may be "1|2".
expect_rc() {
  local want=$1 what=$2
  if [[ "|$want|" != *"|$RC|"* ]]; then
    fail "$what: exit $RC, want $want; stdout: ${OUT:0:400}; stderr: ${ERR:0:600}"
  fi
}

# expect_one_line_stderr WHAT: the last run wrote exactly one non-empty line
# to stderr.
expect_one_line_stderr() {
  local n
  n=$(printf '%s' "$ERR" | grep -c '' || true)
  if [ "$n" -ne 1 ] || [ -z "$ERR" ]; then
    fail "$1: stderr has $n lines, want exactly 1: $(printf '%q' "$ERR")"
  fi
}

# tree_state PATH...: a listing of names, modes, owners and contents, to
# compare before/after an operation that must change nothing.
tree_state() {
  local p
  for p in "$@"; do
    [ -e "$p" ] || { echo "absent $p"; continue; }
    find "$p" -printf '%p %y %m %U %G %s\n' | sort
    find "$p" -type f -print0 | sort -z | xargs -0 -r sha256sum
  done
}

# ---- keys ----

# new_key NAME [TYPE]: generates $WORK/keys/NAME (+ .pub), comment NAME@e2e.
new_key() {
  local name=$1 type=${2:-ed25519}
  ssh-keygen -q -t "$type" -N '' -C "$name@e2e" -f "$WORK/keys/$name" </dev/null ||
    fatal "ssh-keygen -t $type failed for $name"
}
key_path() { echo "$WORK/keys/$1"; }
pub_path() { echo "$WORK/keys/$1.pub"; }
pub_line() { cat "$WORK/keys/$1.pub"; }
# key_blob NAME: the base64 key material, unique to the key.
key_blob() { awk '{print $2}' "$WORK/keys/$1.pub"; }
# fingerprint NAME: SHA256:… as ssh-keygen prints it.
fingerprint() { ssh-keygen -lf "$WORK/keys/$1.pub" | awk '{print $2}'; }

# count_key FILE NAME: how many lines of FILE hold key NAME (0 if no file).
count_key() {
  [ -f "$1" ] || { echo 0; return; }
  grep -cF -- "$(key_blob "$2")" "$1" || true
}

# expect_key_count FILE NAME N WHAT
expect_key_count() {
  local n
  n=$(count_key "$1" "$2")
  if [ "$n" != "$3" ]; then
    fail "$4: $1 holds key $2 $n times, want $3; file: $(head -20 "$1" 2>/dev/null)"
  fi
}

# ---- porthole configuration ----

# write_keys_conf FILE LOGIN_USER TIER_DIR CATALOGUE [CUSTOMER]: a [keys]
# section with every path under TIER_DIR (created 0755 root).
write_keys_conf() {
  local file=$1 user=$2 dir=$3 cat=$4 customer=${5:-"~/.ssh/authorized_keys"}
  mkdir -p "$dir"
  chmod 755 "$dir"
  cat >"$file" <<EOF
[keys]
login_user = "$user"
root = "$dir/root_authorized_keys"
fleet = "$dir/fleet_authorized_keys"
temporary = "$dir/tmp_authorized_keys"
customer = "$customer"
session = "$dir/session_authorized_keys"
krl = "$dir/revoked_keys.krl"
catalogue = "$cat"
EOF
}

# ---- users ----

# make_user NAME: a fresh account that sshd will let in with a key (password
# '*': not locked, no password). Removed with its home at exit.
make_user() {
  local name=$1
  if getent passwd "$name" >/dev/null; then
    fatal "user $name already exists; refusing to touch it"
  fi
  useradd -m -s /bin/sh "$name" || fatal "useradd $name failed"
  at_exit _remove_user "$name"
  usermod -p '*' "$name" || fatal "usermod -p '*' $name failed"
}
_user_idle() { ! pgrep -u "$1" >/dev/null; }
_remove_user() {
  # userdel refuses while a process runs as the user (a login through a
  # session that is still being torn down); this user is the test's own.
  if pkill -KILL -u "$1" 2>/dev/null; then
    wait_for 5 _user_idle "$1" || true
  fi
  if ! userdel -r "$1" 2>/dev/null && getent passwd "$1" >/dev/null; then
    trace "warning: could not remove user $1"
  fi
  return 0
}

# ---- sshd ----

declare -gA SSHD_PORT=() SSHD_LOG=() SSHD_PID=() SSHD_DIR=()
PORT="" SSHD_LOG_CUR=""

# _follow FILE OFFSET SECONDS PATTERN...: follows FILE from byte OFFSET until
# a line contains one of the fixed-string PATTERNs, or SECONDS pass, or (if
# FOLLOW_PID is set) that process exits. Prints the 1-based index of the
# pattern matched and the line, or "0" when none matched.
_follow() {
  local file=$1 offset=$2 secs=$3 fd tailpid line i pid_opt=()
  shift 3
  [ -n "${FOLLOW_PID:-}" ] && pid_opt=(--pid="$FOLLOW_PID")
  exec {fd}< <(exec timeout "$secs" tail -c +"$((offset + 1))" -F "${pid_opt[@]}" \
    "$file" 2>/dev/null)
  tailpid=$!
  while IFS= read -r -u "$fd" line; do
    for ((i = 1; i <= $#; i++)); do
      if [[ "$line" == *"${!i}"* ]]; then
        kill "$tailpid" 2>/dev/null || true
        exec {fd}<&-
        printf '%s %s\n' "$i" "$line"
        return 0
      fi
    done
  done
  kill "$tailpid" 2>/dev/null || true
  exec {fd}<&-
  echo 0
}

# start_sshd NAME DROPIN [LINE...]: a root sshd on a free 127.0.0.1 port that
# Includes DROPIN last. LINEs come first, so they win over the defaults
# (sshd takes the first value of a keyword), e.g. "LogLevel DEBUG1". No Match
# blocks in LINEs; put those in DROPIN. Sets PORT and SSHD_LOG_CUR to this
# server's, and SSHD_PORT[NAME], SSHD_LOG[NAME].
# SSHD_NS_SETUP, if set, is a shell command run inside sshd's private mount
# namespace before sshd starts (e.g. hide a directory from a "remote" host).
start_sshd() {
  local name=$1 dropin=$2 dir cfg log pid port res
  shift 2
  dir=$WORK/sshd-$name
  [ -z "${SSHD_PID[$name]:-}" ] || fatal "sshd $name already started"
  [ -f "$dropin" ] || fatal "start_sshd $name: drop-in $dropin does not exist"
  mkdir -m 755 "$dir"
  ssh-keygen -q -t ed25519 -N '' -C "e2e-host-$name" -f "$dir/host_ed25519" </dev/null
  cfg=$dir/sshd_config
  log=$dir/sshd.log
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    # Below the ephemeral range (32768 on Linux), where free_port's ports
    # and outgoing connections live; and, whatever the range, not one
    # free_port handed out and its user has not bound yet.
    port=$((20000 + RANDOM % 12000))
    ! grep -qx "$port" "$WORK/ports-handed-out" 2>/dev/null || continue
    {
      printf '%s\n' "$@"
      cat <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
PidFile none
UsePAM no
StrictModes yes
LogLevel VERBOSE
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PrintMotd no
PrintLastLog no
X11Forwarding no
LoginGraceTime 30
Include $dropin
EOF
    } >"$cfg"
    : >"$log"
    # A private mount namespace with an empty /run: root sshd needs
    # /run/sshd, and the host's /run stays untouched. unshare and sh exec,
    # so $! is sshd itself.
    SSHD_NS_SETUP=${SSHD_NS_SETUP:-} unshare -m --propagation private sh -c \
      'mount -t tmpfs -o mode=755 none /run && mkdir /run/sshd &&
       eval "${SSHD_NS_SETUP:-:}" && exec "$@"' \
      sh "$SSHD" -D -E "$log" -f "$cfg" </dev/null >"$dir/stderr" 2>&1 &
    pid=$!
    res=$(FOLLOW_PID=$pid _follow "$log" 0 20 \
      "Server listening on 127.0.0.1 port $port" \
      "Bind to port $port on 127.0.0.1 failed" "Cannot bind any address")
    case $res in
      1\ *)
        SSHD_PID[$name]=$pid
        SSHD_PORT[$name]=$port
        echo "$port" >>"$WORK/ports-handed-out"
        SSHD_LOG[$name]=$log
        SSHD_DIR[$name]=$dir
        at_exit stop_sshd "$name"
        echo "[127.0.0.1]:$port $(cat "$dir/host_ed25519.pub")" >>"$WORK/known_hosts"
        use_sshd "$name"
        trace "sshd $name listening on 127.0.0.1:$port (pid $pid)"
        return 0
        ;;
      2\ * | 3\ *)
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        trace "sshd $name: port $port busy, retrying"
        ;;
      *)
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        fatal "sshd $name did not start; log: $(tail -20 "$log"); stderr: $(cat "$dir/stderr")"
        ;;
    esac
  done
  fatal "sshd $name: no free port after 10 attempts"
}

use_sshd() {
  PORT=${SSHD_PORT[$1]}
  SSHD_LOG_CUR=${SSHD_LOG[$1]}
}

# _descendants PID: every process below PID (children first-level last).
_descendants() {
  local p
  # ps exits 1 when there are none; that is no error (nor an ERR trap).
  for p in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
    _descendants "$p"
    echo "$p"
  done
}

# stop_sshd NAME: stops the listener and every session process it forked.
stop_sshd() {
  local name=$1 pid p procs
  pid=${SSHD_PID[$name]:-}
  [ -n "$pid" ] || return 0
  mapfile -t procs < <(_descendants "$pid")
  kill "$pid" ${procs[@]+"${procs[@]}"} 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in ${procs[@]+"${procs[@]}"}; do
    timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  done
  SSHD_PID[$name]=
}

# log_mark: the current end of the current sshd's log; pass it to expect_log.
log_mark() { stat -c %s "$SSHD_LOG_CUR"; }

# expect_log MARK TEXT WHAT: the sshd log, after MARK, gets a line holding
# TEXT (fixed string) within 10 s.
expect_log() {
  local mark=$1 text=$2 what=$3 res
  res=$(_follow "$SSHD_LOG_CUR" "$mark" 10 "$text")
  if [ "${res%% *}" != 1 ]; then
    fail "$what: sshd log has no '$text'; log since mark: $(tail -c +"$((mark + 1))" "$SSHD_LOG_CUR" | tail -15)"
  fi
}

# expect_no_log MARK TEXT WHAT: nothing logged after MARK holds TEXT.
expect_no_log() {
  if tail -c +"$(($1 + 1))" "$SSHD_LOG_CUR" | grep -qF -- "$2"; then
    fail "$3: sshd log unexpectedly has '$2'"
  fi
}

# ---- the ssh client ----

# Extra options for ssh_as, e.g. SSH_OPTS=(-o SecurityKeyProvider=...).
SSH_OPTS=()

# ssh_as USER KEY [CMD...]: the real ssh client, touching nothing outside the
# work dir, to the current sshd. Returns ssh's exit status.
ssh_as() {
  local user=$1 key=$2
  shift 2
  timeout 60 ssh -F /dev/null \
    -o UserKnownHostsFile="$WORK/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=accept-new -o IdentitiesOnly=yes -o BatchMode=yes \
    -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
    -o ConnectTimeout=10 ${SSH_OPTS[@]+"${SSH_OPTS[@]}"} \
    -p "$PORT" -i "$key" "$user@127.0.0.1" "$@" </dev/null
}

# expect_login USER KEYNAME WHAT: the key logs in and runs a command.
expect_login() {
  local user=$1 key=$2 what=$3 marker="login-ok-$RANDOM$RANDOM" out rc=0
  out=$(ssh_as "$user" "$(key_path "$key")" echo "$marker" 2>"$WORK/.ssh.err") || rc=$?
  if [ "$rc" -ne 0 ] || [ "$out" != "$marker" ]; then
    fail "$what: login as $user with key $key failed (ssh exit $rc, output '$out'): $(tail -3 "$WORK/.ssh.err"); sshd log: $(tail -8 "$SSHD_LOG_CUR")"
  fi
}

# expect_refused USER KEYNAME WHAT: sshd refuses the key (ssh exits 255
# with "Permission denied") and no command runs.
expect_refused() {
  local user=$1 key=$2 what=$3 marker="login-ok-$RANDOM$RANDOM" out rc=0
  out=$(ssh_as "$user" "$(key_path "$key")" echo "$marker" 2>"$WORK/.ssh.err") || rc=$?
  if [ "$rc" -ne 255 ] || [[ "$out" == *"$marker"* ]] ||
    ! grep -q 'Permission denied' "$WORK/.ssh.err"; then
    fail "$what: login as $user with key $key was not refused (ssh exit $rc, output '$out'): $(tail -3 "$WORK/.ssh.err")"
  fi
}

# ---- JSON ----

# json_check JSON PYTHON WHAT: runs PYTHON with `d` bound to the parsed JSON;
# it must print nothing and exit 0 (use `assert cond, msg`).
json_check() {
  local json=$1 code=$2 what=$3 msg
  if ! msg=$(printf '%s' "$json" | python3 -c '
import json, sys, datetime
d = json.load(sys.stdin)
def utc(s):
    """ISO 8601 UTC string -> aware datetime; asserts it is UTC."""
    t = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    assert t.utcoffset() == datetime.timedelta(0), "not UTC: " + s
    return t
def by_fp(fp):
    m = [e for e in d if e.get("fingerprint") == fp]
    assert m, "no entry with fingerprint " + fp
    return m
'"$code" 2>&1); then
    fail "$what: ${msg##*$'\n'}; json: ${json:0:1500}"
  fi
}
