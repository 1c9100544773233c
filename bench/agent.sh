#!/usr/bin/env bash
# Agent benchmarks (not tests): porthole-agent beside OpenSSH doing the
# comparable job, in the same run. Called by bench/run; runs alone too:
#
#   sudo bench/agent.sh
#   AGENT_IDLE_SECS=10 AGENT_BULK_MIB=64 bench/agent.sh      # quick look
#
# 1. Idle, no session: porthole-agent polling the fake RAS every 3 s (RAC's
#    default poll_timeout; GET sessions answers 404) against a plain
#    `ssh -N` client holding an idle connection to the relay. After a
#    warm-up, both are watched over the same window: peak RSS (VmHWM, reset
#    through /proc/PID/clear_refs when the window opens), last RSS, CPU
#    (utime+stime from /proc/PID/stat) and wakeups (voluntary context
#    switches, summed over the process's threads).
# 2. Bulk transfer through the tunnel: an operator's ssh moves N MiB through
#    the relay to the device and back, once with porthole-agent in
#    spawned_sshd mode (relay -> agent tunnel -> `sshd -i`), once with
#    OpenSSH's own `ssh -N -R` as the device side (relay -> ssh -R -> a
#    listening sshd). Default ciphers everywhere; runs interleaved; median.
#    Also the CPU time the tunnel process itself (agent, or ssh -R) spent
#    per GiB moved.
#
# Environment:
#   PORTHOLE_BIN        build/src/cli/porthole (lib.sh wants it set)
#   PORTHOLE_AGENT_BIN  build/src/agent/porthole-agent
#   PORTHOLE_TEST_TUF   build/tests/tools/porthole-test-tuf
#   AGENT_IDLE_SECS     idle window, seconds (60)
#   AGENT_IDLE_WARMUP   warm-up before the window, seconds (5)
#   AGENT_BULK_MIB      bytes per transfer, MiB (256)
#   AGENT_BULK_RUNS     transfers per direction and side (3)
#   BENCH_VERBOSE=1     the e2e harness's progress lines on stderr, and where
#                       the idle agent's RSS is (smaps, by mapping)
#
# Runs as root, like the e2e scenarios it borrows from (tests/e2e/lib.sh,
# agent_lib.sh): it creates users, runs root sshds on 127.0.0.1 and the
# agent in a private mount namespace. Everything (processes, users, work
# dir) is removed at exit, also on failure or interrupt.
# shellcheck disable=SC2317,SC2119 # wait_for calls functions; start_agent has no args
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "bench/agent.sh: must run as root (creates users, runs root sshds); try: sudo $0" >&2
  exit 1
fi
export PORTHOLE_BIN=${PORTHOLE_BIN:-$top/build/src/cli/porthole}
export PORTHOLE_AGENT_BIN=${PORTHOLE_AGENT_BIN:-$top/build/src/agent/porthole-agent}
export PORTHOLE_TEST_TUF=${PORTHOLE_TEST_TUF:-$top/build/tests/tools/porthole-test-tuf}
# The binaries are rebuilt now and then by others: wait a little for one
# that is momentarily missing.
for b in "$PORTHOLE_BIN" "$PORTHOLE_AGENT_BIN" "$PORTHOLE_TEST_TUF"; do
  for _ in $(seq 60); do [ -x "$b" ] && break; sleep 2; done
  [ -x "$b" ] || { echo "bench/agent.sh: $b missing: build first (scripts/setup)" >&2; exit 1; }
done

IDLE_SECS=${AGENT_IDLE_SECS:-60}
IDLE_WARMUP=${AGENT_IDLE_WARMUP:-5}
BULK_MIB=${AGENT_BULK_MIB:-256}
BULK_RUNS=${AGENT_BULK_RUNS:-3}
for v in IDLE_SECS IDLE_WARMUP BULK_MIB BULK_RUNS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] ||
    { echo "bench/agent.sh: AGENT_${v}=${!v}: want a positive integer" >&2; exit 1; }
done
BULK_BYTES=$((BULK_MIB * 1024 * 1024))

# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=tests/e2e/lib.sh
source "$top/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/agent_lib.sh
source "$top/tests/e2e/agent_lib.sh"
E2E_NAME=bench/agent
# The harness's progress lines only on request; failures always print.
trace() { [ "${BENCH_VERBOSE:-}" != 1 ] || printf '%s: %s\n' "$E2E_NAME" "$*" >&2; }
say() { printf '%s: %s\n' "$E2E_NAME" "$*" >&2; }
RESULTS=$WORK/results
: >"$RESULTS"
put() { printf '%s=%s\n' "$1" "$2" >>"$RESULTS"; }

# bg_stop PID: ends a process this script started (registered at_exit).
bg_stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# ---- the set-up shared by both figures ----

OP=op$UNIQ
make_user "$OP"
new_key alice   # the operator
new_key devssh  # OpenSSH's "device": ssh -N / ssh -R to the relay
start_ras
start_relay "$(pub_path devssh)"

# OpenSSH's device side: a listening sshd that lets the operator in.
install -m 644 "$(pub_path alice)" "$WORK/target_authorized_keys"
echo "# bench/agent.sh: everything is on the command line" >"$WORK/target.conf"
start_sshd target "$WORK/target.conf" "AuthorizedKeysFile $WORK/target_authorized_keys" \
  "AllowUsers $OP"
TARGET_PORT=${SSHD_PORT[target]}

# The agent: RAC's default poll intervals, its default log level (info),
# root, spawned_sshd, a private empty /run (it creates /run/sshd).
AGENT_POLL_SECS=3 AGENT_VALIDATION_SECS=3 write_agent_config spawned_sshd
# shellcheck disable=SC2034 # read by start_agent
AGENT_WRAP=(env -u PORTHOLE_LOG "${AGENT_PRIVATE_RUN[@]}")
start_agent
wait_request POST /ras/public-keys 30 >/dev/null || fatal "the agent did not register its key: $(tail -5 "$AGENT_LOG")"
wait_request GET /ras/sessions 30 >/dev/null || fatal "the agent does not poll: $(tail -5 "$AGENT_LOG")"
relay_authorize "$RAS_STATE/device-key.pub" "$(pub_path devssh)"

RELAY_SSH=(ssh -F /dev/null -o UserKnownHostsFile="$WORK/known_hosts"
  -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes
  -o BatchMode=yes -o ExitOnForwardFailure=yes -o ConnectTimeout=10
  -i "$(key_path devssh)" -p "$RELAY_PORT")

# relay_login_since MARK: the relay has let devssh's key in since MARK.
relay_login_since() {
  tail -c +"$(($1 + 1))" "$RELAY_LOG" | grep "Accepted publickey for $RELAY_USER " |
    grep -F "$(fingerprint devssh)" >/dev/null
}

# ---- 1. idle, no session ----

say "idle: ${IDLE_WARMUP} s warm-up, then ${IDLE_SECS} s (AGENT_IDLE_SECS)"
mark=$(file_size "$RELAY_LOG")
"${RELAY_SSH[@]}" -N "$RELAY_USER@127.0.0.1" </dev/null >/dev/null 2>"$WORK/ssh-idle.err" &
IDLE_SSH=$!
at_exit bg_stop "$IDLE_SSH"
wait_for 15 relay_login_since "$mark" || fatal "ssh -N did not log in to the relay: $(cat "$WORK/ssh-idle.err")"
sleep "$IDLE_WARMUP"
agent_alive || fatal "the agent exited: $(tail -5 "$AGENT_LOG")"
polls0=$(ras_count GET /ras/sessions)

# Watches each NAME=PID for SECS seconds (a sample a second) and prints
# NAME_rss_max, NAME_rss_last, NAME_rss_sampled_max, NAME_rss_anon,
# NAME_rss_file (KiB; anon and file at the end), NAME_cpu_pct, NAME_vcsw_s,
# NAME_nvcsw_s, NAME_threads as KEY=VALUE lines.
python3 - "$IDLE_SECS" "agent=$AGENT_PID" "ssh=$IDLE_SSH" >>"$RESULTS" <<'PY'
import os, sys, time
secs = int(sys.argv[1])
procs = dict(a.split("=") for a in sys.argv[2:])
tck = os.sysconf("SC_CLK_TCK")

def status(path):
    d = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            d[k] = v.split()[0] if v.split() else ""
    return d

def cpu_ticks(pid):  # utime + stime of every thread, exited ones included
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])

def switches(pid):  # {tid: (voluntary, nonvoluntary)}
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            s = status(f"/proc/{pid}/task/{tid}/status")
        except FileNotFoundError:
            continue
        out[tid] = (int(s["voluntary_ctxt_switches"]), int(s["nonvoluntary_ctxt_switches"]))
    return out

st = {}
for name, pid in procs.items():
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS: the peak of this window only
    st[name] = {"t0": cpu_ticks(pid), "first": switches(pid), "last": {},
                "rss": [], "threads": 0}
    st[name]["last"] = dict(st[name]["first"])
start = time.monotonic()
for i in range(1, secs + 1):
    time.sleep(max(0.0, start + i - time.monotonic()))
    for name, pid in procs.items():
        s = st[name]
        s["rss"].append(int(status(f"/proc/{pid}/status")["VmRSS"]))
        sw = switches(pid)
        s["threads"] = max(s["threads"], len(sw))
        s["last"].update(sw)  # a thread that exits keeps its last count
elapsed = time.monotonic() - start
for name, pid in procs.items():
    s = st[name]
    ps = status(f"/proc/{pid}/status")
    cpu = (cpu_ticks(pid) - s["t0"]) / tck / elapsed * 100
    dv = sum(v[0] - s["first"].get(t, (0, 0))[0] for t, v in s["last"].items())
    dn = sum(v[1] - s["first"].get(t, (0, 0))[1] for t, v in s["last"].items())
    print(f"{name}_rss_max={ps['VmHWM']}")
    print(f"{name}_rss_last={ps['VmRSS']}")
    print(f"{name}_rss_sampled_max={max(s['rss'])}")
    print(f"{name}_rss_anon={ps['RssAnon']}")
    print(f"{name}_rss_file={ps['RssFile']}")
    print(f"{name}_cpu_pct={cpu:.3f}")
    print(f"{name}_vcsw_s={dv / elapsed:.2f}")
    print(f"{name}_nvcsw_s={dn / elapsed:.2f}")
    print(f"{name}_threads={s['threads']}")
print(f"idle_elapsed={elapsed:.1f}")
PY
put idle_polls $(($(ras_count GET /ras/sessions) - polls0))
agent_alive || fatal "the agent exited during the idle window: $(tail -5 "$AGENT_LOG")"
cp "/proc/$AGENT_PID/smaps_rollup" "$WORK/agent.smaps_rollup" 2>/dev/null || true
# Where the agent's resident memory is, by mapping (for the notes below).
python3 - "/proc/$AGENT_PID/smaps" >"$WORK/agent.rss_by_file" <<'PY' || true
import collections, sys
by = collections.Counter()
name = None
for line in open(sys.argv[1]):
    f = line.split()
    if not f:
        continue
    if not f[0].endswith(":") or "-" in f[0]:  # a mapping's header line
        name = f[5] if len(f) > 5 else "[anon]"
    elif f[0] == "Rss:":
        by[name] += int(f[1])
for n, kib in by.most_common():
    print(f"{kib:8d} KiB  {n}")
PY
bg_stop "$IDLE_SSH"

# ---- 2. bulk transfer ----

say "bulk: ${BULK_MIB} MiB up and down, ${BULK_RUNS} runs each, porthole and OpenSSH interleaved"
# The porthole side: a session for alice; the agent opens the tunnel.
make_policy --operator "$(pub_path alice)"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)"
WAIT_PID=$AGENT_PID wait_log "$AGENT_LOG" "session: tunnel up: .*mode spawned_sshd" 30 "$mark" >/dev/null ||
  fatal "the agent's tunnel did not come up: $(tail -c +"$((mark + 1))" "$AGENT_LOG" | tail -5)"
PH_PORT=$SESSION_PORT

# The OpenSSH side: ssh -R from the "device" to the relay, to the target sshd.
OS_PORT=$(free_port)
mark=$(file_size "$RELAY_LOG")
"${RELAY_SSH[@]}" -N -R "127.0.0.1:$OS_PORT:127.0.0.1:$TARGET_PORT" "$RELAY_USER@127.0.0.1" \
  </dev/null >/dev/null 2>"$WORK/ssh-R.err" &
FWD_SSH=$!
at_exit bg_stop "$FWD_SSH"
os_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$OS_PORT") 2>/dev/null; }
wait_for 15 os_listening || fatal "ssh -R did not listen on the relay: $(cat "$WORK/ssh-R.err")"

OPSSH=(ssh -F /dev/null -o UserKnownHostsFile="$WORK/known_hosts.op"
  -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=accept-new
  -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10 -i "$(key_path alice)")
# Both device sides answer once before timing (host keys learnt, caches warm).
for p in "$PH_PORT" "$OS_PORT"; do
  out=$(timeout 60 "${OPSSH[@]}" -p "$p" "$OP@127.0.0.1" 'id -un' </dev/null 2>"$WORK/op.err") ||
    fatal "operator login through port $p failed: $(cat "$WORK/op.err")"
  [ "$out" = "$OP" ] || fatal "operator login through port $p printed '$out'"
done

# ticks PID: utime + stime of PID (the comm field has no blanks here).
ticks() {
  local f
  read -r -a f <"/proc/$1/stat"
  echo $((f[13] + f[14]))
}

# transfer SIDE DIR PORT: one timed transfer; appends "SIDE_DIR_s=SECONDS".
transfer() {
  local side=$1 dir=$2 port=$3 t0 t1 n rc=0 c0 c1 pid
  pid=$AGENT_PID
  [ "$side" = openssh ] && pid=$FWD_SSH
  c0=$(ticks "$pid")
  t0=$EPOCHREALTIME
  if [ "$dir" = up ]; then
    n=$(head -c "$BULK_BYTES" /dev/zero |
      timeout 600 "${OPSSH[@]}" -p "$port" "$OP@127.0.0.1" 'wc -c' 2>"$WORK/op.err") || rc=$?
  else
    n=$(timeout 600 "${OPSSH[@]}" -p "$port" "$OP@127.0.0.1" "head -c $BULK_BYTES /dev/zero" \
      </dev/null 2>"$WORK/op.err" | wc -c) || rc=$?
  fi
  t1=$EPOCHREALTIME
  c1=$(ticks "$pid")
  [[ $rc == 0 && $n == "$BULK_BYTES" ]] ||
    fatal "$side $dir: exit $rc, $n bytes of $BULK_BYTES: $(tail -3 "$WORK/op.err")"
  put "${side}_${dir}_s" "$(python3 -c "print('%.3f' % ($t1 - $t0))")"
  put "${side}_${dir}_cpu" "$((c1 - c0))"
}

for ((i = 1; i <= BULK_RUNS; i++)); do
  for dir in up down; do
    transfer porthole "$dir" "$PH_PORT"
    transfer openssh "$dir" "$OS_PORT"
  done
done
# Peak RSS over the whole run (start-up, idle, session and transfers).
put agent_hwm_total "$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT_PID/status")"
put ssh_R_hwm_total "$(awk '/^VmHWM/ {print $2}' "/proc/$FWD_SSH/status")"
# The ciphers each link negotiated (the relay logs its side of both tunnels).
put relay_ciphers "$(grep -o 'kex: client->server cipher: [^ ]*' "$RELAY_LOG" | awk '{print $4}' | sort | uniq -c |
  awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')"

# ---- the table ----

# bench/run reads the raw figures from BENCH_RESULTS (KEY=VALUE lines).
[ -z "${BENCH_RESULTS:-}" ] || cp "$RESULTS" "$BENCH_RESULTS"

python3 - "$RESULTS" "$BULK_BYTES" "$BULK_MIB" "$IDLE_SECS" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
path, nbytes, mib, idle, tck = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
r = {}
for line in open(path):
    k, _, v = line.rstrip("\n").partition("=")
    r.setdefault(k, []).append(v)
one = lambda k: r[k][-1]
def ratio(a, b):
    return "n/a" if b == 0 else "%.2f" % (a / b)
rows = []
def row(fig, a, b, fmt, rat=True):
    rows.append((fig, fmt % a, fmt % b, ratio(a, b) if rat else ""))
mb = lambda k: nbytes / 1e6 / statistics.median(float(x) for x in r[k])
row("idle RSS peak (VmHWM), MiB", int(one("agent_rss_max")) / 1024, int(one("ssh_rss_max")) / 1024, "%.2f")
row("idle RSS at end, MiB", int(one("agent_rss_last")) / 1024, int(one("ssh_rss_last")) / 1024, "%.2f")
row("  of which anonymous (RssAnon)", int(one("agent_rss_anon")) / 1024, int(one("ssh_rss_anon")) / 1024, "%.2f")
row("  of which files (RssFile: code, libs)", int(one("agent_rss_file")) / 1024, int(one("ssh_rss_file")) / 1024, "%.2f")
row("idle CPU, %", float(one("agent_cpu_pct")), float(one("ssh_cpu_pct")), "%.3f")
row("idle wakeups (vol. ctx sw.)/s", float(one("agent_vcsw_s")), float(one("ssh_vcsw_s")), "%.2f")
for d, what in (("up", "operator -> device"), ("down", "device -> operator")):
    a, b = mb(f"porthole_{d}_s"), mb(f"openssh_{d}_s")
    row(f"bulk {what}, MB/s", a, b, "%.1f")
for d in ("up", "down"):
    gib = nbytes / 2**30
    a = statistics.median(int(x) for x in r[f"porthole_{d}_cpu"]) / tck / gib
    b = statistics.median(int(x) for x in r[f"openssh_{d}_cpu"]) / tck / gib
    row(f"tunnel process CPU s/GiB, {d}", a, b, "%.2f")
row("tunnel process peak RSS, MiB", int(one("agent_hwm_total")) / 1024, int(one("ssh_R_hwm_total")) / 1024, "%.2f")

print()
print(f"porthole-agent vs OpenSSH, idle {idle} s window (no session, poll 3 s), "
      f"bulk {mib} MiB x {len(r['porthole_up_s'])} runs per direction (median)")
w = max(len(x[0]) for x in rows)
print(f"{'figure':<{w}} {'porthole':>10} {'OpenSSH':>10} {'ratio':>7}")
for f, a, b, q in rows:
    print(f"{f:<{w}} {a:>10} {b:>10} {q:>7}")
print(f"(idle OpenSSH: `ssh -N` holding an idle connection to the relay; bulk OpenSSH:\n"
      f" `ssh -N -R` to a listening sshd. Ratio = porthole/OpenSSH: goal >= 1.0 for MB/s,\n"
      f" lower is better for RSS, CPU and wakeups. Goal: idle RSS <= 4 MiB.)")
print(f"idle: {one('idle_polls')} session polls in {one('idle_elapsed')} s; agent threads "
      f"{one('agent_threads')}, non-voluntary ctx sw./s agent {one('agent_nvcsw_s')}, "
      f"ssh {one('ssh_nvcsw_s')}")
print("bulk runs, s: porthole up %s down %s; OpenSSH up %s down %s" % tuple(
    " ".join(r[k]) for k in ("porthole_up_s", "porthole_down_s", "openssh_up_s", "openssh_down_s")))
print(f"relay-side ciphers: {one('relay_ciphers')}")
PY
if [ "${BENCH_VERBOSE:-}" = 1 ]; then
  echo "agent RSS by mapping at the end of the idle window:"
  head -40 "$WORK/agent.rss_by_file"
  grep -E '^(Rss|Pss|Shared|Private)' "$WORK/agent.smaps_rollup" 2>/dev/null || true
fi
pass 2>/dev/null
