#!/bin/sh
# Regenerates the seed corpora of the fuzz targets:
#   corpus/authorized_key/   one authorized_keys line per file (no newline)
#   corpus/public_key_blob/  one decoded public key blob per file (binary)
# Run from anywhere: sh fuzz/corpus/mkcorpus.sh
# Needs ssh-keygen (OpenSSH 9.2 was used) and python3. Keys are fresh each
# run; private halves are thrown away. sk-* keys are assembled from ordinary
# key material (their public blob is just type, key, application).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
lines="$here/authorized_key"
blobs="$here/public_key_blob"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$lines" "$blobs"
mkdir -p "$lines" "$blobs"
cd "$work"

ssh-keygen -q -t ed25519 -N '' -C alice@example.org -f ed25519
ssh-keygen -q -t ecdsa -b 256 -N '' -C ecdsa256 -f ecdsa256
ssh-keygen -q -t ecdsa -b 384 -N '' -C ecdsa384 -f ecdsa384
ssh-keygen -q -t ecdsa -b 521 -N '' -C ecdsa521 -f ecdsa521
ssh-keygen -q -t rsa -b 1024 -N '' -C 'Bob Example <bob@example.org>' -f rsa
ssh-keygen -q -t dsa -N '' -C dsa -f dsa
ssh-keygen -q -t ed25519 -N '' -C ca -f ca
python3 - ed25519.pub ecdsa256.pub <<'PY'
import base64, struct, sys
def fields(b):
    out, i = [], 0
    while i < len(b):
        (n,) = struct.unpack(">I", b[i:i + 4]); out.append(b[i + 4:i + 4 + n]); i += 4 + n
    return out
def s(b): return struct.pack(">I", len(b)) + b
def blob(p): return base64.b64decode(open(p).read().split()[1])
ed, ec = fields(blob(sys.argv[1])), fields(blob(sys.argv[2]))
for name, t, body, app in (("sk-ed25519", b"sk-ssh-ed25519@openssh.com", s(ed[1]), b"ssh:"),
                           ("sk-ecdsa", b"sk-ecdsa-sha2-nistp256@openssh.com", s(ec[1]) + s(ec[2]), b"ssh:")):
    with open(name + ".pub", "w") as f:
        f.write("%s %s %s@yubikey\n" % (t.decode(), base64.b64encode(s(t) + body + s(app)).decode(), name))
PY
ssh-keygen -q -s ca -I id -n user,admin -O force-command=/bin/true ed25519.pub
ssh-keygen -q -s ca -I id -n user -V 20200101:20991231 rsa.pub
ssh-keygen -q -s rsa -I host -h -n host.example.org ecdsa384.pub
ssh-keygen -q -s ca -I id -n user sk-ed25519.pub

for k in ed25519 ecdsa256 ecdsa384 ecdsa521 rsa dsa ca sk-ed25519 sk-ecdsa \
         ed25519-cert rsa-cert ecdsa384-cert sk-ed25519-cert; do
  line=$(cat "$k.pub")
  printf '%s' "$line" > "$lines/$k"
  printf '%s' "$line" | cut -d' ' -f2 | base64 -d > "$blobs/$k"
done

ed=$(cut -d' ' -f1,2 ed25519.pub)
rsa=$(cut -d' ' -f1,2 rsa.pub)
ca=$(cut -d' ' -f1,2 ca.pub)
seed() { printf '%s' "$2" > "$lines/$1"; }
seed repair-shop "restrict,pty,command=\"/usr/share/fleet/fleet-config.sh\" $rsa repair@shop1"
seed quoted "command=\"/usr/bin/foo --bar \\\"x, y\\\"\",no-pty,from=\"10.0.0.0/8,!10.1.*\" $ed quoted options"
seed temporary "expiry-time=\"209912312359Z\",expiry-time=\"20991231\",no-agent-forwarding $ed tmp@porthole"
seed forwarding "permitopen=\"127.0.0.1:9999\",permitopen=\"[::1]:*\",permitlisten=\"40001\",permitlisten=\"localhost:*\" $ed fwd"
seed environment "environment=\"LANG=C\",environment=\"A_1=x=y\",tunnel=\"any\",tunnel=\"3\" $ed env"
seed ca-principals "cert-authority,principals=\"alice,bob\",no-touch-required,verify-required $ca ca"
seed flags "No-Port-Forwarding,no-X11-forwarding,user-rc,no-user-rc,touch-required $ed"
seed empty-options ",restrict,,pty, $ed"
seed tabs "	 restrict	$ed	comment with	tab 	"
seed crlf "$ed crlf"$(printf '\r')
seed bad-permitopen-none "permitopen=\"none\" $ed"
seed bad-dup-command "command=\"a\",command=\"b\" $ed"
seed bad-expiry "expiry-time=\"2099-12-31\" $ed"
seed bad-unbalanced "command=\"oops $ed"
seed bad-type-mismatch "ssh-rsa $(cut -d' ' -f2 ed25519.pub)"
seed alias-type "rsa-sha2-512 $(cut -d' ' -f2 rsa.pub) alias"
echo "wrote $(ls "$lines" | wc -l) lines and $(ls "$blobs" | wc -l) blobs"
