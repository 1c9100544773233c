#!/usr/bin/env bash
# server_concurrency: 200 simulated devices (one keep-alive mTLS connection
# each, Python threads) poll sessions and commands and register keys against
# the real porthole-server while an operator opens sessions on 100 of them
# and closes 50, concurrently. Afterwards:
#   - no device ever saw a session that was not its own (ra_server_url user
#     is its UUID), no answer was 5xx or malformed;
#   - each device's final answer matches the operator API (200 with its
#     session for the 50 still open, 404 for the rest);
#   - the operator API counts 50 live sessions with 50 distinct reverse
#     ports, and every device's stored key is the last one it posted.
#
#   PORTHOLE_SERVER_BIN=build/src/server/porthole-server bash tests/e2e/server_concurrency.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/server_lib.sh"
require_cmd xargs

N=${SRV_CONC_DEVICES:-200}
srv_init
srv_start
new_key alice
server policy allow-key "$(pub_path alice)" --name alice
expect_rc 0 "allow-key"

trace "adding $N devices"
mkdir -p "$SRV_BUNDLES"
t0=$SECONDS
seq -f 'd%03g' 0 $((N - 1)) | xargs -P 8 -I{} \
  "$SERVER" --data-dir "$SRV_DATA" device add {} --out "$SRV_BUNDLES/{}" >/dev/null 2>"$WORK/add.err" ||
  fatal "device add: $(tail -3 "$WORK/add.err")"
trace "added $N devices in $((SECONDS - t0)) s"
server device list --json
expect_rc 0 "device list"
printf '%s' "$OUT" >"$WORK/devices.json"
[ "$(srv_json 'len(j)')" = "$N" ] || fatal "device list has $(srv_json 'len(j)') devices"

cat >"$WORK/hammer.py" <<'PY'
import http.client, json, os, ssl, sys, threading, time, random, base64
work, bundles, dev_port, op_port, ca, token, alice = sys.argv[1:8]
key_lines = [open(f"{work}/keys/k{i}.pub").read().strip() for i in range(8)]
devices = {d["name"]: d["id"] for d in json.load(open(work + "/devices.json"))}
names = sorted(devices)
errors = []
lock = threading.Lock()
stop = threading.Event()
seen = {n: set() for n in names}      # session URLs a device saw
last_key = {}
polls = [0]

def err(msg):
    with lock:
        if len(errors) < 50:
            errors.append(msg)

def dev_conn(name):
    ctx = ssl.create_default_context(cafile=f"{bundles}/{name}/root.crt")
    ctx.load_cert_chain(f"{bundles}/{name}/client.pem", f"{bundles}/{name}/pkey.pem")
    return http.client.HTTPSConnection("127.0.0.1", int(dev_port), context=ctx, timeout=30)

def request(conn, method, path, body=None, headers=None):
    h = dict(headers or {})
    if body is not None:
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    return r.status, r.read()

def device(name):
    uid = devices[name]
    conn = dev_conn(name)
    i = 0
    while not stop.is_set() or i < 3:
        i += 1
        try:
            if i % 7 == 1:
                line = random.choice(key_lines)
                blob = line.split()[1]
                st, body = request(conn, "POST", "/ras/public-keys", json.dumps({"key": line}))
                if st // 100 != 2:
                    err(f"{name} public-keys {st} {body[:100]}")
                else:
                    last_key[name] = blob
                continue
            path = "/ras/sessions" if i % 2 else "/ras/commands"
            st, body = request(conn, "GET", path)
            with lock:
                polls[0] += 1
            if path == "/ras/sessions":
                if st == 200:
                    s = json.loads(body)["ssh"]
                    url = s["ra_server_url"]
                    if not url.startswith(f"ssh://{uid}@"):
                        err(f"{name} saw {url}")
                    seen[name].add(url)
                elif st != 404:
                    err(f"{name} sessions {st} {body[:100]}")
            elif st != 200 or "values" not in json.loads(body):
                err(f"{name} commands {st} {body[:100]}")
        except Exception as e:
            err(f"{name}: {type(e).__name__}: {e}")
            conn.close()
            conn = dev_conn(name)
            if stop.is_set():
                break
    # The final word: one more poll after the operator is done.
    st, body = request(conn, "GET", "/ras/sessions")
    final[name] = (st, json.loads(body)["ssh"]["reverse_port"] if st == 200 else None)
    conn.close()

final = {}
op_ctx = ssl.create_default_context(cafile=ca)
def op(method, path, body=None):
    c = http.client.HTTPSConnection("127.0.0.1", int(op_port), context=op_ctx, timeout=30)
    st, b = request(c, method, path, body, {"Authorization": "Bearer " + token})
    c.close()
    return st, b

opened = {}
def operator(part):
    for n in names[part:100:4]:
        st, b = op("POST", "/api/v1/sessions", json.dumps({"device": n, "keys": [alice]}))
        if st != 201:
            err(f"open {n}: {st} {b[:200]}")
            continue
        with lock:
            opened[n] = json.loads(b)["id"]
    for n in names[part:50:4]:
        if n in opened:
            st, b = op("DELETE", "/api/v1/sessions/" + opened[n])
            if st != 200:
                err(f"close {n}: {st} {b[:200]}")

t0 = time.monotonic()
threads = [threading.Thread(target=device, args=(n,)) for n in names]
for t in threads:
    t.start()
ops = [threading.Thread(target=operator, args=(p,)) for p in range(4)]
for t in ops:
    t.start()
for t in ops:
    t.join()
time.sleep(0.5)  # let the devices keep polling a little after the last change
stop.set()
for t in threads:
    t.join()
elapsed = time.monotonic() - t0

st, b = op("GET", "/api/v1/sessions")
live = json.loads(b)["sessions"]
live_by_dev = {s["device_name"]: s for s in live}
if len(live) != 50:
    err(f"{len(live)} live sessions, want 50")
ports = [s["reverse_port"] for s in live]
if len(set(ports)) != len(ports):
    err("reverse ports not unique")
for i, n in enumerate(names):
    want_open = 50 <= i < 100
    st, port = final.get(n, (None, None))
    if want_open:
        if st != 200 or n not in live_by_dev or live_by_dev[n]["reverse_port"] != port:
            err(f"{n}: final {st} {port}, operator {live_by_dev.get(n, {}).get('reverse_port')}")
    elif st != 404 or n in live_by_dev:
        err(f"{n}: final {st}, want 404")
st, b = op("GET", "/api/v1/devices")
for d in json.loads(b)["devices"]:
    k = (d.get("ssh_key") or "").split()
    if d["name"] in last_key and (len(k) < 2 or k[1] != last_key[d["name"]]):
        err(f"{d['name']}: stored key is not the last posted")
print(json.dumps({"polls": polls[0], "seconds": round(elapsed, 1),
                  "errors": errors}))
PY

for i in 0 1 2 3 4 5 6 7; do new_key "k$i"; done
trace "hammering"
run python3 "$WORK/hammer.py" "$WORK" "$SRV_BUNDLES" "$SRV_DEV_PORT" "$SRV_OP_PORT" "$SRV_CA" \
  "$SRV_TOKEN" "$(pub_line alice)"
[ "$RC" = 0 ] || fatal "hammer.py failed: ${ERR:0:2000}"
trace "result: $(srv_json '"%d polls in %s s" % (j["polls"], j["seconds"])')"
errs=$(srv_json '"\n".join(j["errors"])')
[ -z "$errs" ] || fail "inconsistencies: $errs"
kill -0 "$SRV_PID" || fail "the server died"
grep -E 'error|ERROR' "$SRV_LOG" | grep -v 'refused' | head -3 | grep -q . &&
  fail "server log has errors: $(grep -E 'error|ERROR' "$SRV_LOG" | head -3)"
pass
