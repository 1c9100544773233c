#!/usr/bin/env bash
# agent_privileges: the agent started as root drops to a real unprivileged
# user made by the test (device.unprivileged_user_group), on a system bus
# run with packaging/org.porthole.Agent.conf:
#   - it cannot regain root: /proc/PID/status shows the user's ids in all
#     four slots (real, effective, saved, file system), the user's groups
#     and no capabilities; a child with the agent's credentials (a remote
#     command configured through [porthole] restart_service_command) has
#     setuid(0) refused with EPERM;
#   - it keeps serving sessions: an operator logs in through the embedded
#     server and runs as the agent's user;
#   - the system bus policy lets it own org.porthole.Agent and receive
#     TznMessageSig (a changed session is cut right after the signal);
#     everyone may read its status, only root (and the agent's user) may
#     call PollNow;
#   - SIGHUP after the drop: the client key (root's, 0600) cannot be read
#     again, the material read at start stays in use (said in the log) and
#     the session comes back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
require_cmd ssh dbus-daemon gdbus runuser xmllint
EMIT=$(cd "$(dirname "$0")/../tools" && pwd)/tzn_emit.py
PKG=$(cd "$(dirname "$0")/../../packaging" && pwd)
/usr/bin/python3 -c 'import gi' 2>/dev/null || fatal "python3-gi missing (scripts/setup installs it)"
[ -f /usr/share/dbus-1/system.conf ] || fatal "no /usr/share/dbus-1/system.conf (package dbus)"

AG=ag$UNIQ
OP=op$UNIQ
make_user "$AG"
make_user "$OP"
AG_UID=$(id -u "$AG")
AG_GROUP=$(id -gn "$AG")
new_key alice
new_key bob

trace "a system bus with Debian's default policy and org.porthole.Agent.conf"
xmllint --noout "$PKG/org.porthole.Agent.conf" || fail "org.porthole.Agent.conf is not well-formed XML"
BUS_DIR=$WORK/sysbus
install -d -m 755 "$BUS_DIR"
sed "s/user=\"porthole\"/user=\"$AG\"/" "$PKG/org.porthole.Agent.conf" >"$BUS_DIR/org.porthole.Agent.conf"
# tzn-mqtt's own policy (not porthole's): root owns io.torizon.TznService.
cat >"$BUS_DIR/tzn.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><policy user="root"><allow own="io.torizon.TznService"/></policy></busconfig>
EOF
python3 - "$BUS_DIR" <<'EOF'
import re, sys
d = sys.argv[1]
conf = open("/usr/share/dbus-1/system.conf").read()
conf = re.sub(r"<!--.*?-->", "", conf, flags=re.S)
for tag in ("user", "pidfile", "servicehelper", "listen"):
    conf = re.sub(r"\s*<%s>.*?</%s>" % (tag, tag), "", conf, flags=re.S)
for tag in ("fork", "syslog", "standard_system_servicedirs"):
    conf = conf.replace("<%s/>" % tag, "")
conf = re.sub(r"\s*<include(dir)?\b[^>]*>.*?</include(dir)?>", "", conf, flags=re.S)
conf = conf.replace("</busconfig>",
    "  <listen>unix:path=%s/socket</listen>\n"
    "  <include>%s/org.porthole.Agent.conf</include>\n"
    "  <include>%s/tzn.conf</include>\n</busconfig>\n" % (d, d, d))
open(d + "/system.conf", "w").write(conf)
EOF
dbus-daemon --config-file="$BUS_DIR/system.conf" --nofork --nopidfile </dev/null >"$WORK/dbus.log" 2>&1 &
BUS_PID=$!
at_exit kill "$BUS_PID"
wait_for 10 test -S "$BUS_DIR/socket" || fatal "the system bus did not start: $(cat "$WORK/dbus.log")"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$BUS_DIR/socket

trace "the agent: started as root, dropping to $AG"
start_ras
start_relay
make_policy --operator "$(pub_path alice)" --operator "$(pub_path bob)" --allow-command restart-service=svc
agdir=$WORK/agent-$AG
install -d -m 755 -o "$AG" -g "$AG_GROUP" "$agdir"
# The agent reads its configuration again after the drop (SIGHUP): the
# file must be readable by its user; the client key stays root's.
chmod 711 "$WORK"
chmod 600 "$RAS_PKI/client.key"
AGENT_VALIDATION_SECS=3600 AGENT_SERVER_KEY=$agdir/embedded_host_key AGENT_DEVICE_KEY=$agdir/device-key.sec \
  AGENT_DEVICE_EXTRA="unprivileged_user_group = \"$AG:$AG_GROUP\"
enable_dbus_client = true" \
  AGENT_PORTHOLE_EXTRA='dbus_bus = "system"
restart_service_command = ["/usr/bin/python3", "-c", "import os, sys\ntry:\n    os.setuid(0)\n    print(\"regained root\", sys.argv[1])\nexcept OSError as e:\n    print(\"refused\", e.errno, sys.argv[1])", "{service}"]' \
  write_agent_config embedded
sed -i "s|^local_tuf_repo_path = .*|local_tuf_repo_path = \"$agdir/uptane-repo\"|; s|^commands_dir = .*|commands_dir = \"$agdir/commands\"|" "$WORK/agent.toml"
chmod 644 "$WORK/agent.toml"
start_agent
wait_request POST /ras/public-keys 20 >/dev/null || fatal "the unprivileged agent did not register"
expect_agent_log "running as $AG:$AG_GROUP \(privileges dropped; setuid\(0\) refused as it must be\)" 5 "privilege drop"
expect_agent_log "dbus: connected to the system bus as .*; serving org.porthole.Agent1 as org.porthole.Agent" 10 \
  "owns org.porthole.Agent on the system bus"

trace "it cannot regain root"
status=/proc/$AGENT_PID/status
for f in Uid Gid; do
  want=$([ $f = Uid ] && echo "$AG_UID" || id -g "$AG")
  got=$(awk -v f="$f:" '$1 == f {print $2, $3, $4, $5}' "$status")
  [ "$got" = "$want $want $want $want" ] || fail "$f: $got, want $want in all four"
done
for f in CapInh CapPrm CapEff CapAmb; do
  got=$(awk -v f="$f:" '$1 == f {print $2}' "$status")
  [ "$got" = 0000000000000000 ] || fail "$f: $got, want none"
done
got_groups=$(awk '$1 == "Groups:" {$1 = ""; print}' "$status" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
want_groups=$(id -G "$AG" | tr ' ' '\n' | sort -n | tr '\n' ' ')
[ "$got_groups" = "$want_groups" ] || fail "supplementary groups: $got_groups, want $want_groups (initgroups)"
printf '{"values":[{"id":"urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11","name":"restart-service","args":["svc"],"created_at":"2026-11-23T10:00:00Z"}]}\n' |
  atomic_write "$RAS_STATE/commands.json"
kill -USR1 "$AGENT_PID"
wait_for 15 test -s "$RAS_STATE/results.jsonl" || fail "no result of the setuid probe"
json_check "$(cat "$RAS_STATE/results.jsonl")" '
r = d["result"]
assert r["stdout"] == "refused 1 svc\n", r' "setuid(0) from the agent's credentials"

trace "it keeps serving sessions"
relay_authorize
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)"
kill -USR1 "$AGENT_PID"
expect_agent_log "session: tunnel up: .*mode embedded" 15 "tunnel up (unprivileged)" "$mark"
SSH=(ssh -F /dev/null -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null
  -o StrictHostKeyChecking=no -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10
  -p "$SESSION_PORT")
run "${SSH[@]}" -i "$(key_path alice)" anyone@127.0.0.1 'id -u; id -un'
expect_rc 0 "login through the unprivileged agent"
[ "$OUT" = "$AG_UID
$AG" ] || fail "the session runs as '$OUT', want $AG_UID/$AG"

trace "the system bus policy"
run runuser -u "$OP" -- env DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" "$PORTHOLE_AGENT" status --system --json
expect_rc 0 "status --system as another user"
json_check "$OUT" 'assert d["session_state"] == "active" and d["mode"] == "embedded", d' "status over the system bus"
run runuser -u "$OP" -- env DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" \
  gdbus call --system --dest org.porthole.Agent --object-path /org/porthole/Agent \
  --method org.freedesktop.DBus.Properties.Get org.porthole.Agent1 SessionState
expect_rc 0 "a property as another user"
[[ $OUT == *active* ]] || fail "SessionState as another user: $OUT"
run runuser -u "$OP" -- env DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" \
  gdbus call --system --dest org.porthole.Agent --object-path /org/porthole/Agent \
  --method org.porthole.Agent1.PollNow
[ "$RC" != 0 ] && [[ $ERR == *AccessDenied* ]] || fail "PollNow as another user: rc $RC, $ERR (want AccessDenied)"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path bob)"
run gdbus call --system --dest org.porthole.Agent --object-path /org/porthole/Agent \
  --method org.porthole.Agent1.PollNow
expect_rc 0 "PollNow as root"
expect_agent_log "session: ended: keys changed" 5 "PollNow (root) re-validated" "$mark"
expect_agent_log "session: tunnel up" 15 "tunnel up with bob" "$mark"
mark=$(file_size "$AGENT_LOG")
write_session --operator "$(pub_path alice)"
DBUS_SESSION_BUS_ADDRESS=$DBUS_SYSTEM_BUS_ADDRESS /usr/bin/python3 "$EMIT" PollRasNow '{}' ||
  fail "tzn_emit on the system bus failed"
expect_agent_log "session: ended: keys changed" 5 "TznMessageSig received on the system bus" "$mark"
expect_agent_log "session: tunnel up" 15 "tunnel up with alice again" "$mark"

trace "SIGHUP after the drop keeps the TLS material read at start"
mark=$(file_size "$AGENT_LOG")
sed -i 's/^poll_timeout = .*/poll_timeout = { secs = 2, nanos = 0 }/' "$WORK/agent.toml"
kill -HUP "$AGENT_PID"
expect_agent_log "reload: cannot read the TLS material now \(.*client.key.*\): privileges were dropped at start; keeping the certificate and key read then" \
  5 "TLS note" "$mark"
expect_agent_log "session: ended: configuration reloaded" 5 "reload ended the session" "$mark"
expect_agent_log "client.key.*: using the certificate and key read before the privilege drop" 5 "kept material" "$mark"
expect_agent_log "polling https://.* every 2s" 5 "new poll_timeout" "$mark"
expect_agent_log "session: tunnel up" 15 "tunnel up after the reload" "$mark"
run "${SSH[@]}" -i "$(key_path alice)" anyone@127.0.0.1 'id -u'
expect_rc 0 "login after the reload"
[ "$OUT" = "$AG_UID" ] || fail "after the reload the session runs as '$OUT'"
[ "$(awk '$1 == "Uid:" {print $2, $3, $4, $5}' "/proc/$AGENT_PID/status")" = "$AG_UID $AG_UID $AG_UID $AG_UID" ] ||
  fail "the reload changed the agent's ids"

stop_agent
[ "$AGENT_RC" = 0 ] || fail "SIGTERM: agent exit $AGENT_RC, want 0"
pass
