#!/usr/bin/env bash
# fault_network: the device's link misbehaves (fault_lib.sh: server and
# operator in one network namespace, the agent in another, a veth pair
# between them; nftables on the device's side).
#   - link cut (every packet dropped both ways, a blackhole) for
#     FAULT_CUT_SECS (30): the agent reports the tunnel dead within 11 s
#     (its tunnel's 2 s keepalive and 8 s link timeout), stays alive
#     through its poll back-off, reconnects within 30 s of the restore; the
#     session is the same and the operator connects again;
#   - 30% packet loss on the device's downlink (3 of every 10 packets it
#     receives; fault_lib.sh's link_loss says why not at random; 30% each
#     way can starve TCP of every segment for longer than the agent's link
#     timeout and the tunnel is re-made, see README "Tests"): the session
#     survives (no tunnel drop, same session), a FAULT_LOSS_KIB (3072) KiB
#     scp to the device through the relay completes byte-identical, and
#     the loss was real (nft counters);
#   - [porthole] link_timeout = "4s" set by SIGHUP: the next cut is
#     link-dead after 4..8 s of silence (the default is 8 s).
#
#   PORTHOLE_BIN=... PORTHOLE_SERVER_BIN=... PORTHOLE_AGENT_BIN=... \
#   PORTHOLE_TEST_TUF=... bash tests/e2e/fault_network.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
source "$(dirname "$0")/fault_lib.sh"
CUT_SECS=${FAULT_CUT_SECS:-30}
LOSS_KIB=${FAULT_LOSS_KIB:-3072}

fault_topology
server_init
server_start
device_add dev1
device_agent_start dev1
operator_login

op_connect dev1 echo "first-$UNIQ"
expect_rc 0 "connect before the faults"
[ "$OUT" = "first-$UNIQ" ] || fail "connect output '$OUT'; stderr: ${ERR:0:600}"
SID=$(session_id dev1)
[ -n "$SID" ] || fatal "no live session on dev1"
expect_agent_log "session: tunnel up" 5 "tunnel up"

trace "link cut for $CUT_SECS s"
mark=$(file_size "$AGENT_LOG")
t0=$(date +%s%N)
link_cut
at_exit link_clear
if WAIT_PID=$AGENT_PID wait_log "$AGENT_LOG" "session: ended: " 15 "$mark" >"$WORK/ended"; then
  ms=$((($(date +%s%N) - t0) / 1000000))
  trace "the agent noticed after $ms ms: $(cat "$WORK/ended")"
  ((ms <= 11000)) || fail "the cut was noticed after $ms ms, want <= 11 s"
  grep -q "link-dead" "$WORK/ended" || fail "end reason is not link-dead: $(cat "$WORK/ended")"
else
  fail "the agent did not notice the cut within 15 s: $(tail -c +"$((mark + 1))" "$AGENT_LOG" | tail -5)"
fi
left=$((CUT_SECS * 1000 - ($(date +%s%N) - t0) / 1000000))
((left > 0)) && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
agent_alive || fail "the agent died during the cut"
mark=$(file_size "$AGENT_LOG")
link_restore
t0=$(date +%s%N)
expect_agent_log "session: tunnel up" 30 "the tunnel comes back after the restore" "$mark"
trace "tunnel up $((($(date +%s%N) - t0) / 1000000)) ms after the restore"
[ "$(session_id dev1)" = "$SID" ] || fail "session $SID not live after the cut"
op_connect dev1 echo "after-cut-$UNIQ"
expect_rc 0 "connect after the cut"
[ "$OUT" = "after-cut-$UNIQ" ] || fail "connect after the cut: '$OUT'; stderr: ${ERR:0:600}"

trace "30% packet loss on the downlink: a ${LOSS_KIB} KiB scp to the device"
ph ssh-config --key "$OP_HOME/.ssh/id_ed25519"
expect_rc 0 "ssh-config"
printf '%s\n' "$OUT" >"$WORK/ssh_config"
head -c "$((LOSS_KIB * 1024))" /dev/urandom >"$WORK/payload"
install -d -m 700 -o "$DEV_USER" "$WORK/drop"
mark=$(file_size "$AGENT_LOG")
link_loss 30
t0=$SECONDS
run "${SX[@]}" env HOME="$OP_HOME" timeout 240 scp -q -F "$WORK/ssh_config" \
  -o ServerAliveInterval=5 -o ServerAliveCountMax=12 -o ConnectTimeout=60 \
  "$WORK/payload" "$DEV_USER@dev1:$WORK/drop/received"
expect_rc 0 "scp under 30% loss"
trace "scp took $((SECONDS - t0)) s under loss"
cmp -s "$WORK/payload" "$WORK/drop/received" || fail "the received file differs from the sent one"
counters=$(link_counters)
dropped=$(printf '%s\n' "$counters" | grep -o 'packets [0-9]*' | awk '{s += $2} END {print s + 0}')
link_clear
expect_no_agent_log "session: ended" "the tunnel survives 30% loss" "$mark"
[ "$(session_id dev1)" = "$SID" ] || fail "session $SID not live after the loss"
trace "nftables dropped $dropped packets"
((dropped > 50)) || fail "the loss rules dropped only $dropped packets: $counters"

trace "[porthole] link_timeout = \"4s\" by SIGHUP, then the link cut again"
printf '\n[porthole]\nlink_timeout = "4s"\n' >>"$WORK/dev1/agent.toml"
mark=$(file_size "$AGENT_LOG")
kill -HUP "$AGENT_PID"
expect_agent_log "reload: .*porthole.link_timeout changed" 10 "the reload sees the new link timeout" "$mark"
expect_agent_log "session: tunnel up" 15 "the tunnel is back after the reload" "$mark"
mark=$(file_size "$AGENT_LOG")
t0=$(date +%s%N)
link_cut
if WAIT_PID=$AGENT_PID wait_log "$AGENT_LOG" "session: ended: " 15 "$mark" >"$WORK/ended"; then
  ms=$((($(date +%s%N) - t0) / 1000000))
  trace "the agent noticed after $ms ms: $(cat "$WORK/ended")"
  [[ $(cat "$WORK/ended") =~ link-dead:\ nothing\ received\ from\ relay\ .*\ for\ ([0-9]+)\ ms ]] ||
    fail "end reason is not link-dead: $(cat "$WORK/ended")"
  silent=${BASH_REMATCH[1]}
  ((silent >= 4000 && silent < 8000)) || fail "link-dead after $silent ms of silence, want 4000..7999 (link_timeout 4s)"
else
  fail "the agent did not notice the cut within 15 s: $(tail -c +"$((mark + 1))" "$AGENT_LOG" | tail -5)"
fi
link_restore

stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
pass
