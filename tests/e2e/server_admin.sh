#!/usr/bin/env bash
# server_admin: porthole-server's admin commands, driven as an operator would.
#   init: every file, mode and owner; the printed token is the stored hash.
#   device add: the bundle (files, modes), `openssl verify` against the
#     device CA, the agent's --check-config loads agent.toml; --csr with an
#     `openssl req` CSR; list/show/remove; admin commands while another
#     process holds the store open.
#   token create/list/revoke; --help everywhere (policy and root included).
#   run on a data directory that does not exist: initialised as by init
#     (summary and token printed), then serving, stopped by SIGTERM.
#   bad input: one line on stderr, exit 2 (malformed) or 1 (refused), and
#     nothing written.
#
#   PORTHOLE_SERVER_BIN=build/src/server/porthole-server \
#   PORTHOLE_AGENT_BIN=build/src/agent/porthole-agent bash tests/e2e/server_admin.sh
source "$(dirname "$0")/lib.sh"
require_cmd openssl sha256sum find
_require_exe PORTHOLE_SERVER_BIN "porthole-server binary, e.g. build/src/server/porthole-server"
require_agent
SERVER=$(readlink -f "$PORTHOLE_SERVER_BIN")

DATA=$WORK/data
B=$WORK/bundles
mkdir -p "$B"
server() { run "$SERVER" --data-dir "$DATA" "$@"; }

# json EXPR: evaluates a Python expression over the JSON in $OUT (as `j`).
json() { printf '%s' "$OUT" | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# refused WANT_RC WHAT PATHS... -- ARGS...: the command exits WANT_RC with
# exactly one line on stderr, and none of PATHS changed.
refused() {
  local want=$1 what=$2 paths=() before
  shift 2
  while [ "$1" != -- ]; do paths+=("$1"); shift; done
  shift
  before=$(tree_state "${paths[@]}")
  run "$SERVER" "$@"
  expect_rc "$want" "$what"
  expect_one_line_stderr "$what"
  [ -z "$OUT" ] || fail "$what: stdout not empty: $OUT"
  [ "$(tree_state "${paths[@]}")" = "$before" ] || fail "$what: files changed"
}

# ---- init ----
trace "init"
server init --hostname localhost
expect_rc 0 "init"
login=$(printf '%s\n' "$OUT" | grep '^  porthole login ' || true)
[ -n "$login" ] || fail "init printed no porthole login line: $OUT"
token=$(printf '%s\n' "$login" | sed -n 's/.* --token \(pht_[A-Za-z0-9_-]\{43\}\) .*/\1/p')
[ -n "$token" ] || fail "no pht_ token in: $login"
ca_sha=$(openssl x509 -in "$DATA/tls/ca.pem" -outform DER | sha256sum | cut -d' ' -f1)
[ "$login" = "  porthole login https://localhost:8444 --token $token --ca-sha256 $ca_sha" ] ||
  fail "login line: $login (CA SHA-256 $ca_sha)"
[ "$(printf '%s\n' "$OUT" | grep -c "$token")" = 2 ] || fail "token not printed exactly twice"

# Every file, its mode and owner (root made it: root:root).
# The director's two online keys are named by their keyids.
got=$(cd "$DATA" && find . -printf '%p %m %u:%g\n' | sed -E 's#^\./director/[0-9a-f]{64}\.json #./director/KEYID.json #' | sort)
want=". 700 root:root
./devices 700 root:root
./devices/ca.key 600 root:root
./devices/ca.pem 644 root:root
./director 700 root:root
./director/KEYID.json 600 root:root
./director/KEYID.json 600 root:root
./relay 700 root:root
./relay/host_key_ed25519 600 root:root
./relay/host_key_ed25519.pub 644 root:root
./server.db 600 root:root
./server.toml 644 root:root
./tls 700 root:root
./tls/ca.key 600 root:root
./tls/ca.pem 644 root:root
./tls/server.key 600 root:root
./tls/server.pem 644 root:root"
[ "$got" = "$want" ] || fail "data dir layout:"$'\n'"$got"$'\n'"want:"$'\n'"$want"
[ -z "$(find "$WORK" -maxdepth 1 -name 'data.*')" ] || fail "init left a temporary directory"
openssl verify -purpose sslserver -CAfile "$DATA/tls/ca.pem" "$DATA/tls/server.pem" >/dev/null ||
  fail "tls/server.pem does not verify against tls/ca.pem"
openssl x509 -in "$DATA/tls/server.pem" -noout -ext subjectAltName | grep -q 'DNS:localhost' ||
  fail "server certificate has no DNS:localhost"
ssh-keygen -y -f "$DATA/relay/host_key_ed25519" | cut -d' ' -f1,2 |
  cmp -s - <(cut -d' ' -f1,2 "$DATA/relay/host_key_ed25519.pub") ||
  fail "relay host key and .pub differ"
grep -qx 'hostname = "localhost"' "$DATA/server.toml" || fail "server.toml lacks the hostname"

# The printed token is what the store knows (by hash only).
server token list --json
expect_rc 0 "token list --json"
hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
[ "$(json '[t["name"] for t in j if t["sha256"] == "'"$hash"'" and t["revoked_at"] is None]')" = "['admin']" ] ||
  fail "token list has no admin token with the printed token's hash: $OUT"
grep -q "$token" "$DATA/server.db" && fail "the token itself is in the store"
server token list
expect_rc 0 "token list"
printf '%s\n' "$OUT" | grep -q "^admin .*$hash\$" || fail "token list table: $OUT"

server --check-config
expect_rc 0 "--check-config"
printf '%s\n' "$OUT" | grep -qx 'hostname = "localhost"' || fail "--check-config: $OUT"

# A second init is refused; so are other people's directories and bad names.
# (Not all of $WORK: run() keeps its output there.)
refused 1 "init of an initialised dir" "$DATA" -- --data-dir "$DATA" init --hostname localhost
[[ $ERR == *"is already initialised"* ]] || fail "second init: $ERR"
mkdir "$WORK/other" && echo mine >"$WORK/other/notes"
refused 1 "init of someone's dir" "$WORK/other" -- --data-dir "$WORK/other" init --hostname localhost
refused 2 "init with a bad hostname" "$WORK/new" -- init --data-dir "$WORK/new" --hostname "bad host"
refused 2 "init without --hostname" "$WORK/new" -- init --data-dir "$WORK/new"
[ -z "$(find "$WORK" -maxdepth 1 \( -name 'data.*' -o -name 'new*' -o -name 'other.*' \))" ] ||
  fail "a refused init left something behind: $(ls -a "$WORK")"

# ---- device add ----
trace "device add (generated key)"
server device add dev-1 --out "$B/dev-1"
expect_rc 0 "device add dev-1"
got=$(cd "$B/dev-1" && find . -printf '%p %m %u:%g\n' | sort)
want=". 700 root:root
./agent.toml 644 root:root
./client.pem 644 root:root
./pkey.pem 600 root:root
./root.crt 644 root:root"
[ "$got" = "$want" ] || fail "bundle layout:"$'\n'"$got"
run openssl verify -CAfile "$DATA/devices/ca.pem" "$B/dev-1/client.pem"
expect_rc 0 "openssl verify -CAfile devices/ca.pem client.pem"
[ "$OUT" = "$B/dev-1/client.pem: OK" ] || fail "openssl verify said: $OUT $ERR"
run openssl verify -CAfile "$DATA/tls/ca.pem" "$B/dev-1/client.pem"
expect_rc 2 "the device certificate is not from the server CA"
cmp -s "$B/dev-1/root.crt" "$DATA/tls/ca.pem" || fail "root.crt is not the server CA"
[ "$(openssl pkey -in "$B/dev-1/pkey.pem" -pubout)" = "$(openssl x509 -in "$B/dev-1/client.pem" -noout -pubkey)" ] ||
  fail "pkey.pem is not client.pem's key"
server device show dev-1 --json
expect_rc 0 "device show --json"
id1=$(json 'j["id"]')
[ "$(openssl x509 -in "$B/dev-1/client.pem" -noout -subject)" = "subject=CN = $id1" ] ||
  fail "client.pem subject is not CN = $id1"
[ "$(json 'j["cert_sha256"]')" = "$(openssl x509 -in "$B/dev-1/client.pem" -outform DER | sha256sum | cut -d' ' -f1)" ] ||
  fail "stored cert SHA-256 differs from client.pem's"
[ "$(json 'j["cert_serial"]')" = "$(openssl x509 -in "$B/dev-1/client.pem" -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//')" ] ||
  fail "stored serial differs from client.pem's"
run "$PORTHOLE_AGENT" --check-config --config "$B/dev-1/agent.toml"
expect_rc 0 "porthole-agent --check-config on agent.toml"
printf '%s\n' "$OUT" | grep -qx 'url = "https://localhost:8443/ras/"' || fail "agent url: $OUT"
printf '%s\n' "$OUT" | grep -qx 'client_cert_path = "/etc/porthole/client.pem"' || fail "agent cert path: $OUT"
printf '%s\n' "$OUT" | grep -qx '\[device.session.spawned_sshd\]' || fail "agent session mode: $OUT"
[ -z "$ERR" ] || fail "the agent warned about agent.toml: $ERR"

trace "device add --csr (openssl req), --device-dir"
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=chosen-by-device \
  -keyout "$WORK/dev-2.key" -out "$WORK/dev-2.csr" 2>/dev/null
# Another process keeps the store open in a read transaction meanwhile, as
# the running server would.
mkfifo "$WORK/hold" "$WORK/ready"
python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN")
c.execute("SELECT count(*) FROM devices").fetchall()
print("ready", flush=True)
sys.stdin.read()
c.execute("COMMIT")
c.close()
' "$DATA/server.db" <"$WORK/hold" >"$WORK/ready" &
holder=$!
exec 9>"$WORK/hold"
read -r ready <"$WORK/ready"
[ "$ready" = ready ] || fail "the store holder did not start"
server device add dev-2 --csr "$WORK/dev-2.csr" --out "$B/dev-2" --device-dir "$B/dev-2"
expect_rc 0 "device add --csr while the store is held open"
exec 9>&-
wait "$holder" || fail "the store holder failed"
[ "$(cd "$B/dev-2" && ls | tr '\n' ' ')" = "agent.toml client.pem root.crt " ] ||
  fail "--csr bundle: $(ls "$B/dev-2")"
openssl verify -CAfile "$DATA/devices/ca.pem" "$B/dev-2/client.pem" >/dev/null || fail "--csr cert does not verify"
[ "$(openssl pkey -in "$WORK/dev-2.key" -pubout)" = "$(openssl x509 -in "$B/dev-2/client.pem" -noout -pubkey)" ] ||
  fail "the --csr certificate is not for the CSR's key"
openssl x509 -in "$B/dev-2/client.pem" -noout -subject | grep -q chosen-by-device &&
  fail "the CSR's subject was used"
cp "$WORK/dev-2.key" "$B/dev-2/pkey.pem"
run "$PORTHOLE_AGENT" --check-config --config "$B/dev-2/agent.toml"
expect_rc 0 "porthole-agent --check-config on the --device-dir bundle"
printf '%s\n' "$OUT" | grep -qx "client_key_path = \"$B/dev-2/pkey.pem\"" || fail "--device-dir paths: $OUT"

# ---- list, show, remove ----
trace "device list/show/remove"
server device list
expect_rc 0 "device list"
[ "$(printf '%s\n' "$OUT" | awk 'NR>1{print $1}' | tr '\n' ' ')" = "dev-1 dev-2 " ] || fail "device list: $OUT"
server device list --json
[ "$(json 'len(j)')" = 2 ] || fail "device list --json: $OUT"
server device show "$(echo "$id1" | tr a-f A-F)"
expect_rc 0 "device show UPPER-CASE-UUID"
printf '%s\n' "$OUT" | grep -qx 'name:         dev-1' || fail "device show: $OUT"
server device remove dev-1
expect_rc 0 "device remove"
[[ $OUT == *"its certificate is refused from now on"* ]] || fail "device remove said: $OUT"
server device list --json
[ "$(json '[d["name"] for d in j]')" = "['dev-2']" ] || fail "removed device still listed: $OUT"
server device list --json --all
[ "$(json '[(d["name"], d["state"]) for d in j]')" = "[('dev-1', 'removed'), ('dev-2', 'active')]" ] ||
  fail "device list --all: $OUT"
refused 1 "show a removed device by name" "$DATA" -- --data-dir "$DATA" device show dev-1
[ "$ERR" = "porthole-server: no device 'dev-1'" ] || fail "show removed: $ERR"
server device show "$id1" --json
[ "$(json 'j["state"]')" = removed ] || fail "show by id after remove: $OUT"
refused 1 "remove twice" "$DATA" -- --data-dir "$DATA" device remove "$id1"
[ "$ERR" = "porthole-server: device 'dev-1' ($id1) is removed" ] || fail "remove twice: $ERR"
# The name can be given again.
server device add dev-1 --out "$B/dev-1b"
expect_rc 0 "device add of a removed device's name"

# ---- tokens ----
trace "tokens"
server token create alice
expect_rc 0 "token create"
alice=$OUT
[[ $alice =~ ^pht_[A-Za-z0-9_-]{43}$ ]] || fail "token create printed: $alice"
server token list --json
[ "$(json '[t["name"] for t in j if t["sha256"] == "'"$(printf '%s' "$alice" | sha256sum | cut -d' ' -f1)"'"]')" = "['alice']" ] ||
  fail "alice's hash not listed: $OUT"
server token revoke alice
expect_rc 0 "token revoke"
server token list --json
[ "$(json '[t["name"] for t in j if t["revoked_at"] is not None]')" = "['alice']" ] || fail "revoked: $OUT"
refused 1 "revoke twice" "$DATA" -- --data-dir "$DATA" token revoke alice
refused 2 "token with a bad name" "$DATA" -- --data-dir "$DATA" token create "bad name"
refused 1 "token name in use" "$DATA" -- --data-dir "$DATA" token create admin

# ---- bad input: one line, exit 2/1, nothing written ----
trace "bad input"
echo "garbage" >"$WORK/garbage.csr"
openssl req -new -nodes -newkey rsa:1024 -subj /CN=x -keyout "$WORK/weak.key" -out "$WORK/weak.csr" 2>/dev/null
mkdir "$B/exists" && echo keep >"$B/exists/file"
d=(--data-dir "$DATA")
refused 2 "bad device name" "$DATA" "$B" -- "${d[@]}" device add "bad name" --out "$B/x"
refused 2 "device name with a slash" "$DATA" "$B" -- "${d[@]}" device add "../x" --out "$B/x"
refused 2 "UUID-shaped device name" "$DATA" "$B" -- "${d[@]}" device add 1b4e28ba-2fa1-4d2e-883f-0016d3cca427 --out "$B/x"
refused 2 "garbage CSR" "$DATA" "$B" -- "${d[@]}" device add dev-3 --csr "$WORK/garbage.csr" --out "$B/x"
[ "$ERR" = "porthole-server: $WORK/garbage.csr: not a certificate request: expected '-----BEGIN CERTIFICATE REQUEST-----'" ] ||
  fail "garbage CSR: $ERR"
refused 2 "RSA-1024 CSR" "$DATA" "$B" -- "${d[@]}" device add dev-3 --csr "$WORK/weak.csr" --out "$B/x"
refused 1 "missing CSR file" "$DATA" "$B" -- "${d[@]}" device add dev-3 --csr "$WORK/none.csr" --out "$B/x"
refused 1 "existing bundle dir" "$DATA" "$B" -- "${d[@]}" device add dev-3 --out "$B/exists"
[ "$ERR" = "porthole-server: $B/exists already exists; not overwriting it (--out names another directory)" ] ||
  fail "existing bundle dir: $ERR"
refused 1 "device name in use" "$DATA" "$B" -- "${d[@]}" device add dev-2 --out "$B/x"
refused 2 "relative --device-dir" "$DATA" "$B" -- "${d[@]}" device add dev-3 --device-dir etc/porthole --out "$B/x"
refused 1 "show an unknown device" "$DATA" -- "${d[@]}" device show nosuch
refused 2 "device without a verb" "$DATA" -- "${d[@]}" device
refused 2 "unknown option" "$DATA" -- "${d[@]}" device list --colour
refused 2 "unknown command" "$DATA" -- "${d[@]}" frobnicate
{ cat "$DATA/server.toml"; printf '[relay]\nprot = 2222\n'; } >"$WORK/bad.toml"
refused 2 "unknown config key" "$DATA" "$B" -- --config "$WORK/bad.toml" device add dev-3 --out "$B/x"
[ "$ERR" = "porthole-server: $WORK/bad.toml:8: key 'relay.prot': unknown key" ] || fail "unknown key: $ERR"
refused 2 "--check-config with an unknown key" "$DATA" -- --config "$WORK/bad.toml" --check-config
refused 1 "no config file" "$WORK/nowhere" -- --data-dir "$WORK/nowhere" device list
[ "$ERR" = "porthole-server: $WORK/nowhere/server.toml: no such file (porthole-server init creates it)" ] ||
  fail "no config: $ERR"
[ -z "$(find "$B" -maxdepth 1 -name '*.tmp-*')" ] || fail "a bundle temp dir was left"

# ---- --help (run itself: server_device_api.sh and the other server_*.sh) ----
for cmd in "" "init" "run" "device" "device add" "device list" "device show" \
  "device remove" "token" "token create" "token list" "token revoke" \
  "policy" "policy show" "policy allow-key" "policy deny-key" "policy allow-command" \
  "policy deny-command" "policy allow-relay-host" "policy deny-relay-host" \
  "policy allow-relay-key" "policy deny-relay-key" "policy publish" "policy export" \
  "policy import" "root" "root show" "root rotate"; do
  # shellcheck disable=SC2086
  run "$SERVER" $cmd --help
  expect_rc 0 "$cmd --help"
  [[ $OUT == *Usage:* ]] || fail "$cmd --help printed no usage: $OUT"
done
run "$SERVER" --version
expect_rc 0 "--version"

trace "run on a data directory that does not exist yet: initialised, then served"
FRESH=$WORK/fresh
"$SERVER" --data-dir "$FRESH" run --hostname localhost >"$WORK/fresh.out" 2>"$WORK/fresh.log" &
FRESH_PID=$!
at_exit kill_quiet "$FRESH_PID"
log_wait "$WORK/fresh.log" 'porthole-server: ready' 30 0 "$FRESH_PID" >/dev/null ||
  fail "first run did not become ready: $(tail -3 "$WORK/fresh.log")"
[ "$(stat -c %a "$FRESH")" = 700 ] || fail "first run: data dir mode $(stat -c %a "$FRESH")"
[ "$(stat -c %a "$FRESH/tls/server.key")" = 600 ] || fail "first run: server.key not 0600"
grep -qx 'hostname = "localhost"' "$FRESH/server.toml" || fail "first run: server.toml lacks the hostname"
grep -q '^  porthole login https://localhost:8444 --token pht_' "$WORK/fresh.out" ||
  fail "first run printed no login line: $(cat "$WORK/fresh.out")"
kill -TERM "$FRESH_PID"
wait "$FRESH_PID" || fail "first run: exit status $? after SIGTERM"
"$SERVER" --data-dir "$FRESH" --check-config >/dev/null || fail "first run: the config does not check"

pass
