#!/usr/bin/env bash
# mkcerts_extra.sh DIR: more certificates for the TLS server tests, added to
# a PKI that tests/tools/mkcerts.sh made in DIR (it needs ca.crt/ca.key).
#   expired.crt/expired.key   CN=device-expired, clientAuth, signed by ca,
#                             valid 2020-01-01 .. 2020-01-02 only
#   twocn.crt/twocn.key       subject CN=device-a + CN=device-b, clientAuth,
#                             signed by ca (an ambiguous identity)
set -euo pipefail
dir=$1
cd "$dir"
umask 077
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# `openssl ca` is the 3.0 tool that sets explicit validity dates.
mkdir -p extra-ca
: >extra-ca/index.txt
echo 1000 >extra-ca/serial
cat >extra-ca/ca.cnf <<EOT
[ca]
default_ca = tca
[tca]
database = extra-ca/index.txt
new_certs_dir = extra-ca
serial = extra-ca/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
EOT
printf 'extendedKeyUsage=clientAuth\n' >extra-ca/ext
ec expired.key
openssl req -new -key expired.key -subj "/CN=device-expired" -out extra-ca/expired.csr 2>/dev/null
openssl ca -batch -config extra-ca/ca.cnf -cert ca.crt -keyfile ca.key \
  -startdate 20200101000000Z -enddate 20200102000000Z -extfile extra-ca/ext \
  -notext -in extra-ca/expired.csr -out expired.crt 2>/dev/null

ec twocn.key
openssl req -new -key twocn.key -subj "/CN=device-a/CN=device-b" -out extra-ca/twocn.csr 2>/dev/null
openssl x509 -req -in extra-ca/twocn.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days 2 -extfile extra-ca/ext -out twocn.crt 2>/dev/null
rm -rf extra-ca
chmod 644 ./*.crt
