#!/bin/sh
# Regenerates the seed corpora of the operator CLI's fuzz targets:
#   corpus/operator_api/     operator API answers (docs/operator-api.md)
#   corpus/operator_config/  ~/.config/porthole/operator.toml files, with a
#                            throw-away CA certificate made here by openssl
#   corpus/policy_sign/      documents as `porthole-server policy export`
#                            writes them (and a root)
# Run from anywhere: sh fuzz/corpus/mkcorpus_cli.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
api="$here/operator_api"
cfg="$here/operator_config"
sign="$here/policy_sign"
rm -rf "$api" "$cfg" "$sign"
mkdir -p "$api" "$cfg" "$sign"
seed() { printf '%s' "$3" > "$1/$2"; }

key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPp6T7ZEBsNvVYBzrb/XyD8eDqhrFjWgDvtKwZEvuIE1 alice'
relay='{"host": "relay.example.com", "port": 2222, "host_key": "'"$key"'"}'
device='{"id": "6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f", "name": "dev-7", "created_at": "2026-12-01T10:00:00Z", "removed_at": null, "last_seen_at": "2026-12-04T09:59:30Z", "cert_sha256": "ab", "cert_not_after": "2027-12-01T10:00:00Z", "ssh_key": "'"$key"'", "ssh_key_fingerprint": "SHA256:x", "host_keys": ["'"$key"'"], "session": "s-1", "tunnel_up": true}'
session='{"id": "s-1", "device": "6f1c", "device_name": "dev-7", "operator_keys": ["'"$key"'"], "relay_keys": [], "reverse_port": 41022, "opened_by": "alice", "created_at": "2026-12-04T09:00:00Z", "expires_at": "2026-12-04T11:00:00Z", "state": "open", "ended_at": null, "end_reason": "", "tunnel_up": true, "tunnel_changed_at": "2026-12-04T09:01:00Z", "relay": '"$relay"'}'
command='{"id": "urn:tdx-ota:command:0b61", "device": "6f1c", "device_name": "dev-7", "name": "echo", "args": ["test"], "created_by": "alice", "created_at": "2026-12-04T09:00:00Z", "state": "done", "result": {"success": true, "exit_code": 0, "stdout": "test\n", "stderr": "", "error": null, "finished_at": "2026-12-04T09:00:01Z", "received_at": "2026-12-04T09:00:01Z"}}'
rejected='{"id": "u", "name": "reboot", "state": "done", "result": {"success": false, "exit_code": 0, "error": {"message": "invalid command received from server"}}}'
event='{"seq": 12, "at": "2026-12-04T10:00:00Z", "kind": "session.open", "device": "dev-7", "session": "s-1", "actor": "alice", "details": {"ttl": 3600}}'
policy='{"authorized_keys": [{"pubkey": "'"$key"'", "name": "alice"}], "ra_server_hosts": ["relay.example.com"], "ra_server_ssh_pubkeys": ["'"$key"'"], "allowed_commands": {"echo": ["test"]}}'
seed "$api" device "$device"
seed "$api" devices '{"devices": ['"$device"', {"id": "x", "name": "gw-\u001b[2J"}]}'
seed "$api" session "$session"
seed "$api" sessions '{"sessions": ['"$session"']}'
seed "$api" command "$command"
seed "$api" command-rejected "$rejected"
seed "$api" commands '{"commands": ['"$command"', '"$rejected"']}'
seed "$api" events '{"events": ['"$event"']}'
seed "$api" relay "$relay"
seed "$api" policy '{"root": {"version": 1, "expires": "2027-01-01T00:00:00Z", "keys_online": true}, "remote_sessions": {"version": 3, "expires": "2027-01-01T00:00:00Z", "keys_online": false}, "draft_published": false, "draft": '"$policy"', "published": '"$policy"'}'
seed "$api" error '{"code": "session_exists", "description": "dev-7 has a live session", "session": '"$session"'}'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$tmp/k" -subj /CN=corpus -days 1 -out "$tmp/c" 2>/dev/null
ca=$(awk '{printf "%s\\n", $0}' "$tmp/c")
seed "$cfg" good "# porthole operator login
server = \"https://porthole.example.com:8444\"
token = \"ph_abc\"
ca = \"$ca\"
"
seed "$cfg" two-cas "server = \"https://[::1]:8444/prefix/\"
token = \"t\"
ca = \"$ca$ca\"
"
seed "$cfg" unknown-key "server = \"https://h\"
token = \"t\"
ca = \"$ca\"
extra = 1
"
seed "$cfg" pin "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

seed "$sign" remote-sessions '{"signatures": [], "signed": {"_type": "Remote-Sessions", "version": 4, "expires": "2030-01-01T00:00:00Z", "remote_sessions": {"ssh": {"authorized_keys": {"0": {"pubkey": "'"$key"'"}}, "ra_server_hosts": ["relay.example.com"], "ra_server_ssh_pubkeys": []}, "version": "v1alpha"}}}'
seed "$sign" root '{"signatures": [{"keyid": "ab", "sig": "AA=="}], "signed": {"_type": "Root", "consistent_snapshot": false, "expires": "2031-01-01T00:00:00Z", "keys": {}, "roles": {}, "spec_version": "1.0", "version": 2}}'
seed "$sign" targets '{"signatures": [], "signed": {"_type": "Targets", "version": 1}}'
