#!/bin/sh
# Regenerates corpus/csr/ and corpus/server_config/ for csr_fuzz and
# server_config_fuzz: CSRs made by `openssl req` for each accepted key type
# and some refused ones, in PEM and DER, a certificate chain; server.toml
# variants from the packaged example to every key set.
# Run from anywhere: sh fuzz/corpus/mkcorpus_server.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out="$here/csr"
rm -rf "$out"
mkdir -p "$out"
req() {  # req NAME NEWKEY-ARGS...
  name=$1
  shift
  openssl req -new -nodes "$@" -keyout "$tmp/$name.key" -subj "/CN=$name" \
    -out "$out/$name.pem" 2>/dev/null
  openssl req -in "$out/$name.pem" -outform DER -out "$out/$name.der"
}
req ec-p256 -newkey ec -pkeyopt ec_paramgen_curve:P-256
req ed25519 -newkey ed25519
req rsa2048 -newkey rsa:2048
req rsa1024 -newkey rsa:1024
req ec-p384 -newkey ec -pkeyopt ec_paramgen_curve:P-384
openssl req -x509 -new -key "$tmp/ec-p256.key" -subj /CN=ca -days 1 \
  -out "$tmp/ca.pem" 2>/dev/null
cat "$tmp/ca.pem" "$tmp/ca.pem" > "$out/chain.pem"
printf 'garbage\n' > "$out/garbage"

out="$here/server_config"
rm -rf "$out"
mkdir -p "$out"
cp "$here/../../packaging/server.toml" "$out/example"
printf 'hostname = "porthole.example.com"\n' > "$out/minimal"
cat > "$out/every-key" <<'TOML'
data_dir = "/var/lib/ph"
hostname = "192.0.2.10"
[device_api]
listen = "::"
port = 9443
[operator_api]
listen = "127.0.0.1"
port = 9444
[relay]
listen = "0.0.0.0"
port = 2022
public_host = "relay.example.com"
port_min = 30000
port_max = 30099
[sessions]
default_ttl = "30m"
max_ttl = "2d"
[policy]
expiry = "1d12h"
renew_before = "12h"
[store]
backend = "sqlite"
path = "/data/ph.db"
TOML
printf 'hostname = "h"\n[relay]\nprot = 1\n' > "$out/unknown-key"
printf '1d12h30m15s500ms' > "$out/duration"
