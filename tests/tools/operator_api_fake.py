#!/usr/bin/env python3
"""A fake porthole-server operator API (docs/operator-api.md) for the
`porthole` CLI's tests, until the real server exists: HTTPS (the --cert file
may hold a chain: the server's certificate, then its CA, as porthole-server
sends it), bearer token, JSON in and out, long polls with ETag/wait/seen.
State lives in memory, seeded from --state FILE (JSON):

  {"token": "...",
   "relay": {"host": "127.0.0.1", "port": 2222, "host_key": "ssh-ed25519 ..."},
   "devices": [{"id": UUID, "name": "dev-7", "host_keys": [...],
                "tunnel": "auto" | "never"}],
   "policy": {"authorized_keys": [{"pubkey": ..., "name": ...}],
              "ra_server_hosts": [...], "ra_server_ssh_pubkeys": [...],
              "allowed_commands": {"echo": ["hello"]}},
   "tunnel_delay_ms": 300, "result_delay_ms": 300,
   "relay_authorized_keys": "/path"}

Behaviour worth knowing:
  - "tunnel": "auto" devices come up tunnel_delay_ms after a session opens
    (the device "connects"); "never" ones never do.
  - Commands get a result result_delay_ms after creation: echo succeeds with
    the args as stdout; restart-service exits 3 with stderr "Failed to
    restart ARG"; reboot is rejected as RAC rejects ({"message": ...}).
  - Keys compare by key material (the base64 field). sk- relay keys: 400.
  - relay_authorized_keys (optional): rewritten on every session change
    with the relay keys of live sessions, restricted to -W DEVICE:22, so a
    real OpenSSH sshd can play the relay.
  - /_test/... (no token): POST /_test/tunnel {"session", "up"},
    GET /_test/requests (every API request so far: method, path, body).

Prints its port on stdout, then serves until killed.
"""
import argparse
import json
import os
import ssl
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

LOCK = threading.Condition()
STATE = {}
SESSIONS = []  # newest last
COMMANDS = []
EVENTS = []
REQUESTS = []
VERSION = {"root": 1, "rs": 1}


def now():
    return datetime.now(timezone.utc).replace(microsecond=0)


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def blob(line):
    parts = line.split()
    return parts[1] if len(parts) >= 2 else None


def fingerprint(line):
    import base64
    import hashlib
    digest = hashlib.sha256(base64.b64decode(blob(line))).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def audit(kind, device="", session="", actor="alice", details=None):
    EVENTS.append({"seq": len(EVENTS) + 1, "at": ts(now()), "kind": kind,
                   "device": device, "session": session, "actor": actor,
                   "details": details or {}})


def find_device(ref):
    for d in STATE["devices"]:
        if d["id"] == ref.lower() or d["name"] == ref:
            return d
    return None


def live_session(device):
    for s in SESSIONS:
        if s["device"] == device["id"] and s["state"] == "open":
            if datetime.strptime(s["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=timezone.utc) <= now():
                s.update(state="expired", ended_at=ts(now()), tag=s["tag"] + 1)
                continue
            return s
    return None


def device_json(d):
    s = live_session(d)
    return {"id": d["id"], "name": d["name"], "created_at": "2026-01-01T00:00:00Z",
            "removed_at": d.get("removed_at"), "last_seen_at": ts(now()),
            "cert_sha256": "00" * 32, "cert_not_after": "2030-01-01T00:00:00Z",
            "ssh_key": "", "ssh_key_fingerprint": "SHA256:device",
            "host_keys": d.get("host_keys", []),
            "session": s["id"] if s else None,
            "tunnel_up": bool(s and s["tunnel_up"])}


def session_json(s):
    return {k: v for k, v in s.items() if k != "tag"}


def write_relay_keys():
    path = STATE.get("relay_authorized_keys")
    if not path:
        return
    lines = []
    for s in SESSIONS:
        if s["state"] != "open":
            continue
        for k in s["relay_keys"] + s["operator_keys"]:
            lines.append('restrict,port-forwarding,permitopen="%s:22" %s\n'
                         % (s["device_name"], k))
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def later(ms, fn):
    t = threading.Timer(ms / 1000.0, fn)
    t.daemon = True
    t.start()


def bring_up(sid):
    with LOCK:
        for s in SESSIONS:
            if s["id"] == sid and s["state"] == "open" and not s["tunnel_up"]:
                s.update(tunnel_up=True, tunnel_changed_at=ts(now()),
                         tag=s["tag"] + 1)
                audit("tunnel.up", s["device"], sid, "")
        LOCK.notify_all()


def finish_command(cid):
    with LOCK:
        for c in COMMANDS:
            if c["id"] != cid:
                continue
            name, args = c["name"], c["args"]
            result = {"success": True, "exit_code": 0, "stdout": "", "stderr": "",
                      "error": None, "finished_at": ts(now()),
                      "received_at": ts(now())}
            if name == "echo":
                result["stdout"] = " ".join(args) + "\n"
            elif name == "restart-service":
                result.update(success=False, exit_code=3,
                              stderr="Failed to restart %s\n" % " ".join(args))
            else:
                result.update(success=False, exit_code=0, error={
                    "message": "invalid command received from server"})
            c.update(state="done", result=result, tag=c["tag"] + 1)
            audit("command.result", c["device"], "", "", {"id": cid})
        LOCK.notify_all()


def policy_status():
    p = STATE["policy"]
    return {"root": {"version": VERSION["root"], "expires": "2030-01-01T00:00:00Z",
                     "keys_online": True},
            "remote_sessions": {"version": VERSION["rs"],
                                "expires": "2030-01-01T00:00:00Z",
                                "keys_online": True},
            "draft_published": True, "draft": p, "published": p}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj, etag=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if etag is not None:
            self.send_header("ETag", '"%s"' % etag)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, description, **extra):
        body = {"code": code, "description": description}
        body.update(extra)
        self.reply(status, body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode() if n else ""
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        q = {k: v[0] for k, v in query.items()}
        if path.startswith("/_test/"):
            return self.control(path, raw)
        with LOCK:
            REQUESTS.append({"method": self.command, "path": self.path,
                             "body": raw})
        if self.headers.get("Authorization") != "Bearer " + STATE["token"]:
            return self.error(401, "unauthorized", "unknown or revoked token")
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                if path != "/api/v1/policy/import":
                    return self.error(400, "bad_request", "body is not JSON")
        parts = [unquote(p) for p in path.split("/")[3:]]  # after /api/v1
        try:
            return self.route(self.command, parts, q, body, raw)
        except KeyError as e:
            return self.error(400, "bad_request", "missing member %s" % e)

    def wait_for(self, q, current, tag_of):
        """Long poll: hold while the tag equals `seen`."""
        wait = int(q.get("wait", "0") or 0)
        seen = q.get("seen")
        deadline = time.time() + min(wait, 55)
        with LOCK:
            obj = current()
            while wait and seen is not None and str(tag_of(obj)) == seen:
                left = deadline - time.time()
                if left <= 0:
                    break
                LOCK.wait(left)
                obj = current()
            return obj

    def route(self, method, parts, q, body, raw):
        res = parts[0] if parts else ""
        with LOCK:
            if res == "relay" and method == "GET":
                return self.reply(200, STATE["relay"])
            if res == "devices" and method == "GET":
                if len(parts) == 1:
                    return self.reply(200, {"devices": [
                        device_json(d) for d in STATE["devices"]
                        if q.get("all") or not d.get("removed_at")]})
                d = find_device(parts[1])
                if not d:
                    return self.error(404, "not_found", "no device " + parts[1])
                return self.reply(200, device_json(d))
            if res == "sessions" and method == "POST" and len(parts) == 1:
                return self.open_session(body)
            if res == "sessions" and method == "GET" and len(parts) == 1:
                out = [s for s in reversed(SESSIONS)
                       if (q.get("all") or s["state"] == "open")]
                if q.get("device"):
                    d = find_device(q["device"])
                    out = [s for s in out if d and s["device"] == d["id"]]
                return self.reply(200, {"sessions": [session_json(s) for s in out]})
            if res == "commands" and method == "POST":
                return self.create_command(body)
            if res == "commands" and method == "GET" and len(parts) == 1:
                out = list(reversed(COMMANDS))
                if q.get("device"):
                    d = find_device(q["device"])
                    out = [c for c in out if d and c["device"] == d["id"]]
                if q.get("pending"):
                    out = [c for c in out if c["state"] == "pending"]
                return self.reply(200, {"commands": [session_json(c) for c in out]})
            if res == "policy":
                return self.policy(method, parts, body, raw)
            if res == "audit" and method == "GET":
                out = EVENTS
                if q.get("after"):
                    out = [e for e in out if e["seq"] > int(q["after"])]
                if q.get("since"):
                    out = [e for e in out if e["at"] >= q["since"]]
                if q.get("device"):
                    d = find_device(q["device"])
                    out = [e for e in out if d and e["device"] in (d["id"], d["name"])]
                return self.reply(200, {"events": out[:int(q.get("limit", 1000))]})
        if res == "sessions" and len(parts) >= 2:
            return self.one_session(method, parts, q, body)
        if res == "commands" and len(parts) == 2 and method == "GET":
            def current():
                return next((c for c in COMMANDS if c["id"] == parts[1]), None)
            c = self.wait_for(q, current, lambda c: c["tag"] if c else "")
            if not c:
                return self.error(404, "not_found", "no command " + parts[1])
            return self.reply(200, session_json(c), etag=c["tag"])
        return self.error(404, "not_found", "no such endpoint")

    def open_session(self, body):
        d = find_device(body["device"])
        if not d:
            return self.error(404, "not_found", "no device " + body["device"])
        allowed = {blob(k["pubkey"]) for k in STATE["policy"]["authorized_keys"]}
        for k in body["keys"]:
            if blob(k) not in allowed:
                return self.error(403, "key_not_allowed",
                                  "key %s... is not in the signed policy" % blob(k)[:20])
        for k in body.get("relay_keys", []):
            if k.startswith("sk-"):
                return self.error(400, "bad_request", "sk- relay keys are refused")
        s = live_session(d)
        if s:
            return self.error(409, "session_exists", "%s has a live session" % d["name"],
                              session=session_json(s))
        ttl = body.get("ttl", 3600)
        sid = "s-" + uuid.uuid4().hex[:12]
        s = {"id": sid, "device": d["id"], "device_name": d["name"],
             "operator_keys": body["keys"], "relay_keys": body.get("relay_keys", []),
             "reverse_port": 41000 + len(SESSIONS), "opened_by": "alice",
             "created_at": ts(now()), "expires_at": ts(now() + timedelta(seconds=int(ttl))),
             "state": "open", "ended_at": None, "end_reason": "",
             "tunnel_up": False, "tunnel_changed_at": ts(now()),
             "relay": STATE["relay"], "tag": 1}
        SESSIONS.append(s)
        audit("session.open", d["id"], sid)
        write_relay_keys()
        if d.get("tunnel", "auto") == "auto":
            later(STATE.get("tunnel_delay_ms", 300), lambda: bring_up(sid))
        return self.reply(201, session_json(s))

    def one_session(self, method, parts, q, body):
        def current():
            return next((s for s in SESSIONS if s["id"] == parts[1]), None)
        if method == "GET" and len(parts) == 2:
            s = self.wait_for(q, current, lambda s: s["tag"] if s else "")
            if not s:
                return self.error(404, "not_found", "no session " + parts[1])
            return self.reply(200, session_json(s), etag=s["tag"])
        with LOCK:
            s = current()
            if not s:
                return self.error(404, "not_found", "no session " + parts[1])
            if method == "DELETE" and len(parts) == 2:
                if s["state"] == "open":
                    s.update(state="closed", ended_at=ts(now()),
                             end_reason="closed by alice", tunnel_up=False,
                             tag=s["tag"] + 1)
                    audit("session.close", s["device"], s["id"])
                    write_relay_keys()
                    LOCK.notify_all()
                return self.reply(200, session_json(s))
            if method == "POST" and parts[2:] == ["relay-keys"]:
                if s["state"] != "open":
                    return self.error(409, "conflict", "session has ended")
                if body["key"].startswith("sk-"):
                    return self.error(400, "bad_request", "sk- relay keys are refused")
                if len(s["relay_keys"]) >= 4:
                    return self.error(409, "conflict", "at most 4 relay keys")
                s["relay_keys"].append(body["key"])
                s["tag"] += 1
                write_relay_keys()
                LOCK.notify_all()
                return self.reply(200, session_json(s))
        return self.error(404, "not_found", "no such endpoint")

    def create_command(self, body):
        d = find_device(body["device"])
        if not d:
            return self.error(404, "not_found", "no device " + body["device"])
        allowed = STATE["policy"].get("allowed_commands") or {}
        if body["name"] not in allowed or any(
                a not in allowed[body["name"]] for a in body.get("args", [])):
            return self.error(403, "command_not_allowed",
                              "%s is not allowed by the signed policy" % body["name"])
        cid = "urn:tdx-ota:command:" + uuid.uuid4().hex
        c = {"id": cid, "device": d["id"], "device_name": d["name"],
             "name": body["name"], "args": body.get("args", []),
             "created_by": "alice", "created_at": ts(now()),
             "state": "pending", "result": None, "tag": 1}
        COMMANDS.append(c)
        audit("command.create", d["id"], "", "alice", {"id": cid})
        later(STATE.get("result_delay_ms", 300), lambda: finish_command(cid))
        return self.reply(201, session_json(c))

    def policy(self, method, parts, body, raw):
        p = STATE["policy"]
        sub = parts[1] if len(parts) > 1 else ""
        if method == "GET" and sub == "":
            return self.reply(200, policy_status())
        if method == "GET" and sub == "export":
            return self.reply(200, {"signatures": [], "signed": {
                "_type": "Remote-Sessions", "version": VERSION["rs"] + 1,
                "expires": "2030-01-01T00:00:00Z",
                "remote_sessions": {"ssh": {"authorized_keys": {}}}}})
        if method == "POST" and sub == "import":
            try:
                doc = json.loads(raw)
                ok = doc["signed"]["_type"] == "Remote-Sessions" and doc["signatures"]
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                return self.error(400, "bad_request", "not a signed remote-sessions document")
            VERSION["rs"] += 1
            return self.reply(200, {"published_version": VERSION["rs"]})
        if method == "POST" and sub == "keys":
            p["authorized_keys"] = [k for k in p["authorized_keys"]
                                    if blob(k["pubkey"]) != blob(body["key"])]
            p["authorized_keys"].append({"pubkey": body["key"],
                                         "name": body.get("name", ""),
                                         "fingerprint": fingerprint(body["key"])})
        elif method == "DELETE" and sub == "keys" and len(parts) == 3:
            target = parts[2]
            keep = [k for k in p["authorized_keys"]
                    if target not in (k["name"], k.get("fingerprint"))]
            if len(keep) == len(p["authorized_keys"]):
                return self.error(404, "not_found", "no such key " + target)
            p["authorized_keys"] = keep
        elif method == "POST" and sub == "commands":
            p.setdefault("allowed_commands", {})[body["name"]] = body.get("args", [])
        elif method == "DELETE" and sub == "commands" and len(parts) == 3:
            if parts[2] not in (p.get("allowed_commands") or {}):
                return self.error(404, "not_found", "not allowed: " + parts[2])
            del p["allowed_commands"][parts[2]]
        else:
            return self.error(404, "not_found", "no such endpoint")
        VERSION["rs"] += 1
        audit("policy.change", "", "", "alice", {"version": VERSION["rs"]})
        return self.reply(200, {"published_version": VERSION["rs"]})

    def control(self, path, raw):
        with LOCK:
            if path == "/_test/requests":
                return self.reply(200, {"requests": REQUESTS})
            if path == "/_test/tunnel":
                body = json.loads(raw)
                for s in SESSIONS:
                    if s["id"] == body["session"]:
                        s.update(tunnel_up=body["up"], tag=s["tag"] + 1)
                LOCK.notify_all()
                return self.reply(200, {})
        return self.error(404, "not_found", "no such control endpoint")

    do_GET = handle_any
    do_POST = handle_any
    do_DELETE = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    with open(a.state) as f:
        STATE.update(json.load(f))
    STATE.setdefault("devices", [])
    STATE.setdefault("policy", {"authorized_keys": [], "ra_server_hosts": [],
                                "ra_server_ssh_pubkeys": []})
    # Fingerprints for deny-key by fingerprint (as ssh-keygen -l prints them).
    for k in STATE["policy"]["authorized_keys"]:
        k["fingerprint"] = fingerprint(k["pubkey"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    write_relay_keys()
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
