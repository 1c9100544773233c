#!/usr/bin/env bash
# HTTPS server benchmark (not a test): core/httpd serving what an idle
# device sees, under many keep-alive mutual-TLS clients. Called by
# bench/run; runs alone too:
#
#   bench/httpd.sh
#   HTTPD_SECS=3 HTTPD_CLIENTS=300 bench/httpd.sh      # quick look
#
# porthole-bench-httpd is an HttpsServer with a trivial handler: `GET
# /ras/sessions` answers 404 with a small RasError body and the long-poll
# headers; `?wait=N` holds the request N s first. porthole-bench-httpd-load
# (OpenSSL + epoll) opens HTTPD_CLIENTS mTLS keep-alive connections, each
# makes one request and then sits idle, then every client polls. Runs:
#
#   closed   mTLS; each client sends its next poll as soon as the answer
#            is in, HTTPD_SECS s: the most polls/s (the latency is then
#            clients / rate, queueing by Little's law)
#   paced    mTLS; all clients together HTTPD_RATE polls/s, spread evenly:
#            the latency of a poll at that load
#   operator no client certificate (the operator API's TLS), closed loop
#   pinned   (HTTPD_PIN=1) closed, server on CPU 0 and load on CPU 1
#
# and after each, every client holds one long poll (`?wait=3600`).
# Memory per connection is the server's RSS growth (VmRSS) over the idle
# clients, and the heap in use (mallinfo2) likewise; server CPU from
# utime+stime in /proc/PID/stat over the window. Server and load generator
# share the machine's cores unless pinned.
#
# Environment:
#   HTTPD_CLIENTS        keep-alive clients (1000)
#   HTTPD_SECS           measured window, seconds (10)
#   HTTPD_RATE           paced total polls/s (5000)
#   HTTPD_SERVER_THREADS server I/O threads (0: one per core)
#   HTTPD_LOAD_THREADS   load generator event loops (1)
#   HTTPD_PIN            1: also the pinned run
#   PORTHOLE_BENCH_HTTPD, PORTHOLE_BENCH_HTTPD_LOAD   the binaries
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
SERVER=${PORTHOLE_BENCH_HTTPD:-$top/build/bench/porthole-bench-httpd}
LOAD=${PORTHOLE_BENCH_HTTPD_LOAD:-$top/build/bench/porthole-bench-httpd-load}
for b in "$SERVER" "$LOAD"; do
  [ -x "$b" ] || { echo "bench/httpd.sh: $b missing: build first (scripts/setup)" >&2; exit 1; }
done
CLIENTS=${HTTPD_CLIENTS:-1000}
SECS=${HTTPD_SECS:-10}
RATE=${HTTPD_RATE:-5000}
SERVER_THREADS=${HTTPD_SERVER_THREADS:-0}
LOAD_THREADS=${HTTPD_LOAD_THREADS:-1}
for v in CLIENTS SECS RATE LOAD_THREADS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] ||
    { echo "bench/httpd.sh: HTTPD_${v}=${!v}: want a positive integer" >&2; exit 1; }
done
[[ $SERVER_THREADS =~ ^[0-9]+$ ]] ||
  { echo "bench/httpd.sh: HTTPD_SERVER_THREADS=$SERVER_THREADS: want an integer" >&2; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
bash "$top/tests/tools/mkcerts.sh" "$work/pki"
pki=$work/pki
declare -A R

# run NAME MTLS(0|1) PIN(0|1) [load options...]: one server, one load run;
# results into R[NAME.key].
run() {
  local name=$1 mtls=$2 pin=$3
  shift 3
  local sargs=(--cert "$pki/server.crt" --key "$pki/server.key" --threads "$SERVER_THREADS")
  local largs=(--ca "$pki/ca.crt" --clients "$CLIENTS" --threads "$LOAD_THREADS" "$@")
  if [ "$mtls" = 1 ]; then
    sargs+=(--ca "$pki/ca.crt")
    largs+=(--cert "$pki/client.crt" --key "$pki/client.key")
  fi
  local spre=() lpre=()
  if [ "$pin" = 1 ]; then spre=(taskset -c 0); lpre=(taskset -c 1); fi
  "${spre[@]}" "$SERVER" "${sargs[@]}" >"$work/port" 2>"$work/server.err" &
  server_pid=$!
  local port=
  for _ in $(seq 100); do
    port=$(head -n 1 "$work/port" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "bench/httpd.sh: the server did not start: $(cat "$work/server.err")" >&2; exit 1; }
  if ! "${lpre[@]}" "$LOAD" --port "$port" --server-pid "$server_pid" "${largs[@]}" >"$work/load.out" 2>"$work/load.err"; then
    echo "bench/httpd.sh: $name: load generator failed: $(tail -3 "$work/load.err")" >&2
    exit 1
  fi
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=
  local k v
  while IFS='=' read -r k v; do R[$name.$k]=$v; done <"$work/load.out"
  # The heap in use at the three RSS samples: before, idle, long polls.
  mapfile -t heap < <(sed -n 's/^heap_in_use_kib=\([0-9]*\).*/\1/p' "$work/server.err")
  R[$name.heap_before_kib]=${heap[0]:-0}
  R[$name.heap_idle_kib]=${heap[1]:-0}
  R[$name.heap_longpoll_kib]=${heap[2]:-0}
}

echo "bench/httpd.sh: $CLIENTS clients, ${SECS} s windows; about $((4 * SECS + 40)) s" >&2
run closed 1 0 --seconds "$SECS"
run paced 1 0 --seconds "$SECS" --rate "$RATE"
run operator 0 0 --seconds "$SECS"
[ "${HTTPD_PIN:-0}" = 1 ] && run pinned 1 1 --seconds "$SECS"

g() { echo "${R[$1]}"; }
ms() { python3 -c "print('%.1f' % ($1 / 1000))"; }
per_conn() {  # KiB per client between two samples of a run
  python3 -c "print('%.1f' % ((${R[$1.$3]} - ${R[$1.$2]}) / ${R[$1.clients]}))"
}
threads=$SERVER_THREADS
[ "$threads" = 0 ] && threads="$(nproc) (one per core)"
printf '\nHTTPS device API: %s keep-alive clients, GET /ras/sessions -> 404 JSON\n' "$CLIENTS"
printf 'server: %s I/O threads; load generator: %s event loop(s); %s cores shared (not pinned)\n' \
  "$threads" "$LOAD_THREADS" "$(nproc)"
printf '%-52s %14s %12s\n' "figure" "value" "goal"
row() { printf '%-52s %14s %12s\n' "$1" "$2" "${3:-}"; }
row "polls/s, closed loop (mTLS)" "$(g closed.rps)" ">= 5000"
row "  latency p50 / p99, ms (queueing: clients/rate)" "$(ms "$(g closed.p50_us)") / $(ms "$(g closed.p99_us)")"
row "  server CPU, % of one core" "$(g closed.server_cpu_pct)"
row "  load generator CPU, % of one core" "$(g closed.loadgen_cpu_pct)"
row "polls/s, paced at $RATE/s (mTLS)" "$(g paced.rps)"
row "  latency p50 / p99, ms" "$(ms "$(g paced.p50_us)") / $(ms "$(g paced.p99_us)")"
row "  server CPU, % of one core" "$(g paced.server_cpu_pct)"
row "polls/s, closed loop, no client certificate" "$(g operator.rps)"
if [ "${HTTPD_PIN:-0}" = 1 ]; then
  row "polls/s, closed loop, server CPU 0 / load CPU 1" "$(g pinned.rps)"
  row "  latency p50 / p99, ms" "$(ms "$(g pinned.p50_us)") / $(ms "$(g pinned.p99_us)")"
fi
row "$CLIENTS mTLS handshakes + first poll, s" "$(g closed.connect_s)"
row "server RSS before clients, MiB" "$(python3 -c "print('%.1f' % ($(g closed.rss_before_kib) / 1024))")"
row "RSS per idle keep-alive connection, KiB (mTLS)" "$(per_conn closed rss_before_kib rss_idle_kib)" "small"
row "  heap in use per connection, KiB (mTLS)" "$(per_conn closed heap_before_kib heap_idle_kib)"
row "RSS per idle connection, KiB (no client cert)" "$(per_conn operator rss_before_kib rss_idle_kib)"
row "RSS per connection holding a long poll, KiB (mTLS)" "$(per_conn closed rss_before_kib rss_longpoll_kib)"
row "  heap in use per long-poll connection, KiB" "$(per_conn closed heap_before_kib heap_longpoll_kib)"
fails=$(( $(g closed.failures) + $(g paced.failures) + $(g operator.failures) ))
row "failed client connections" "$fails" "0"
