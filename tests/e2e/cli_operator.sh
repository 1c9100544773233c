#!/usr/bin/env bash
# cli_operator: the porthole operator commands against a real HTTPS server
# playing porthole-server's operator API (tests/tools/operator_api_fake.py,
# until the real server lands): login with a pinned CA, devices, sessions,
# remote commands with their exit codes, audit, policy editing and offline
# signing, logout; bad input and a hostile config file.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_cmd openssl curl

make_pki
ssh-keygen -q -t ed25519 -N '' -C alice@e2e -f "$OP_HOME/.ssh/id_ed25519" </dev/null
new_key bob
new_key relayhost
cat >"$WORK/state.json" <<EOF2
{"token": "tok-$UNIQ",
 "relay": {"host": "relay.test", "port": 2222, "host_key": "$(pub_line relayhost)"},
 "devices": [{"id": "6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f", "name": "dev-7"},
             {"id": "7a2d1c9f-3b58-4c4f-8e1d-4a4c2d3e5f60", "name": "dev-8",
              "tunnel": "never"}],
 "policy": {"authorized_keys": [{"pubkey": "$(cat "$OP_HOME/.ssh/id_ed25519.pub")", "name": "alice"}],
            "ra_server_hosts": ["relay.test"], "ra_server_ssh_pubkeys": [],
            "allowed_commands": {"echo": ["hello", "world"], "restart-service": ["nginx"]}}}
EOF2
start_fake "$WORK/state.json"
printf 'tok-%s\n' "$UNIQ" >"$WORK/token"
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
printf 'tok-%s\n' "$UNIQ" | env HOME="$OP_HOME" "$PORTHOLE" login "$API_URL" --ca-sha256 "$CA_PIN" \
  >"$WORK/.out" 2>"$WORK/.err" || RC=$?
OUT=$(cat "$WORK/.out") ERR=$(cat "$WORK/.err")
expect_rc 0 "login with the pin"
expect_out "logged in to $API_URL" "login"
[ "$(stat -c %a "$CFG")" = 600 ] || fail "$CFG mode $(stat -c %a "$CFG"), want 600"
[ "$(stat -c %a "$(dirname "$CFG")")" = 700 ] || fail "config dir not 0700"
ph login "$API_URL" --ca "$WORK/pki/ca.crt" --token-file "$WORK/token" --json
expect_rc 0 "login --ca --json"
json_check "$OUT" "assert d['server'] == '$API_URL' and d['ca_sha256'] == '$CA_PIN', d" "login --json"

trace "devices"
ph devices
expect_rc 0 "devices"
expect_out "NAME" "devices table header"
expect_out "dev-7  6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f" "devices table row"
ph devices --json
json_check "$OUT" "assert [x['name'] for x in d['devices']] == ['dev-7', 'dev-8'], d" "devices --json"
ph device show dev-7
expect_out "name:" "device show"
ph device show nope
expect_rc 1 "device show of an unknown device"
expect_one_line_stderr "device show nope"
expect_err "no device nope" "device show nope"

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
expect_rc 1 "a command the device rejects"
expect_err "failed: invalid command received from server" "the device's error line"
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
expect_rc 0 "policy import"

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
