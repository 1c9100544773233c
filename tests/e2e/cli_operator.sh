#!/usr/bin/env bash
# cli_operator: the porthole operator commands against the real
# porthole-server (`run`, on free loopback ports) with a real porthole-agent
# (embedded mode) as dev-7 and a device that never connects (dev-8): login
# with a pinned CA, devices, sessions, remote commands run by the agent with
# their exit codes, audit (--device, --since), policy editing (allow/deny a
# key by name and by fingerprint, commands) and offline signing (a document
# signed by a key the root does not trust is refused), logout; bad input
# and a hostile config file.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_cmd openssl curl

ssh-keygen -q -t ed25519 -N '' -C alice@e2e -f "$OP_HOME/.ssh/id_ed25519" </dev/null
new_key bob
start_server
# restart-service: a stand-in that fails like systemctl would; reboot: one
# that only says so.
DEV_PORTHOLE_EXTRA='restart_service_command = ["sh", "-c", "echo Failed to restart $0 >&2; exit 3", "{service}"]
reboot_command = ["sh", "-c", "echo reboot in $0 s", "{delay_seconds}"]' start_device dev-7 embedded
srv device add dev-8 --out "$WORK/dev-8"
[ "$RC" = 0 ] || fatal "device add dev-8: $ERR"
DEV7=${DEV_ID[dev-7]}
CFG=$OP_HOME/.config/porthole/operator.toml

trace "every command answers --help"
for c in login logout devices device session connect ssh-config ssh-proxy command audit policy; do
  ph "$c" --help
  expect_rc 0 "porthole $c --help"
done

trace "login: a wrong pin is refused, nothing written"
ph login "$API_URL" --ca-sha256 "$(printf '%064d' 0)" --token-file "$WORK/token"
expect_rc 1 "login with a wrong pin"
expect_one_line_stderr "login with a wrong pin"
[ ! -e "$CFG" ] || fail "a failed login wrote $CFG"

trace "login: the right pin, token from stdin"
RC=0
env HOME="$OP_HOME" "$PORTHOLE" login "$API_URL" --ca-sha256 "$CA_PIN" \
  <"$WORK/token" >"$WORK/.out" 2>"$WORK/.err" || RC=$?
OUT=$(cat "$WORK/.out") ERR=$(cat "$WORK/.err")
expect_rc 0 "login with the pin"
expect_out "logged in to $API_URL" "login"
[ "$(stat -c %a "$CFG")" = 600 ] || fail "$CFG mode $(stat -c %a "$CFG"), want 600"
[ "$(stat -c %a "$(dirname "$CFG")")" = 700 ] || fail "config dir not 0700"
ph login "$API_URL" --ca "$SRV_DATA/tls/ca.pem" --token-file "$WORK/token" --json
expect_rc 0 "login --ca --json"
json_check "$OUT" "assert d['server'] == '$API_URL' and d['ca_sha256'] == '$CA_PIN', d" "login --json"

trace "devices"
ph devices
expect_rc 0 "devices"
expect_out "NAME" "devices table header"
expect_out "dev-7  $DEV7" "devices table row"
ph devices --json
json_check "$OUT" "assert [x['name'] for x in d['devices']] == ['dev-7', 'dev-8'], d" "devices --json"
ph device show dev-7
expect_out "name:" "device show"
ph device show nope
expect_rc 1 "device show of an unknown device"
expect_one_line_stderr "device show nope"
expect_err "no device 'nope'" "device show nope"

trace "policy: alice's key and the commands the device may run"
ph policy allow-key "$OP_HOME/.ssh/id_ed25519.pub" --name alice
expect_rc 0 "policy allow-key alice"
ph policy allow-command echo hello world
expect_rc 0 "policy allow-command echo"
ph policy allow-command restart-service nginx
expect_rc 0 "policy allow-command restart-service"

trace "sessions: open, reuse, list, show, close"
ph session open dev-7 --for 30m --json
expect_rc 0 "session open"
SID=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
ph session open dev-7
expect_rc 0 "session open again"
expect_err "already has this live session" "the second open reuses"
expect_out "$SID" "reused session"
ph session list
expect_out "$SID" "session list"
ph session show "$SID"
expect_out "opened by:" "session show"
ph session open dev-7 --key "$(pub_path bob)"
expect_rc 1 "a session for a key that is not in the live one"
expect_err "does not list your key $(fingerprint bob)" "refusal names the key"
ph session close "$SID"
expect_rc 0 "session close"
expect_out "closed session $SID on dev-7" "session close"
ph session list
[[ "$OUT" != *"$SID"* ]] || fail "closed session still listed as live"
ph session list --all --json
json_check "$OUT" "assert d['sessions'][0]['state'] == 'closed', d" "session list --all"
ph session open dev-7 --key "$(pub_path bob)"
expect_rc 1 "a key the policy does not allow"
expect_err "key_not_allowed" "403 from the server"
ph session open dev-7 --for 1x
expect_rc 2 "bad --for"
expect_one_line_stderr "bad --for"

trace "commands: output and exit codes of the device"
ph command run dev-7 echo hello world
expect_rc 0 "command run echo"
[ "$OUT" = "hello world" ] || fail "echo output '$OUT'"
ph command run dev-7 restart-service nginx
expect_rc 3 "restart-service exits with the command's code"
expect_err "Failed to restart nginx" "the device's stderr"
ph command run dev-7 reboot
expect_rc 1 "reboot is not in the policy"
expect_err "command_not_allowed" "403 names the code"
ph policy allow-command reboot
expect_rc 0 "policy allow-command reboot"
ph command run dev-7 reboot
expect_rc 0 "reboot, now allowed, runs the device's reboot_command"
expect_out "reboot in 60 s" "the device's reboot_command output"
ph command run dev-7 echo hello --no-wait
expect_rc 0 "command run --no-wait"
[[ "$OUT" == urn:tdx-ota:command:* ]] || fail "--no-wait printed '$OUT', want the command id"
ph command list --device dev-7 --json
json_check "$OUT" "assert len(d['commands']) == 4, d" "command list"
# A finished one (the first echo, waited for above) in detail.
DONE=$(printf '%s' "$OUT" | python3 -c 'import json,sys
print([c["id"] for c in json.load(sys.stdin)["commands"] if c["args"] == ["hello", "world"]][0])')
ph command show "$DONE"
expect_rc 0 "command show"
grep -Eq '^command: +echo hello world$' <<<"$OUT" || fail "command show: no command line: $OUT"
expect_out $'stdout:\n  hello world' "command show prints the device's output"

trace "audit"
ph audit
expect_rc 0 "audit"
expect_out "session.open" "audit table"
ph audit --device dev-7 --since 1h --json
json_check "$OUT" "assert any(e['kind'] == 'command.result' for e in d['events']), d" "audit --json"
ph audit --since yesterday
expect_rc 2 "audit --since garbage"

trace "policy: show, allow/deny a key, offline signing"
ph policy show
expect_out "alice" "policy show"
ph policy allow-key "$(pub_path bob)" --name bob
expect_rc 0 "policy allow-key"
expect_out "signed and served" "allow-key"
ph policy deny-key bob
expect_rc 0 "policy deny-key by name"
ph policy show --json
json_check "$OUT" "assert all(k['name'] != 'bob' for k in d['published']['authorized_keys']), d" "bob denied"
ph policy allow-key "$(pub_path bob)" --name bob
expect_rc 0 "policy allow-key bob again"
ph policy deny-key "$(fingerprint bob)"
expect_rc 0 "policy deny-key by fingerprint (holds '/': a query parameter)"
ph policy show --json
json_check "$OUT" "assert all('$(key_blob bob)' not in k['pubkey'] for k in d['published']['authorized_keys']), d" "bob denied by fingerprint"
ph policy deny-key nobody-$UNIQ
expect_rc 1 "deny-key of a key the policy does not hold"
expect_one_line_stderr "deny-key nobody"
ph policy keygen --out "$WORK/rs.key"
expect_rc 0 "policy keygen"
[ "$(stat -c %a "$WORK/rs.key")" = 600 ] || fail "signing key mode $(stat -c %a "$WORK/rs.key")"
ph policy keygen --out "$WORK/rs.key"
expect_rc 1 "keygen refuses to overwrite"
ph policy export -o "$WORK/export.json"
expect_rc 0 "policy export"
ph policy sign --key "$WORK/rs.key" "$WORK/export.json" -o "$WORK/signed.json"
expect_rc 0 "policy sign"
json_check "$(cat "$WORK/signed.json")" "assert len(d['signatures']) == 1, d" "one signature"
ph policy sign --key "$WORK/rs.key" "$WORK/signed.json"
expect_rc 2 "signing twice with the same key"
expect_err "already signed by key" "duplicate signature"
ph policy import "$WORK/signed.json"
expect_rc 2 "policy import of a document signed by a key the root does not trust (400: bad input)"
expect_one_line_stderr "policy import refused"
expect_audit "any(e['kind'] == 'policy.change' for e in events)" "policy changes are audited"

trace "a hostile config file is refused"
chmod 644 "$CFG"
ph devices
expect_rc 1 "world-readable config"
expect_err "lets others read the token" "mode check"
chmod 600 "$CFG"

trace "logout"
ph logout
expect_rc 0 "logout"
[ ! -e "$CFG" ] || fail "logout left $CFG"
ph devices
expect_rc 1 "devices after logout"
expect_err "not logged in" "devices after logout"
pass
