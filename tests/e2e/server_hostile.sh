#!/usr/bin/env bash
# server_hostile: hostile HTTP against the real porthole-server: a body over
# the limit (413), headers over the limit (431), a slowloris client (dropped
# at the header timeout), plain HTTP and garbage on the TLS ports, junk
# request lines and malformed JSON bodies (4xx); the server stays up and
# serves afterwards, with no 5xx anywhere.
#
#   PORTHOLE_SERVER_BIN=build/src/server/porthole-server bash tests/e2e/server_hostile.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/server_lib.sh"

srv_init
srv_start
srv_device_add dev1
D=${DEV_DIR[dev1]}

# hostile.py MODE PORT: raw TLS (or plain) clients; prints one result line.
cat >"$WORK/hostile.py" <<'PY'
import socket, ssl, sys, time
mode, port, bundle = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def tls():
    ctx = ssl.create_default_context(cafile=bundle + "/root.crt")
    ctx.check_hostname = False
    ctx.load_cert_chain(bundle + "/client.pem", bundle + "/pkey.pem")
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return ctx.wrap_socket(s)

def read_all(s):
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (ConnectionError, ssl.SSLError, socket.timeout) as e:
        out += b"<" + type(e).__name__.encode() + b">"
    return out

if mode == "slowloris":
    s = tls()
    t0 = time.monotonic()
    s.sendall(b"GET /ras/sessions HTTP/1.1\r\nHost: x\r\n")
    closed = False
    try:
        for i in range(60):  # one header byte a second, never finishing
            s.sendall(b"X")
            s.settimeout(1.0)
            try:
                b = s.recv(4096)
                closed = True  # an answer (408) or the end
                print("answer %r after %.1f s" % (b[:40], time.monotonic() - t0))
                break
            except socket.timeout:
                pass
    except (ConnectionError, ssl.SSLError, OSError) as e:
        closed = True
        print("closed (%s) after %.1f s" % (type(e).__name__, time.monotonic() - t0))
    if not closed:
        print("still open after %.1f s" % (time.monotonic() - t0))
elif mode == "plain":
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.sendall(b"GET /ras/sessions HTTP/1.1\r\nHost: x\r\n\r\n")
    print("plain: %r" % read_all(s)[:60])
elif mode == "garbage":
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        s.sendall(bytes(range(256)) * 256)
    except OSError as e:
        pass
    print("garbage: %r" % read_all(s)[:60])
elif mode == "junk-request":
    s = tls()
    s.sendall(b"\x00\x01GARBAGE \xff\xfe\r\n\r\n")
    print(read_all(s)[:12].decode("latin-1"))
elif mode == "bad-length":
    s = tls()
    s.sendall(b"POST /ras/public-keys HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
    print(read_all(s)[:12].decode("latin-1"))
elif mode == "chunked-huge":
    s = tls()
    s.sendall(b"POST /ras/public-keys HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n")
    print(read_all(s)[:12].decode("latin-1"))
PY
hostile() { run python3 "$WORK/hostile.py" "$1" "${2:-$SRV_DEV_PORT}" "$D"; }

# The slowloris client runs alongside everything else (the header timeout
# is 10 s).
python3 "$WORK/hostile.py" slowloris "$SRV_DEV_PORT" "$D" >"$WORK/slowloris.out" 2>&1 &
slow_pid=$!

trace "oversized body and headers"
head -c 2097152 /dev/zero | tr '\0' a >"$WORK/big.json"
dev_curl dev1 POST public-keys "@$WORK/big.json"
expect_http 413 "2 MiB public-keys body"
big_header=$(head -c 20000 /dev/zero | tr '\0' b)
dev_curl dev1 GET sessions "" -H "X-Big: $big_header"
expect_http 431 "20 KB header"
op_curl POST /api/v1/sessions "@$WORK/big.json"
[[ $HTTP_CODE == 413 ]] || fail "operator API 2 MiB body: HTTP $HTTP_CODE"
op_curl GET /api/v1/devices "" -H "X-Big: $big_header"
expect_http 431 "operator API 20 KB header"

trace "non-TLS and garbage on the TLS ports"
for port in "$SRV_DEV_PORT" "$SRV_OP_PORT"; do
  hostile plain "$port"
  [ "$RC" = 0 ] || fail "plain HTTP client on $port: $ERR"
  [[ $OUT != *"200 OK"* && $OUT != *"HTTP/1.1 5"* ]] || fail "plain HTTP on $port: $OUT"
  hostile garbage "$port"
  [ "$RC" = 0 ] || fail "garbage client on $port: $ERR"
done

trace "junk requests over TLS"
hostile junk-request
[[ $OUT == "HTTP/1.1 4"* || -z $OUT || $OUT == "<"* ]] || fail "junk request line: $OUT"
hostile bad-length
[[ $OUT == "HTTP/1.1 4"* ]] || fail "negative Content-Length: $OUT"
hostile chunked-huge
[[ $OUT == "HTTP/1.1 4"* || $OUT == "<"* ]] || fail "huge chunk: $OUT"

trace "malformed JSON bodies"
deep=$(python3 -c 'print("[" * 5000 + "]" * 5000)')
for body in '{' '[]' '{"key": 5}' '{"key": "ssh-ed25519"}' '"x"' 'null' '{"key": "a", "key": "b"}' \
  $'{"key": "\xff\xfe"}' "$deep" '{"key": "ssh-ed25519 AAAA", "extra": {"a": [1, 2, {"b": null}]}}'; do
  dev_curl dev1 POST public-keys "$body"
  [[ $HTTP_CODE == 4* ]] || fail "public-keys body ${body:0:40}: HTTP $HTTP_CODE $OUT"
done
for body in '{' '{"success": "yes"}' '[]' "$deep"; do
  dev_curl dev1 POST "commands/urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11/result" "$body"
  [[ $HTTP_CODE == 4* ]] || fail "result body ${body:0:40}: HTTP $HTTP_CODE $OUT"
done
for path in "sessions?wait=abc" "sessions?wait=-1" "sessions?wait=5&seen=XYZ" "commands/x/result" \
  "../../etc/passwd" "sessions%00" "$(head -c 3000 /dev/zero | tr '\0' a)"; do
  dev_curl dev1 GET "$path"
  [[ $HTTP_CODE == 4* ]] || fail "GET $path: HTTP $HTTP_CODE"
done
for body in '{' '{"device": 5}' '{"device": "dev1", "keys": "x"}' '{"device": "dev1", "keys": []}' \
  '{"device": "dev1", "keys": ["ssh-ed25519 AAAA"], "ttl": "forever"}' "$deep"; do
  op_curl POST /api/v1/sessions "$body"
  [[ $HTTP_CODE == 4* ]] || fail "operator sessions body ${body:0:40}: HTTP $HTTP_CODE $OUT"
done
op_curl POST /api/v1/policy/import '{"signed": {}, "signatures": []}'
[[ $HTTP_CODE == 4* ]] || fail "policy import of junk: HTTP $HTTP_CODE $OUT"
run curl -sS -o /dev/null -w '%{http_code}' --cacert "$SRV_CA" -H "Authorization: Bearer pht_nope" \
  "$OP_URL/api/v1/devices"
[ "$OUT" = 401 ] || fail "bad token: HTTP $OUT"

trace "slowloris"
wait "$slow_pid" || true
slow=$(cat "$WORK/slowloris.out")
trace "slowloris: $slow"
if [[ $slow =~ after\ ([0-9]+)\.[0-9]\ s ]]; then
  secs=${BASH_REMATCH[1]}
  ((secs >= 8 && secs <= 20)) || fail "slowloris dropped after $secs s (header timeout 10 s): $slow"
  [[ $slow != "still open"* ]] || fail "slowloris: $slow"
  [[ $slow != *"HTTP/1.1 2"* ]] || fail "slowloris got a 2xx: $slow"
else
  fail "slowloris: $slow"
fi

trace "still serving"
dev_curl dev1 GET sessions
expect_http 404 "device API after the abuse"
op_curl GET /api/v1/devices
expect_http 200 "operator API after the abuse"
kill -0 "$SRV_PID" || fail "the server died"
run curl -sS --cacert "$SRV_CA" "$OP_URL/metrics"
[[ $OUT == *'porthole_http_errors_total'* ]] || fail "metrics: ${OUT:0:300}"
grep -qiE 'assert|sanitizer|terminate|segv' "$SRV_LOG" && fail "server log: $(grep -iE 'assert|sanitizer|terminate|segv' "$SRV_LOG" | head -3)"
pass
