#!/usr/bin/env bash
# load_sessions: LOAD_SESSIONS (100) operator SSH connections at once, all
# through ONE device tunnel (the real server's relay, a real agent in
# spawned_sshd mode in its own network namespace; fault_lib.sh). Each one
# is a full OpenSSH login on the device that hashes 64 KiB of its own
# random input: every connection must exit 0 with the right digest, the
# tunnel must stay up (one "tunnel up" in the agent log) and the relay
# must have served them all.
#
#   PORTHOLE_BIN=... PORTHOLE_SERVER_BIN=... PORTHOLE_AGENT_BIN=... \
#   PORTHOLE_TEST_TUF=... bash tests/e2e/load_sessions.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
source "$(dirname "$0")/fault_lib.sh"
N=${LOAD_SESSIONS:-100}

fault_topology
server_init
server_start
device_add dev1
device_agent_start dev1
operator_login
op_connect dev1 echo ready
expect_rc 0 "first connect"
[ "$OUT" = ready ] || fatal "first connect: '$OUT'; stderr: ${ERR:0:600}"
mark=$(file_size "$AGENT_LOG")
# The operator's hop to the relay is one OpenSSH ControlMaster connection
# (the session's relay-only key and pinned relay host key, as porthole
# connect uses them); every session is a channel on it (-W dev1:22) and a
# full login on the device through the tunnel. (One porthole ssh-proxy
# plus relay login per session would measure the operator side 100 times
# over on a 2-CPU machine; tests/e2e/cli_connect.sh covers that path.)
SID=$(session_id dev1)
RD=$OP_HOME/.cache/porthole/relay/$SID
[ -f "$RD/id_ed25519" ] || fatal "no relay key in $RD: $(ls "$RD" 2>&1)"
RKH=$(find "$RD" -maxdepth 1 -name 'known_hosts*' | head -1)
[ -n "$RKH" ] || fatal "no relay known_hosts in $RD: $(ls "$RD")"
MUX=$WORK/mux
"${SX[@]}" ssh -F /dev/null -M -S "$MUX" -f -N -o IdentityFile="$RD/id_ed25519" \
  -o IdentitiesOnly=yes -o UserKnownHostsFile="$RKH" -o GlobalKnownHostsFile=/dev/null \
  -o StrictHostKeyChecking=yes -o BatchMode=yes -p 2222 "porthole@$SRV_IP" </dev/null ||
  fatal "could not log in to the relay with the session's relay key"
at_exit "${SX[@]}" ssh -S "$MUX" -O exit "porthole@$SRV_IP"
SSH_DEV=(ssh -F /dev/null -o "ProxyCommand=ssh -S $MUX -W dev1:22 porthole@$SRV_IP"
  -o HostKeyAlias=porthole-dev1 -o "UserKnownHostsFile=$OP_HOME/.config/porthole/known_hosts"
  -o StrictHostKeyChecking=yes -o "IdentityFile=$OP_HOME/.ssh/id_ed25519" -o IdentitiesOnly=yes
  -o BatchMode=yes -o ConnectTimeout=60)
mkdir "$WORK/par"
for i in $(seq 1 "$N"); do
  head -c 65536 /dev/urandom >"$WORK/par/in.$i"
  sha256sum <"$WORK/par/in.$i" | awk '{print $1}' >"$WORK/par/want.$i"
done

trace "$N parallel ssh sessions through one tunnel"
# Each session says it is open (a file on the device), then hashes its
# stdin, which the test holds open (a FIFO per session) until all N are
# open at once, then closes. They are started in waves of 10, each wave
# once the previous one is logged in, so that 2 CPUs never have 100 key
# exchanges racing sshd's LoginGraceTime.
chown "$DEV_USER" "$WORK/par"
t0=$(date +%s%N)
pids=()
fds=()
opened() { [ "$(find "$WORK/par" -name 'open.*' | wc -l)" -ge "$1" ]; }
for i in $(seq 1 "$N"); do
  mkfifo "$WORK/par/fifo.$i"
  "${SX[@]}" timeout 300 "${SSH_DEV[@]}" "$DEV_USER@dev1" "touch $WORK/par/open.$i; sha256sum" \
    <"$WORK/par/fifo.$i" >"$WORK/par/out.$i" 2>"$WORK/par/err.$i" &
  pids+=($!)
  exec {fd}>"$WORK/par/fifo.$i"
  fds+=("$fd")
  cat "$WORK/par/in.$i" >&"$fd"
  if ((i % 10 == 0)); then
    wait_for 120 opened "$i" || fail "only $(find "$WORK/par" -name 'open.*' | wc -l) of $i sessions opened within 120 s"
  fi
done
wait_for 120 opened "$N" || fail "only $(find "$WORK/par" -name 'open.*' | wc -l) of $N sessions open at once"
trace "$N sessions open at once after $((($(date +%s%N) - t0) / 1000000)) ms; releasing them"
for fd in "${fds[@]}"; do exec {fd}>&-; done
bad=0
for i in $(seq 1 "$N"); do
  rc=0
  wait "${pids[i - 1]}" || rc=$?
  got=$(awk '{print $1}' "$WORK/par/out.$i")
  if ((rc != 0)) || [ "$got" != "$(cat "$WORK/par/want.$i")" ]; then
    ((bad < 5)) && fail "session $i: exit $rc, digest '$got': $(tail -2 "$WORK/par/err.$i")"
    bad=$((bad + 1))
  fi
done
ms=$((($(date +%s%N) - t0) / 1000000))
trace "$((N - bad))/$N sessions completed in $ms ms"
((bad == 0)) || fail "$bad of $N parallel sessions failed"
expect_no_agent_log "session: (ended|tunnel up)" "the one tunnel stayed up" "$mark"
op_connect dev1 echo after
expect_rc 0 "connect after the load"

stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
pass
