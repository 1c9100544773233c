#!/bin/sh
# Regenerates the seed corpora of the httpd fuzz targets:
#   corpus/http_request/  two control bytes (piece size, body limit / 64)
#                         followed by the bytes of a request
#   corpus/http_target/   one request-target per file
# Run from anywhere: sh fuzz/corpus/mkcorpus_httpd.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
req="$here/http_request"
tgt="$here/http_target"
rm -rf "$req" "$tgt"
mkdir -p "$req" "$tgt"

# seed NAME STEP LIMIT TEXT (TEXT in printf format)
# shellcheck disable=SC2059 # TEXT is a printf format on purpose (escapes)
seed() {
  { printf "\\$(printf '%03o' "$2")\\$(printf '%03o' "$3")"; printf "$4"; } >"$req/$1"
}
seed get 0 0 'GET /ras/sessions?wait=25&seen=3f1c0b8e2a474b3e HTTP/1.1\r\nHost: localhost:8443\r\nUser-Agent: rac/0.1\r\nAccept: */*\r\n\r\n'
seed get-bytewise 1 0 'GET /ras/commands HTTP/1.1\r\nHost: h\r\n\r\n'
seed post 3 16 'POST /ras/public-keys HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 23\r\n\r\n{"key":"ssh-ed25519 A"}'
seed result 5 255 'POST /ras/commands/urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11/result HTTP/1.1\r\nHost: h\r\nContent-Length: 18\r\n\r\n{"success":true}\r\n'
seed chunked 4 1 'POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n'
seed expect 0 255 'POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\nbody'
seed http10 2 0 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
seed head 0 0 'HEAD /v1/sessions HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer abc\r\n\r\n'
seed pipelined 7 0 'GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n'
seed te-and-cl 0 8 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
seed two-hosts 0 0 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
seed obs-fold 0 0 'GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n'
seed bad-escape 0 0 'GET /a%%zz?x=%%41 HTTP/1.1\r\nHost: h\r\n\r\n'
seed tls-hello 0 0 '\026\003\001\002\000\001\000\001\374\003\003'

for t in '/' '/ras/sessions?wait=25&seen=3f1c' '/a%20b/%7Ec%3a?q=a+b%2Bc&flag' \
         '/x?a=1&&b' '/a/%2e%2e/b' '/caf%C3%A9' '/%00' '/a%2Fb' '/x?next=/y?z' \
         '/ras/commands/urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11/result'; do
  n=$(printf '%s' "$t" | cksum | cut -d' ' -f1)
  printf '%s' "$t" >"$tgt/$n"
done
