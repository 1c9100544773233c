#!/usr/bin/env bash
# Relay benchmarks (not tests): porthole's SSH relay (porthole-test-relay,
# src/server/relay over core/ssh's ForwardingServer) beside an OpenSSH
# relay chain doing the same job, in the same run. Called by bench/run;
# runs alone too:
#
#   sudo bench/relay.sh
#   RELAY_BULK_MIB=128 RELAY_IDLE_TUNNELS=1000 bench/relay.sh   # quick look
#
# Both relays serve the same device: `ssh -N -R 127.0.0.1:PORT:127.0.0.1:T`
# (what a RAC device does) in front of a real sshd on T, and the same
# operator, `ssh -J RELAY USER@DEVICE`. The OpenSSH chain is a root sshd as
# the relay: the device's `ssh -R` makes it listen on 127.0.0.1:PORT, the
# operator's jump is a direct-tcpip to that port (two sshd processes, one
# per connection, joined by a loopback TCP connection).
#
# 1. Bulk throughput operator -> device and device -> operator: N MiB of
#    zeros through the whole path (`cat > /dev/null` / `head -c` on the
#    device), whole ssh command timed, interleaved, median; and the CPU the
#    relay spent per GiB (porthole: its one process; OpenSSH: every sshd
#    process of the relay, exited ones included through their parents).
# 2. Interactive round trip: one byte at a time through `cat` on the device
#    (ssh without a pty), p50/p99 over RELAY_RTT_N round trips, through
#    porthole's relay, through the OpenSSH chain, and straight to the
#    device's sshd (no relay): the difference is what the relay adds.
# 3. Session closed -> both ends cut: an operator's shell is open, the
#    session is removed from the relay's table and the relay told (SIGHUP
#    -> Revalidate()); time until the operator's ssh and the device's
#    ssh -R have both exited. RELAY_CUT_RUNS runs.
# 4. Idle device tunnels: porthole-bench-tunnels opens RELAY_IDLE_TUNNELS
#    libssh tunnels (login as the device UUID, tcpip-forward) to a second
#    porthole relay; the relay's RSS growth per tunnel, the time to open
#    them, and its CPU while they idle (RELAY_IDLE_SECS, keepalive 15 s).
#    The same tool opens RELAY_OPENSSH_TUNNELS tunnels to the OpenSSH
#    relay: RSS and PSS of the sshd processes per connection.
#
# Environment:
#   PORTHOLE_TEST_RELAY     build/tests/tools/porthole-test-relay
#   PORTHOLE_BENCH_TUNNELS  build/bench/porthole-bench-tunnels
#   RELAY_BULK_MIB (512) RELAY_BULK_RUNS (3) RELAY_RTT_N (2000)
#   RELAY_CUT_RUNS (5) RELAY_IDLE_TUNNELS (10000) RELAY_OPENSSH_TUNNELS (300)
#   RELAY_IDLE_SECS (30) BENCH_VERBOSE=1 (the harness's progress lines)
#
# Runs as root (it borrows tests/e2e/lib.sh: throw-away users, root sshds
# in private mount namespaces); everything is removed at exit.
# shellcheck disable=SC2317 # functions called through wait_for / at_exit
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "bench/relay.sh: must run as root (creates users, runs root sshds); try: sudo $0" >&2
  exit 1
fi
export PORTHOLE_TEST_RELAY=${PORTHOLE_TEST_RELAY:-$top/build/tests/tools/porthole-test-relay}
BENCH_TUNNELS=${PORTHOLE_BENCH_TUNNELS:-$top/build/bench/porthole-bench-tunnels}
for b in "$PORTHOLE_TEST_RELAY" "$BENCH_TUNNELS"; do
  [ -x "$b" ] || { echo "bench/relay.sh: $b missing: build first (scripts/setup)" >&2; exit 1; }
done
BULK_MIB=${RELAY_BULK_MIB:-512}
BULK_RUNS=${RELAY_BULK_RUNS:-3}
RTT_N=${RELAY_RTT_N:-2000}
CUT_RUNS=${RELAY_CUT_RUNS:-5}
IDLE_N=${RELAY_IDLE_TUNNELS:-10000}
OS_N=${RELAY_OPENSSH_TUNNELS:-300}
IDLE_SECS=${RELAY_IDLE_SECS:-30}
for v in BULK_MIB BULK_RUNS RTT_N CUT_RUNS IDLE_N OS_N IDLE_SECS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench/relay.sh: $v=${!v}: want a positive integer" >&2; exit 1; }
done
BULK_BYTES=$((BULK_MIB * 1024 * 1024))

# shellcheck source=tests/e2e/lib.sh
source "$top/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/relay_lib.sh
source "$top/tests/e2e/relay_lib.sh"
E2E_NAME=bench/relay
trace() { [ "${BENCH_VERBOSE:-}" != 1 ] || printf '%s: %s\n' "$E2E_NAME" "$*" >&2; }
say() { printf '%s: %s\n' "$E2E_NAME" "$*" >&2; }
RESULTS=$WORK/results
: >"$RESULTS"
put() { printf '%s=%s\n' "$1" "$2" >>"$RESULTS"; }

# ticks PID: utime + stime of PID.
ticks() {
  local f
  read -r -a f <"/proc/$1/stat"
  echo $((f[13] + f[14]))
}
# tree_ticks PID: utime+stime+cutime+cstime of PID and its live descendants
# (a child that exited is counted in its parent's cutime once reaped).
tree_ticks() {
  local p f sum=0
  for p in "$1" $(_descendants "$1"); do
    read -r -a f <"/proc/$p/stat" 2>/dev/null || continue
    sum=$((sum + f[13] + f[14] + f[15] + f[16]))
  done
  echo "$sum"
}

# ---- the set-up shared by 1-3 ----

OP=op$UNIQ
RU=rl$UNIQ
DEV=3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f
make_user "$OP"
make_user "$RU"
new_key alice
new_key device

install -m 644 "$(pub_path alice)" "$WORK/target_authorized_keys"
echo "# bench/relay.sh" >"$WORK/target.conf"
start_sshd target "$WORK/target.conf" "AuthorizedKeysFile $WORK/target_authorized_keys" \
  "AllowUsers $OP" "MaxStartups 100"
TARGET_PORT=${SSHD_PORT[target]}

# The OpenSSH relay: RU's key lines let the device listen and the operator
# open, on 127.0.0.1 only.
home=$(getent passwd "$RU" | cut -d: -f6)
install -d -m 700 -o "$RU" -g "$(id -gn "$RU")" "$home/.ssh"
{
  printf 'restrict,port-forwarding,permitlisten="127.0.0.1:*" %s\n' "$(pub_line device)"
  printf 'restrict,port-forwarding,permitopen="127.0.0.1:*" %s\n' "$(pub_line alice)"
} >"$home/.ssh/authorized_keys"
chown "$RU:" "$home/.ssh/authorized_keys"
chmod 600 "$home/.ssh/authorized_keys"
cat >"$WORK/osrelay.conf" <<EOF
Match User $RU
  AllowTcpForwarding yes
  GatewayPorts no
  PermitTTY no
  X11Forwarding no
  AllowAgentForwarding no
  ForceCommand /bin/false
EOF
start_sshd osrelay "$WORK/osrelay.conf" "AllowUsers $RU" "MaxStartups 1000" \
  "ClientAliveInterval 15" "ClientAliveCountMax 3"
OS_RELAY_PORT=${SSHD_PORT[osrelay]}
OS_RELAY_PID=${SSHD_PID[osrelay]}

P7=$(free_port)
P2=$(free_port)
rt_device "$DEV" dev-7 "$(pub_path device)"
rt_session s7 "$DEV" "$P7" 86400 "$(pub_path alice)"
start_test_relay
operator_config alice
operator_config device
cat >>"$WORK/ssh_config.alice" <<EOF
Host osrelay
  HostName 127.0.0.1
  Port $OS_RELAY_PORT
  User $RU
EOF
cat >>"$WORK/ssh_config.device" <<EOF
Host osrelay
  HostName 127.0.0.1
  Port $OS_RELAY_PORT
  User $RU
EOF
# The relay hosts come first in the file, so "Host *" settings apply last;
# StrictHostKeyChecking no covers osrelay.
CFG=$WORK/ssh_config.alice

# device_up: both device tunnels (porthole's relay, OpenSSH's) are up.
start_devices() {
  local mark
  mark=$(event_mark)
  ssh -F "$WORK/ssh_config.device" -o ExitOnForwardFailure=yes -N \
    -R "127.0.0.1:$P7:127.0.0.1:$TARGET_PORT" "$DEV@relay" </dev/null >"$WORK/dev.ph.out" 2>&1 &
  PH_DEV=$!
  at_exit bg_stop "$PH_DEV"
  wait_event tunnel_up "forwarding" 30 "$mark" >/dev/null || fatal "porthole device tunnel: $(cat "$WORK/dev.ph.out")"
}
start_devices
ssh -F "$WORK/ssh_config.device" -o ExitOnForwardFailure=yes -N \
  -R "127.0.0.1:$P2:127.0.0.1:$TARGET_PORT" osrelay </dev/null >"$WORK/dev.os.out" 2>&1 &
OS_DEV=$!
at_exit bg_stop "$OS_DEV"
os_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$P2") 2>/dev/null; }
wait_for 30 os_listening || fatal "OpenSSH device tunnel: $(cat "$WORK/dev.os.out")"

PH_DEST=(-J relay "$OP@dev-7")
# shellcheck disable=SC2034 # used through ${side}_DEST
OS_DEST=(-J osrelay -p "$P2" "$OP@127.0.0.1")
for side in PH OS; do
  ref="${side}_DEST[@]"
  out=$(timeout 60 ssh -F "$CFG" "${!ref}" 'id -un' </dev/null 2>"$WORK/op.err") ||
    fatal "operator through $side failed: $(cat "$WORK/op.err")"
  [ "$out" = "$OP" ] || fatal "operator through $side printed '$out'"
done

# ---- 1. bulk ----

say "bulk: $BULK_MIB MiB each way, $BULK_RUNS runs, porthole and OpenSSH interleaved"
transfer() {
  local side=$1 dir=$2 ref="${1}_DEST[@]" t0 t1 n rc=0 c0 c1
  if [ "$side" = PH ]; then c0=$(ticks "$TRELAY_PID"); else c0=$(tree_ticks "$OS_RELAY_PID"); fi
  t0=$EPOCHREALTIME
  if [ "$dir" = up ]; then
    n=$(head -c "$BULK_BYTES" /dev/zero |
      timeout 600 ssh -F "$CFG" "${!ref}" 'wc -c' 2>"$WORK/op.err") || rc=$?
  else
    n=$(timeout 600 ssh -F "$CFG" "${!ref}" "head -c $BULK_BYTES /dev/zero" \
      </dev/null 2>"$WORK/op.err" | wc -c) || rc=$?
  fi
  t1=$EPOCHREALTIME
  if [ "$side" = PH ]; then c1=$(ticks "$TRELAY_PID"); else c1=$(tree_ticks "$OS_RELAY_PID"); fi
  [[ $rc == 0 && $n == "$BULK_BYTES" ]] ||
    fatal "$side $dir: exit $rc, $n bytes of $BULK_BYTES: $(tail -3 "$WORK/op.err")"
  put "${side}_${dir}_s" "$(python3 -c "print('%.3f' % ($t1 - $t0))")"
  put "${side}_${dir}_cpu" "$((c1 - c0))"
}
for ((i = 1; i <= BULK_RUNS; i++)); do
  for dir in up down; do
    transfer PH "$dir"
    transfer OS "$dir"
  done
done
# The cipher each relay link negotiated, as the operator's ssh saw it.
for h in relay osrelay; do
  c=$(timeout 30 ssh -v -F "$CFG" -W 127.0.0.1:9 "$h" </dev/null 2>&1 |
    grep -o 'kex: server->client cipher: [^ ]*' | head -1 | awk '{print $4}') || true
  put "cipher_$h" "${c:-?}"
done

# ---- 2. interactive round trip ----

say "round trip: $RTT_N one-byte echoes through cat on the device"
for side in PH OS DIRECT; do
  if [ "$side" = DIRECT ]; then
    args=(-p "$TARGET_PORT" "$OP@127.0.0.1")
  else
    ref="${side}_DEST[@]"
    args=("${!ref}")
  fi
  r=$(timeout 300 python3 "$top/bench/rtt.py" "$RTT_N" ssh -F "$CFG" "${args[@]}" 'exec cat' 2>"$WORK/rtt.err") ||
    fatal "round trip $side: $(tail -3 "$WORK/rtt.err")"
  put "rtt_$side" "$r"
done

# ---- 3. session closed -> both ends cut ----

say "cut: $CUT_RUNS runs of session closed -> operator and device gone"
for ((i = 1; i <= CUT_RUNS; i++)); do
  mark=$(event_mark)
  ssh -F "$CFG" "${PH_DEST[@]}" 'echo up; exec sleep 300' </dev/null >"$WORK/live.out" 2>&1 &
  live=$!
  live_up() { grep -q up "$WORK/live.out" 2>/dev/null; }
  wait_for 30 live_up || fatal "cut run $i: the operator's shell did not start: $(cat "$WORK/live.out")"
  rt_drop_session s7
  rt_commit
  t0=$(date +%s%N)
  kill -HUP "$TRELAY_PID"
  timeout 10 tail -s 0.005 --pid="$live" -f /dev/null || fatal "cut run $i: the operator survived"
  t_op=$(date +%s%N)
  timeout 10 tail -s 0.005 --pid="$PH_DEV" -f /dev/null || fatal "cut run $i: the device survived"
  t_dev=$(date +%s%N)
  wait "$live" 2>/dev/null || true
  wait "$PH_DEV" 2>/dev/null || true
  put cut_op_ms "$(((t_op - t0) / 1000000))"
  put cut_dev_ms "$(((t_dev - t0) / 1000000))"
  rt_session s7 "$DEV" "$P7" 86400 "$(pub_path alice)"
  relay_reload
  start_devices
done

# ---- 4. idle tunnels ----

say "idle: $IDLE_N tunnels to a second porthole relay, $OS_N to OpenSSH's"
stop_test_relay
bg_stop "$OS_DEV"
# A table of IDLE_N devices (one key for all) with one session each.
python3 - "$TRELAY_TABLE" "$IDLE_N" "$(pub_path device)" <<'PY'
import json, sys
path, n, pub = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read().split("\n")[0]
ids = ["00000000-0000-4000-8000-%012x" % i for i in range(n)]
t = {"devices": [{"id": d, "name": "bench-%d" % i, "key": pub} for i, d in enumerate(ids)],
     "sessions": [{"id": "s%d" % i, "device": d, "port": 1024 + i % 60000,
                   "operator_keys": [], "expires": "2099-01-01T00:00:00Z"}
                  for i, d in enumerate(ids)]}
json.dump(t, open(path, "w"))
PY
# The table is written directly (not through rt_commit's spec).
rt_commit() { :; }
TRELAY_PORT=
TRELAY_LOG_LEVEL=warn start_test_relay --max-per-source $((IDLE_N + 100)) \
  --max-connections $((IDLE_N + 100))
sleep 2
rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$TRELAY_PID/status")
t0=$EPOCHREALTIME
"$BENCH_TUNNELS" --port "$TRELAY_PORT" --key "$(key_path device)" --count "$IDLE_N" \
  --port-base 1024 >"$WORK/swarm.out" 2>"$WORK/swarm.err" &
SWARM=$!
at_exit bg_stop "$SWARM"
swarm_ready() { grep -q '^ready' "$WORK/swarm.out" 2>/dev/null; }
wait_for 1800 swarm_ready || fatal "the tunnels did not open: $(tail -3 "$WORK/swarm.err")"
t1=$EPOCHREALTIME
read -r _ opened failed < <(grep '^ready' "$WORK/swarm.out")
((failed == 0)) || say "warning: $failed tunnels failed: $(head -3 "$WORK/swarm.err")"
sleep 5
rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$TRELAY_PID/status")
c0=$(ticks "$TRELAY_PID")
w0=$EPOCHREALTIME
sleep "$IDLE_SECS"
c1=$(ticks "$TRELAY_PID")
w1=$EPOCHREALTIME
rss2=$(awk '/^VmRSS/ {print $2}' "/proc/$TRELAY_PID/status")
up=$(grep -c '"event":"tunnel_up"' "$TRELAY_EVENTS" || true)
down=$(grep -c '"event":"tunnel_down"' "$TRELAY_EVENTS" || true)
put idle_opened "$opened"
put idle_up "$((up - down))"
put idle_open_s "$(python3 -c "print('%.1f' % ($t1 - $t0))")"
put idle_rss0 "$rss0"
put idle_rss1 "$rss1"
put idle_rss2 "$rss2"
put idle_cpu_pct "$(python3 -c "print('%.2f' % (($c1 - $c0) / $(getconf CLK_TCK) / ($w1 - $w0) * 100))")"
bg_stop "$SWARM"
stop_test_relay

# OpenSSH: the same tool against the sshd relay, user RU, ports 61000+
# (sshd really listens on them: above the ephemeral range, so that none is
# the local port of one of the thousands of connections just made).
before=$(_descendants "$OS_RELAY_PID" | sort)
"$BENCH_TUNNELS" --port "$OS_RELAY_PORT" --key "$(key_path device)" --count "$OS_N" \
  --port-base 61000 --user "$RU" >"$WORK/osswarm.out" 2>"$WORK/osswarm.err" &
OSSWARM=$!
at_exit bg_stop "$OSSWARM"
osswarm_ready() { grep -q '^ready' "$WORK/osswarm.out" 2>/dev/null; }
wait_for 600 osswarm_ready || fatal "OpenSSH tunnels did not open: $(tail -3 "$WORK/osswarm.err")"
read -r _ os_opened os_failed < <(grep '^ready' "$WORK/osswarm.out")
((os_failed == 0)) || say "warning: $os_failed OpenSSH tunnels failed: $(head -3 "$WORK/osswarm.err")"
sleep 5
python3 - "$OS_RELAY_PID" "$before" >>"$RESULTS" <<'PY'
import os, sys
root, before = sys.argv[1], set(sys.argv[2].split())
def kids(p):
    try:
        return open(f"/proc/{p}/task/{p}/children").read().split()
    except OSError:
        return []
todo, procs = [root], []
while todo:
    p = todo.pop()
    for c in kids(p):
        procs.append(c); todo.append(c)
rss = pss = n = 0
for p in procs:
    if p in before:
        continue
    try:
        st = {l.split(":")[0]: l.split()[1] for l in open(f"/proc/{p}/status") if ":" in l and len(l.split()) > 1}
        roll = {l.split(":")[0]: l.split()[1] for l in open(f"/proc/{p}/smaps_rollup") if ":" in l and len(l.split()) > 1}
    except OSError:
        continue
    rss += int(st["VmRSS"]); pss += int(roll["Pss"]); n += 1
print(f"os_procs={n}")
print(f"os_rss_kib={rss}")
print(f"os_pss_kib={pss}")
PY
put os_opened "$os_opened"
bg_stop "$OSSWARM"

# ---- the table ----

# bench/run reads the raw figures from BENCH_RESULTS (KEY=VALUE lines).
[ -z "${BENCH_RESULTS:-}" ] || cp "$RESULTS" "$BENCH_RESULTS"

python3 - "$RESULTS" "$BULK_BYTES" "$BULK_MIB" "$(getconf CLK_TCK)" "$RTT_N" "$IDLE_SECS" <<'PY'
import statistics, sys
path, nbytes, mib, tck, rttn, idle = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
r = {}
for line in open(path):
    k, _, v = line.rstrip("\n").partition("=")
    r.setdefault(k, []).append(v)
one = lambda k: r[k][-1]
med = lambda k: statistics.median(float(x) for x in r[k])
rows = []
def row(fig, a, b, note=""):
    rows.append((fig, a, b, note))
gib = nbytes / 2**30
for d, what in (("up", "operator -> device"), ("down", "device -> operator")):
    a, b = nbytes / 1e6 / med(f"PH_{d}_s"), nbytes / 1e6 / med(f"OS_{d}_s")
    row(f"bulk {what}, MB/s", "%.1f" % a, "%.1f" % b, "ratio %.2f (goal >= 1.0)" % (a / b))
for d in ("up", "down"):
    a = statistics.median(int(x) for x in r[f"PH_{d}_cpu"]) / tck / gib
    b = statistics.median(int(x) for x in r[f"OS_{d}_cpu"]) / tck / gib
    row(f"relay CPU s/GiB, {d}", "%.2f" % a, "%.2f" % b, "porthole: 1 process; OpenSSH: all relay sshds")
ph, os_, di = (list(map(float, one(f"rtt_{s}").split())) for s in ("PH", "OS", "DIRECT"))
row("round trip p50, us", "%.0f" % ph[0], "%.0f" % os_[0], "no relay: %.0f" % di[0])
row("round trip p99, us", "%.0f" % ph[1], "%.0f" % os_[1], "no relay: %.0f" % di[1])
row("  added by the relay p50/p99, us", "%.0f/%.0f" % (ph[0] - di[0], ph[1] - di[1]),
    "%.0f/%.0f" % (os_[0] - di[0], os_[1] - di[1]), "goal <= 1000 p99")
co, cd = sorted(map(int, r["cut_op_ms"])), sorted(map(int, r["cut_dev_ms"]))
row("session closed -> operator cut, ms", "%d (max %d)" % (statistics.median(co), co[-1]), "-", "median of %d" % len(co))
row("session closed -> device cut, ms", "%d (max %d)" % (statistics.median(cd), cd[-1]), "-", "goal <= 1000")
n = int(one("idle_opened"))
per = (int(one("idle_rss1")) - int(one("idle_rss0"))) / n
os_n = int(one("os_procs")) and int(one("os_opened"))
row("idle tunnels held", "%d of %d" % (int(one("idle_up")), n), "%d" % os_n, "goal >= 10000")
row("memory per idle tunnel, KiB (RSS)", "%.1f" % per, "%.1f" % (int(one("os_rss_kib")) / os_n),
    "OpenSSH: %d sshd processes for %d" % (int(one("os_procs")), os_n))
row("  OpenSSH PSS per connection, KiB", "", "%.1f" % (int(one("os_pss_kib")) / os_n), "shared pages counted once")
row("relay RSS idle: start / with tunnels / after %s s, MiB" % idle,
    "%.1f / %.1f / %.1f" % tuple(int(one(k)) / 1024 for k in ("idle_rss0", "idle_rss1", "idle_rss2")), "", "")
row("time to open the tunnels, s", one("idle_open_s"), "", "%.0f/s (sequential client)" % (n / float(one("idle_open_s"))))
row("relay CPU with idle tunnels, %", one("idle_cpu_pct"), "", "keepalive every 15 s")
print()
print(f"porthole relay vs OpenSSH relay chain; bulk {mib} MiB x {len(r['PH_up_s'])} runs (median), "
      f"round trip {rttn} one-byte echoes, idle window {idle} s")
w = max(len(x[0]) for x in rows)
print(f"{'figure':<{w}} {'porthole':>16} {'OpenSSH':>12}  note")
for f, a, b, note in rows:
    print(f"{f:<{w}} {a:>16} {b:>12}  {note}")
print("bulk runs, s: porthole up %s down %s; OpenSSH up %s down %s" % tuple(
    " ".join(r[k]) for k in ("PH_up_s", "PH_down_s", "OS_up_s", "OS_down_s")))
print("cut runs, ms: operator %s; device %s" % (" ".join(r["cut_op_ms"]), " ".join(r["cut_dev_ms"])))
print(f"operator -> relay cipher: porthole {one('cipher_relay')}, OpenSSH {one('cipher_osrelay')}")
PY
pass 2>/dev/null
