#!/usr/bin/env bash
# fault_device: faults on the device itself, with the real server and a
# real agent in its own network namespace (fault_lib.sh).
#   - porthole-agent SIGKILLed while a remote command runs (restart-service
#     with a test command line that records each start and sleeps): after
#     the agent is started again the server gets exactly one result, a
#     failed one, and the command never runs a second time;
#   - the device's key tiers on a full file system during a key change made
#     through the whole system (`porthole keys add porthole:$DEV_USER@dev1`:
#     relay, tunnel, the agent's sshd, porthole on the device): exit 1, an
#     error naming the file, the file byte-identical, the session still
#     usable; once space is freed the same change works.
# (dbus-daemon restarted under the agent: tests/e2e/agent_dbus.sh.)
#
#   PORTHOLE_BIN=... PORTHOLE_SERVER_BIN=... PORTHOLE_AGENT_BIN=... \
#   PORTHOLE_TEST_TUF=... bash tests/e2e/fault_device.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
source "$(dirname "$0")/fault_lib.sh"

fault_topology
server_init
server_start
RUNS=$WORK/runs
: >"$RUNS"
# The device's key tiers on a 64 KiB file system, mounted before the agent
# starts so that its private mount namespace (and its sshd) sees it.
SMALL=$WORK/small
mkdir -m 755 "$SMALL"
mount -t tmpfs -o size=64k,mode=755 e2e-small "$SMALL" || fatal "mount -t tmpfs on $SMALL failed"
at_exit umount -l "$SMALL"
printf '[known]\n[revoked]\n' >"$WORK/catalogue.toml"
chown "$DEV_USER" "$SMALL"
write_keys_conf "$WORK/device-keys.toml" "$DEV_USER" "$SMALL" "$WORK/catalogue.toml" "$SMALL/customer"

FAULT_AGENT_PORTHOLE="restart_service_command = [\"sh\", \"-c\", \"echo \$\$ >>$RUNS; sleep 15; echo restarted {service}\"]" \
  device_add dev1
device_agent_start dev1
operator_login
ph policy allow-command restart-service slowsvc
expect_rc 0 "policy allow-command"

trace "the agent is SIGKILLed while a command runs"
ph command run dev1 restart-service slowsvc --no-wait
expect_rc 0 "command run --no-wait"
CID=$(printf '%s\n' "$OUT" | tail -1)
expect_agent_log "commands: running .*restart-service" 20 "the agent starts the command"
wait_for 10 test -s "$RUNS" || fatal "the command did not start"
CMD_PID=$(head -1 "$RUNS")
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
# The command's process group outlives the agent (nothing can end it);
# end it now so this test leaves nothing behind.
kill -KILL -- "-$CMD_PID" 2>/dev/null || kill -KILL "$CMD_PID" 2>/dev/null || true
pending=$(find "$DEVICE_DIR/state/commands" -name '*.cmd' | head -1)
[ -n "$pending" ] || fail "no record of the interrupted command in $DEVICE_DIR/state/commands"
mark=$(file_size "$AGENT_LOG")
device_agent_start dev1
expect_agent_log "commands: .* has no result \(the agent stopped while it ran\)" 20 "the restarted agent reports the unknown outcome" "$mark"
expect_agent_log "commands: pending result of .* delivered" 20 "the failed result is delivered" "$mark"
ph command show "$CID" --json
expect_rc 0 "command show"
json_check "$OUT" '
r = d.get("result") or {}
assert r.get("success") is False, d
assert r.get("error") is not None, d' "one failed result"
# Polls after the delivery: no second run.
mark2=$(file_size "$AGENT_LOG")
kill -USR1 "$AGENT_PID"
expect_agent_log "commands: no new commands" 10 "a commands poll after the delivery" "$mark2"
[ "$(wc -l <"$RUNS")" = 1 ] || fail "the interrupted command ran $(wc -l <"$RUNS") times, want once"
[ "$(grep -c "commands: running $CID" "$AGENT_LOG")" = 1 ] || fail "the agent ran $CID more than once"
[ "$(grep -cE "commands: (pending )?result of $CID delivered" "$AGENT_LOG")" = 1 ] ||
  fail "the result of $CID was delivered $(grep -cE "commands: (pending )?result of $CID delivered" "$AGENT_LOG") times, want once"
[ -z "$(find "$DEVICE_DIR/state/commands" -name "*${CID#urn:tdx-ota:command:}*")" ] ||
  fail "the record of $CID is left after delivery"

trace "a key change through the relay on a full file system"
new_key k1
new_key k2
KEYS=(keys -F /dev/null --remote-porthole "$PORTHOLE" --remote-config "$WORK/device-keys.toml")
# (porthole:DEVICE opens the session itself.)
ph "${KEYS[@]}" add porthole:$DEV_USER@dev1 "$(pub_path k1)" 1h
expect_rc 0 "keys add before the disk is full"
TMP=$SMALL/tmp_authorized_keys
expect_key_count "$TMP" k1 1 "keys add through the relay"
cp "$TMP" "$WORK/tier.before"
dd if=/dev/zero of="$SMALL/filler" bs=4096 2>/dev/null || true
[ "$(df --output=avail -B1 "$SMALL" | tail -1 | tr -d ' ')" = 0 ] || fatal "could not fill $SMALL"
ph "${KEYS[@]}" add porthole:$DEV_USER@dev1 "$(pub_path k2)" 1h
trace "  keys add on a full disk: exit $RC: ${ERR:0:300}"
expect_rc 1 "keys add on a full file system"
[[ "$ERR" == *"$TMP"* ]] || fail "the error does not name $TMP: $ERR"
cmp -s "$TMP" "$WORK/tier.before" || fail "$TMP changed on a full disk: $(diff "$WORK/tier.before" "$TMP")"
left=$(find "$SMALL" -mindepth 1 ! -name tmp_authorized_keys ! -name filler ! -name '*.lock' ! -name '.*.lock')
[ -z "$left" ] || fail "temporary files left on the full disk: $left"
op_connect dev1 echo "still-$UNIQ"
expect_rc 0 "the session works after the failed change"
[ "$OUT" = "still-$UNIQ" ] || fail "connect after the failed change: '$OUT'"
rm -f "$SMALL/filler"
ph "${KEYS[@]}" add porthole:$DEV_USER@dev1 "$(pub_path k2)" 1h
expect_rc 0 "keys add once space is free"
expect_key_count "$TMP" k2 1 "keys add after space is freed"
expect_key_count "$TMP" k1 1 "the earlier key is kept"

stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
pass
