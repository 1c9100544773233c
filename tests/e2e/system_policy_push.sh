#!/usr/bin/env bash
# system_policy_push: the whole system (real porthole-server, real
# porthole-agent devices, real OpenSSH at both ends, a real dbus-daemon)
# on three questions that cross its parts:
#   1. key tiers together with a session (dev-t, target_host in front of a
#      root sshd reading every tier through the drop-in `porthole keys
#      install-sshd-config` writes; the agent writes the session tier):
#      with alice's session open (`porthole connect`), `porthole keys
#      add/set porthole:OP@dev-t` puts a second, temporary key in the
#      temporary tier. That key is in no session, so the relay refuses it
#      on its own; through alice's session (her relay key for the relay
#      hop, `porthole ssh-config`) the device's sshd lets it in until its
#      expiry-time, a few seconds away, then refuses it ("entry expired");
#      alice's session key works before, during and after.
#      (spawned_sshd cannot show this: its sshd reads only the session's
#      keys, config_dir/authorized_keys, by design.)
#   2. an offline-signed policy (dev-p, spawned_sshd): after `root rotate
#      --remote-sessions-key` and export -> `porthole policy sign` ->
#      import, alice's key works; a key the server allows on its own stays
#      in the draft (not served, no session for it); a misbehaving server
#      (its SQLite store edited while it is stopped) hands the agent a
#      session listing that key: the agent refuses the session ("invalid
#      session received from server"), no tunnel, the key's owner cannot
#      get in; the honest session works again afterwards.
#   3. D-Bus push with the real server (dev-d, spawned_sshd, long polls off,
#      poll_timeout 1 h, a private session bus): a session opened on the
#      server is not picked up on its own (2 s window), PollRasNow from the
#      owner of io.torizon.TznService brings the tunnel up within 1 s of
#      the signal (figure printed).
# Part 3 runs before part 2: the rotation to an offline key is for good.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_cmd curl sqlite3 dbus-daemon date
/usr/bin/python3 -c 'import gi' 2>/dev/null || fatal "python3-gi missing (scripts/setup installs it)"

OP=op$UNIQ
make_user "$OP"
ssh-keygen -q -t ed25519 -N '' -C alice@e2e -f "$OP_HOME/.ssh/id_ed25519" </dev/null
ALICE=$OP_HOME/.ssh/id_ed25519
ALICE_FP=$(ssh-keygen -lf "$ALICE.pub" | awk '{print $2}')
new_key temp     # the second operator key: temporary tier only, no session
new_key mallory  # the key the server allows on its own (part 2)
TEMP_FP=$(fingerprint temp)
start_server
ph_login
relay_known_hosts
ph policy allow-key "$ALICE.pub" --name alice
expect_rc 0 "policy allow-key alice"

# ---------------------------------------------------------------------------
trace "part 1: key tiers with a session (dev-t, target_host, sshd reads every tier)"
TIERS=$WORK/tiers
printf '[known]\n[revoked]\n' >"$WORK/catalogue.toml"
write_keys_conf "$WORK/device-keys.toml" "$OP" "$TIERS" "$WORK/catalogue.toml" "$TIERS/customer_authorized_keys"
# The login user edits its tiers through `porthole keys` over ssh (no sudo
# here): it owns the directory; sshd's StrictModes accepts that.
chown "$OP" "$TIERS"
run "$PORTHOLE" keys --config "$WORK/device-keys.toml" install-sshd-config self --output "$WORK/tiers.dropin"
expect_rc 0 "keys install-sshd-config (drop-in and KRL)"
grep -q "AuthorizedKeysFile .*$TIERS/tmp_authorized_keys .*$TIERS/session_authorized_keys" "$WORK/tiers.dropin" ||
  fatal "the drop-in does not read the tiers: $(cat "$WORK/tiers.dropin")"
start_sshd target "$WORK/tiers.dropin" "LogLevel DEBUG1"
TARGET_LOG=${SSHD_LOG[target]}
start_device dev-t target_host "host_port = \"127.0.0.1:${SSHD_PORT[target]}\"
authorized_keys_path = \"$TIERS/session_authorized_keys\""

# sshd_said MARK TEXT WHAT: the target sshd logs TEXT (fixed) after MARK.
sshd_said() {
  use_sshd target
  expect_log "$1" "$2" "$3"
}
# alice_works WHEN: porthole connect with alice's session key runs a command.
alice_works() {
  local m
  m=$(stat -c %s "$TARGET_LOG")
  ph connect "$OP@dev-t" -- -F /dev/null echo "alice-$UNIQ"
  expect_rc 0 "alice's connect ($1)"
  [ "$OUT" = "alice-$UNIQ" ] || fail "alice's connect ($1): output '$OUT'; $ERR"
  sshd_said "$m" "Accepted publickey for $OP from 127.0.0.1" "alice logs in ($1)"
  sshd_said "$m" "$ALICE_FP found at $TIERS/session_authorized_keys" \
    "alice's key is found in the session tier ($1)"
}
# temp_ssh: OpenSSH through `porthole ssh-proxy` (alice's session and its
# relay key for the relay hop) with only the temporary key for the device.
temp_ssh() {
  run env HOME="$OP_HOME" ssh -F "$WORK/ssh_config" -i "$(key_path temp)" -o IdentitiesOnly=yes \
    -o BatchMode=yes "$OP@dev-t" echo "temp-$UNIQ"
}
keys_dev() {
  ph keys -F /dev/null --remote-porthole "$PORTHOLE" --remote-config "$WORK/device-keys.toml" "$@"
}

alice_works "the session opens"
SID_T=$(session_of dev-t)
[ -n "$SID_T" ] || fatal "no live session on dev-t after connect"
ph session show "$SID_T" --json
json_check "$OUT" "assert len(d['operator_keys']) == 1 and '$(key_blob temp)' not in d['operator_keys'][0], d" \
  "the session lists alice's key only"

# The relay admits session keys only: the temporary key alone does not pass.
relay_ssh "$(key_path temp)" porthole
expect_rc 255 "the temporary key straight at the relay"
expect_err "Permission denied" "the relay refuses a key of no session"
expect_audit "any(e['kind'] == 'relay.refused' and e['actor'] == '$TEMP_FP' for e in events)" \
  "relay.refused names the temporary key"

keys_dev add "porthole:$OP@dev-t" "$(pub_path temp)" 1h
expect_rc 0 "keys add porthole:$OP@dev-t temp 1h"
expect_key_count "$TIERS/tmp_authorized_keys" temp 1 "keys add through the relay"
grep -F -- "$(key_blob temp)" "$TIERS/tmp_authorized_keys" | grep -q '^expiry-time="[0-9]\{12\}Z" ssh-ed25519 ' ||
  fail "the temporary line lacks expiry-time: $(cat "$TIERS/tmp_authorized_keys")"
[ "$(count_key "$TIERS/session_authorized_keys" temp)" = 0 ] || fail "the temporary key reached the session tier"

ph ssh-config
expect_rc 0 "ssh-config"
printf '%s\n' "$OUT" >"$WORK/ssh_config"
m=$(stat -c %s "$TARGET_LOG")
temp_ssh
expect_rc 0 "the temporary key through alice's session"
[ "$OUT" = "temp-$UNIQ" ] || fail "temporary key login: output '$OUT'; $ERR"
sshd_said "$m" "Accepted publickey for $OP from 127.0.0.1 port" "the temporary key logs in"
sshd_said "$m" "$TEMP_FP found at $TIERS/tmp_authorized_keys" \
  "the device checked the temporary key itself, found in the temporary tier"
alice_works "while the temporary key is in"

# A few seconds of life: `keys set --tier temporary` takes sshd's
# expiry-time with seconds (`add` counts whole hours).
EXP_AT=$(($(date +%s) + 10))
EXP=$(date -u -d "@$EXP_AT" +%Y%m%d%H%M%SZ)
keys_dev set "porthole:$OP@dev-t" --tier temporary "expiry-time=\"$EXP\" $(pub_line temp)"
expect_rc 0 "keys set porthole:$OP@dev-t --tier temporary (expiry $EXP)"
grep -qF -- "expiry-time=\"$EXP\" ssh-ed25519 $(key_blob temp)" "$TIERS/tmp_authorized_keys" ||
  fail "the short expiry is not in the tier: $(cat "$TIERS/tmp_authorized_keys")"
temp_ssh
left=$((EXP_AT - $(date +%s)))
if ((left > 0)); then
  expect_rc 0 "the temporary key before its expiry ($left s left)"
  [ "$OUT" = "temp-$UNIQ" ] || fail "temporary key before expiry: output '$OUT'; $ERR"
else
  fail "the keys set call took too long to check the key before its expiry (machine too slow?)"
fi
# Wait for the wall clock to pass the expiry (nothing announces it).
left=$((EXP_AT + 1 - $(date +%s)))
((left <= 0)) || sleep "$left"
m=$(stat -c %s "$TARGET_LOG")
temp_ssh
expect_rc 255 "the temporary key after its expiry"
[[ "$OUT" != *"temp-$UNIQ"* ]] || fail "a command ran with the expired key"
expect_err "Permission denied" "the device refuses the expired key"
sshd_said "$m" "$TIERS/tmp_authorized_keys:1: entry expired at" "sshd's reason: the tier line expired"
keys_dev list "porthole:$OP@dev-t" --json
expect_rc 0 "keys list porthole:$OP@dev-t"
json_check "$OUT" "e = by_fp('$TEMP_FP')[0]; assert e['state'] == 'expired' and e['tier'] == 'temporary', e" \
  "keys list shows the temporary key expired"
alice_works "after the temporary key expired"
[ "$(session_of dev-t)" = "$SID_T" ] || fail "the session changed during part 1"
ph session close "$SID_T"
expect_rc 0 "close dev-t's session"
expect_dev_log dev-t 'session: ended' 10 "dev-t's tunnel ends with its session"
stop_device dev-t
stop_sshd target

# ---------------------------------------------------------------------------
trace "part 3: D-Bus push with the real server (dev-d: long polls off, poll_timeout 1h)"
BUS=$WORK/bus
export DBUS_SESSION_BUS_ADDRESS=unix:path=$BUS
dbus-daemon --session --address="$DBUS_SESSION_BUS_ADDRESS" --nofork --nopidfile \
  </dev/null >"$WORK/dbus.log" 2>&1 &
BUS_PID=$!
at_exit _stop_pid "$BUS_PID"
wait_for 10 test -S "$BUS" || fatal "dbus-daemon did not start: $(cat "$WORK/dbus.log")"
# [device] settings of this agent only, through the documented environment
# overrides (start_device writes poll_timeout 1 s into the file).
PORTHOLE__DEVICE__POLL_TIMEOUT=1h PORTHOLE__DEVICE__ENABLE_DBUS_CLIENT=true \
  DEV_PORTHOLE_EXTRA='long_poll_wait = "0s"' start_device dev-d spawned_sshd
expect_dev_log dev-d 'polling https://.* every 1h \(mode spawned_sshd\)' 5 "poll_timeout 1h"
expect_dev_log dev-d 'dbus: connected to the session bus' 10 "the agent is on the bus"
grep -q 'the server offers long polls' "${DEV_LOG[dev-d]}" && fail "dev-d long-polls despite long_poll_wait 0s"
# Its one poll at start is over (the status, on the same bus, says so).
# shellcheck disable=SC2317 # called through wait_for
agent_polled() {
  run "$PORTHOLE_AGENT" status --json
  [ "$RC" = 0 ] && printf '%s' "$OUT" | python3 -c \
    'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["last_poll_result"] == "no session" else 1)'
}
wait_for 10 agent_polled || fatal "dev-d never reported its first poll: $OUT $ERR"
m=$(file_size "${DEV_LOG[dev-d]}")
ph session open dev-d --json
expect_rc 0 "session open dev-d"
SID_D=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
if log_wait "${DEV_LOG[dev-d]}" 'session: tunnel up' 2 "$m" "${DEV_PID[dev-d]}" >/dev/null; then
  fail "dev-d picked the session up without a push (long polls or poll_timeout not in effect)"
fi
# The emitter: owns io.torizon.TznService, prints the time of the signal.
EMIT_NS=$(/usr/bin/python3 - <<'EOF'
import time
from gi.repository import Gio, GLib
bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
reply = bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                      "RequestName", GLib.Variant("(su)", ("io.torizon.TznService", 4)),
                      GLib.VariantType("(u)"), Gio.DBusCallFlags.NONE, 5000, None)
assert reply.unpack()[0] in (1, 4), "could not own io.torizon.TznService"
t = time.time_ns()
bus.emit_signal(None, "/io/torizon/TznService", "io.torizon.TznService1", "TznMessageSig",
                GLib.Variant("(ss)", ("PollRasNow", "{}")))
bus.flush_sync(None)
print(t)
EOF
) || fatal "the PollRasNow emitter failed"
line=$(log_wait "${DEV_LOG[dev-d]}" 'session: tunnel up' 10 "$m" "${DEV_PID[dev-d]}") ||
  fatal "no tunnel after PollRasNow: $(tail -c +"$((m + 1))" "${DEV_LOG[dev-d]}" | tail -8)"
seen_ms=$(now_ms)
# The agent's own timestamp of the line (UTC, ms).
up_ms=$(python3 -c 'import datetime,sys; t=sys.argv[1].split()[0].rstrip("Z"); print(int(datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc).timestamp()*1000))' "$line")
push_ms=$((up_ms - EMIT_NS / 1000000))
trace "FIGURE D-Bus PollRasNow -> tunnel up (agent log): ${push_ms} ms; seen by the test after $((seen_ms - EMIT_NS / 1000000)) ms"
((push_ms >= 0 && push_ms < 1000)) || fail "tunnel up ${push_ms} ms after PollRasNow, want < 1000"
expect_dev_log dev-d 'dbus: PollRasNow from .*: polling now' 1 "the agent acted on the signal" "$m"
ph connect "$OP@dev-d" -- -F /dev/null echo "pushed-$UNIQ"
expect_rc 0 "connect through the pushed session"
[ "$OUT" = "pushed-$UNIQ" ] || fail "connect dev-d: output '$OUT'; $ERR"
[ "$(session_of dev-d)" = "$SID_D" ] || fail "connect did not use the pushed session"
ph session close "$SID_D"
expect_rc 0 "close dev-d's session"
stop_device dev-d

# ---------------------------------------------------------------------------
trace "part 2: offline-signed policy; a key the server adds on its own is refused by the agent"
start_device dev-p spawned_sshd
PDIR=$WORK/dev/dev-p
ph policy keygen --out "$WORK/keys/rs.key"
expect_rc 0 "porthole policy keygen"
srv root rotate --remote-sessions-key "$WORK/keys/rs.key.pub"
expect_rc 0 "root rotate --remote-sessions-key"
[[ $OUT == *offline* ]] || fail "rotate does not say the key is offline: $OUT"
srv policy export -o "$WORK/draft.json"
expect_rc 0 "policy export"
run "$PORTHOLE" policy sign --key "$WORK/keys/rs.key" "$WORK/draft.json" -o "$WORK/signed.json"
expect_rc 0 "porthole policy sign"
srv policy import "$WORK/signed.json"
expect_rc 0 "policy import of the offline-signed document"

served_policy() {
  curl -sS --fail-with-body --cacert "$PDIR/bundle/root.crt" --cert "$PDIR/bundle/client.pem" \
    --key "$PDIR/bundle/pkey.pem" "https://127.0.0.1:$DEVICE_API_PORT/director/remote-sessions.json" ||
    fatal "GET director/remote-sessions.json failed"
}
srv policy allow-key "$(pub_path mallory)" --name mallory
expect_rc 0 "allow-key mallory with the key offline"
expect_out "NOT served" "allow-key with the key offline changes the draft only"
[[ $(served_policy) != *"$(key_blob mallory)"* ]] || fail "mallory's key is served without the offline signature"
ph session open dev-p --key "$(pub_path mallory)"
expect_rc 1 "session open with the draft-only key"
expect_err "not in the signed policy" "the server refuses a key of the draft only"
ph connect --key "$(key_path mallory)" "$OP@dev-p" --wait 5s -- -F /dev/null echo "mallory-$UNIQ"
expect_rc 1 "connect with the draft-only key"
expect_err "not in the signed policy" "connect: the server refuses a key of the draft only"
[[ $OUT != *"mallory-$UNIQ"* ]] || fail "a command ran with the draft-only key"

m=$(file_size "${DEV_LOG[dev-p]}")
ph connect "$OP@dev-p" -- -F /dev/null echo "offline-$UNIQ"
expect_rc 0 "connect with the offline-signed policy's key"
[ "$OUT" = "offline-$UNIQ" ] || fail "connect dev-p: output '$OUT'; $ERR"
SID_P=$(session_of dev-p)
[ -n "$SID_P" ] || fatal "no live session on dev-p"
if tail -c +"$((m + 1))" "${DEV_LOG[dev-p]}" | grep -E 'invalid session|Failed to verify' | grep -q .; then
  fail "the agent refused the offline-signed policy: $(grep -E 'invalid session|Failed to verify' "${DEV_LOG[dev-p]}" | tail -2)"
fi

trace "a misbehaving server: mallory's key put into the live session behind the policy's back"
MALLORY_SHA=$(python3 -c 'import base64,hashlib,sys; print(hashlib.sha256(base64.b64decode(sys.argv[1])).hexdigest())' "$(key_blob mallory)")
m=$(file_size "${DEV_LOG[dev-p]}")
stop_server TERM
sqlite3 "$SRV_DATA/server.db" \
  "UPDATE sessions SET operator_keys = json_insert(operator_keys, '\$[#]', '$(pub_line mallory)') WHERE id = '$SID_P';
   INSERT INTO session_keys (session_id, blob_sha256) VALUES ('$SID_P', '$MALLORY_SHA');" ||
  fatal "could not edit the store"
[ "$(sqlite3 "$SRV_DATA/server.db" "SELECT json_array_length(operator_keys) FROM sessions WHERE id = '$SID_P'")" = 2 ] ||
  fatal "the store edit did not take"
start_server
line=$(log_wait "${DEV_LOG[dev-p]}" 'invalid session received from server' 20 "$m" "${DEV_PID[dev-p]}") ||
  fail "the agent did not refuse the session with mallory's key: $(tail -c +"$((m + 1))" "${DEV_LOG[dev-p]}" | tail -8)"
trace "agent: ${line#* }"
ph session show "$SID_P" --json
json_check "$OUT" "assert any('$(key_blob mallory)' in k for k in d['operator_keys']), d" \
  "the server now hands out mallory's key"
ph connect --key "$(key_path mallory)" "$OP@dev-p" --wait 4s -- -F /dev/null echo "mallory-$UNIQ"
expect_rc 1 "connect with mallory's key in the server's session"
[[ $OUT != *"mallory-$UNIQ"* ]] || fail "a command ran with mallory's key"
expect_err "did not connect" "no tunnel for the session with mallory's key"
[ "$(count_key "$PDIR/sshd/authorized_keys" mallory)" = 0 ] ||
  fail "mallory's key reached the device's sshd: $(cat "$PDIR/sshd/authorized_keys")"
if tail -c +"$((m + 1))" "${DEV_LOG[dev-p]}" | grep -q 'session: tunnel up'; then
  fail "the agent brought a tunnel up for the session with mallory's key"
fi
dev_alive dev-p || fail "the agent died on the bad session"

trace "the honest session works again"
ph session close "$SID_P"
expect_rc 0 "close the tampered session"
ph connect "$OP@dev-p" -- -F /dev/null echo "again-$UNIQ"
expect_rc 0 "connect after the tampered session"
[ "$OUT" = "again-$UNIQ" ] || fail "connect dev-p again: output '$OUT'; $ERR"
pass
