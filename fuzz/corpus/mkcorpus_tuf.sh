#!/bin/sh
# Regenerates the seed corpora of the core/tuf fuzz targets:
#   corpus/canonical_json/  RAC's JSON vectors plus canonical-JSON edge cases
#   corpus/tuf_metadata/    RAC's metadata vectors (the captured non-JSON
#                           server error included) plus small variants
#   corpus/device_session/  GET sessions bodies (PROTOCOL.md 3.3 B) and
#                           relay URLs
# The vectors are copied unchanged from ../shared/testdata/rac (RAC's
# tests/data, Apache-2.0). Run from anywhere: sh fuzz/corpus/mkcorpus_tuf.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
rac=$(cd "$here/../../../shared/testdata/rac" && pwd)
canon="$here/canonical_json"
meta="$here/tuf_metadata"
sess="$here/device_session"
rm -rf "$canon" "$meta" "$sess"
mkdir -p "$canon" "$meta" "$sess"

for f in root-rsa.json root-offline-updates-only.json remote-sessions.json \
         remote-sessions-86.json unsigned root-keys.json \
         remote-sessions-key.pub; do
  cp "$rac/$f" "$meta/rac-$f"
done
for f in root-rsa.json remote-sessions.json unsigned remote-sessions-key.pub; do
  cp "$rac/$f" "$canon/rac-$f"
done

seed() { printf '%s' "$3" > "$1/$2"; }
seed "$canon" escapes '"a\"b\\c\nd\t\r\u0001\u007f\/"'
seed "$canon" nfc '{"e\u0301":"\u212b\u1100\u1161","\u00e9":[1]}'
seed "$canon" prefix-keys '{"a":1,"a b":2,"a!":3,"ab":4,"a\n":5}'
seed "$canon" numbers '[0,-0,-5,18446744073709551615,-9223372036854775808,1.5,1e3]'
seed "$canon" nested '{"z":[{"b":[1,{"d":null,"c":true}],"a":"x"}],"y":{"k":{"j":{}}}}'
seed "$canon" duplicate '{"a":1,"a":2}'
seed "$canon" surrogates '"\ud83d\ude00\ud800"'

seed "$meta" minimal-root '{"signatures":[],"signed":{"_type":"Root","consistent_snapshot":false,"version":1,"expires":"2034-01-01T00:00:00Z","keys":{},"roles":{"root":{"keyids":[],"threshold":1}}}}'
seed "$meta" minimal-rs '{"signatures":[{"keyid":"00","method":"ed25519","sig":"AAAA"}],"signed":{"_type":"Remote-Sessions","version":1,"expires":"2034-01-01T00:00:00Z","remote_sessions":{"ssh":{"authorized_keys":{},"ra_server_hosts":[],"ra_server_ssh_pubkeys":[]}},"remote_commands":{"allowed_commands":{"echo":{"args":["test"]},"x":{}}}}}'
seed "$meta" ecdsa-key '{"signatures":[],"signed":{"_type":"Root","consistent_snapshot":false,"version":1,"expires":"2034-01-01T00:00:00+01:00","keys":{"00":{"keytype":"ecdsa-sha2-nistp256","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"04"}}},"roles":{}}}'

ed='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfgyvDfxMI1lfrHBWZSEnIX8isPMdg8CZLNKB7W4rj/'
relay='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMSQy6JGnIxrVMsi4xi2Goq48Dy1ilQ8wvaurQU3TSQe'
session() {
  seed "$sess" "$1" "{\"ssh\":{\"authorized_pubkeys\":[\"$ed alice@laptop\"],\"reverse_port\":41022,\"ra_server_url\":\"$2\",\"ra_server_ssh_pubkey\":\"$relay\",\"expires_at\":\"2025-07-30T18:00:00Z\"}}"
}
session rac-example 'ssh://6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f@ras.torizon.io:2222'
session ipv6 'ssh://6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f@[::1]:2222'
session default-port 'ssh://u@LOCALHOST'
seed "$sess" url 'ssh://u@[fe80::1]:22/'
seed "$sess" empty-keys '{"ssh":{"authorized_pubkeys":[],"reverse_port":0,"ra_server_url":"","ra_server_ssh_pubkey":"","expires_at":"2025-07-30T18:00:00+01:00","x":1}}'
echo "wrote $(ls "$canon" | wc -l) canonical_json, $(ls "$meta" | wc -l) tuf_metadata, $(ls "$sess" | wc -l) device_session seeds"
