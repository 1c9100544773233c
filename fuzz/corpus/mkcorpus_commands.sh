#!/bin/sh
# Regenerates fuzz/corpus/commands_response/: GET commands bodies (PROTOCOL.md
# 3.3 C), RAS 400 bodies and pending-result records (5.6), one per file, no
# final newline. Run from anywhere: sh fuzz/corpus/mkcorpus_commands.sh
set -eu

out=$(cd "$(dirname "$0")" && pwd)/commands_response
rm -rf "$out"
mkdir -p "$out"
id=urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11

seed() { printf '%s' "$2" > "$out/$1"; }

seed rac-example '{"values":[{"id":"'$id'","name":"restart-service","args":["aktualizr"],"created_at":"2025-07-30T16:00:00Z"}]}'
seed empty '{"values":[]}'
seed echo-two '{"values":[{"id":"'$id'","name":"echo","args":["test"],"created_at":"2025-07-30T16:00:00.123+02:00"},{"id":"urn:tdx-ota:command:1b61a0c43f5e4c1e9a8e5a0d0e7c2f11","name":"reboot","args":[],"created_at":"2025-07-30T16:00:00Z"}]}'
seed unknown-name '{"values":[{"id":"urn:tdx-ota:command:{0B61A0C4-3F5E-4C1E-9A8E-5A0D0E7C2F11}","name":"self-destruct","args":[],"created_at":"2025-07-30T16:00:00Z"}]}'
seed malformed-args '{"values":[{"id":"'$id'","name":"echo","args":"test"}]}'
seed bad-id '{"values":[{"id":"urn:tdx-ota:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11","name":"echo","args":[],"created_at":"2025-07-30T16:00:00Z"}]}'
seed ras-error '{"code":"command_not_found","description":"no such command"}'
seed record-rac '{
  "cmd_id": "'$id'",
  "output": {
    "success": true,
    "stdout": "test",
    "stderr": "",
    "error": null,
    "exit_code": 0,
    "finished_at": "2025-07-30T16:00:03.123456789Z"
  },
  "error": "Could not send command result: "
}'
seed record-rejected '{"cmd_id":"'$id'","output":{"success":false,"stdout":"","stderr":"","error":{"message":"invalid command received from server","validation_result":{"InvalidUptaneMetadata":["no remote_commands in remote-sessions"]}},"exit_code":null,"finished_at":"2025-07-30T16:00:03Z"},"error":null}'
seed record-unknown '{"cmd_id":"'$id'","output":{"success":false,"stdout":"unknown","stderr":"unknown","error":"a lock file for the command exists, but no output is available","exit_code":null,"finished_at":"2025-07-30T16:00:03.5Z"},"error":"a lock file for the command exists, but no output is available"}'
seed record-far-past '{"cmd_id":"'$id'","output":{"success":true,"stdout":"","stderr":"","exit_code":0,"finished_at":"0753-07-30T16:00:03.123456789Z"}}'
seed record-torn '{"cmd_id": "'$id'", "output": {"succ'
