#!/bin/sh
# Regenerates fuzz/corpus/server_api/: request bodies for the server's
# handlers (fuzz/server_api_fuzz.cc). The first byte selects the endpoint
# (0 public-keys, 1 host-keys, 2 command result, 3 long-poll query,
# 4 session open, 5 command create, 6 policy key, 7 policy command,
# 8 policy import, 9 audit query, 10 GET path, 11 policy draft).
# Run from anywhere: sh fuzz/corpus/mkcorpus_server_api.sh
set -eu

out=$(cd "$(dirname "$0")" && pwd)/server_api
rm -rf "$out"
mkdir -p "$out"
key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPFSnAAFo4wQLdgWhvXNYCGxSXHbQEg5/8LhNV4FlKSg alice@example.org'

seed() { printf "\\$(printf '%03o' "$2")%s" "$3" > "$out/$1"; }

seed public-key 0 '{"key":"'"$key"'"}'
seed host-keys 1 '{"keys":["'"$key"'"]}'
seed result 2 '{"success":true,"stdout":"test","stderr":"","error":null,"exit_code":0,"finished_at":"2025-07-30T16:00:03.123456789Z"}'
seed result-rejected 2 '{"success":false,"stdout":"","stderr":"","exit_code":null,"finished_at":"2025-07-30T16:00:03Z","error":{"message":"invalid command received from server","validation_result":{"InvalidUptaneMetadata":["no remote_commands in remote-sessions"]}}}'
seed wait 3 '25'
seed session 4 '{"device":"dev","keys":["'"$key"'"],"ttl":"1h","relay_keys":[]}'
seed command 5 '{"device":"dev","name":"echo","args":["test"]}'
seed policy-key 6 '{"key":"'"$key"'","name":"alice"}'
seed policy-command 7 '{"name":"restart-service","args":["aktualizr"]}'
seed import 8 '{"signatures":[],"signed":{"_type":"Remote-Sessions","expires":"2034-03-12T15:48:31Z","version":9,"remote_sessions":{"ssh":{"authorized_keys":{},"ra_server_hosts":[],"ra_server_ssh_pubkeys":[]}}}}'
seed audit 9 '2026-01-01T00:00:00Z'
seed get-sessions 10 'sessions'
seed draft 11 '{"authorized_keys":[{"pubkey":"'"$key"'","name":"alice"}],"ra_server_hosts":["relay.example.com"],"ra_server_ssh_pubkeys":[],"allowed_commands":{"echo":["test"]}}'
