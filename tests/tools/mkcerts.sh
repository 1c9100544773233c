#!/usr/bin/env bash
# mkcerts.sh DIR: a throw-away PKI for tests, made fresh each run.
#   ca.crt/ca.key             the server's device CA (EC P-256)
#   server.crt/server.key     CN=localhost, SAN DNS:localhost, IP:127.0.0.1
#   client.crt/client.key     CN=device-0001, clientAuth, signed by ca
#   rogue-ca.crt, rogue.crt/rogue.key   a client cert from another CA
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # ca NAME CN
  ec "$1.key"
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 2 -out "$1.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
leaf() {  # leaf NAME CN CA EXT
  ec "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial \
    -days 2 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca "porthole test CA"
ca rogue-ca "rogue CA"
leaf server localhost ca "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
leaf client device-0001 ca "extendedKeyUsage=clientAuth"
leaf rogue device-0001 rogue-ca "extendedKeyUsage=clientAuth"
chmod 644 ./*.crt
