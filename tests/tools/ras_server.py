#!/usr/bin/env python3
"""A fake Torizon RAS and Uptane director for porthole-agent end-to-end tests
(PROTOCOL.md 3): HTTPS with REQUIRED client certificates from --ca, HTTP/1.1
keep-alive, one thread per connection. Prints its port on stdout, then serves
until killed.

Everything it answers comes from the state directory --state DIR, read again
at every request, so a test changes the server's behaviour between steps by
replacing a file there (write a temporary file, then rename it over):

  POST /ras/public-keys         body {"key": "..."}: the key line is stored in
                                DIR/device-key.pub (replaced atomically); 200
  GET  /ras/sessions            200 with DIR/session.json, or 404 without it
  GET  /ras/commands            200 with DIR/commands.json, else {"values":[]}
  POST /ras/commands/URN/result the JSON body is appended to DIR/results.jsonl
                                as {"id": URN, "result": BODY}; 200
  GET  /director/NAME           200 with DIR/director/NAME (root.json,
                                N.root.json, remote-sessions.json ...), or 404

Faults, per endpoint E = public-keys | sessions | commands | result |
director (any director file) | director-NAME (one file, e.g.
director-2.root.json):
  DIR/E.status   "CODE" on the first line, optionally a body on the next
                 lines: the endpoint answers that instead (e.g. 500, or 400
                 with a RasError body for result). For public-keys and
                 result the request is still recorded, nothing is stored.
  DIR/E.delay    seconds (a float) to wait before answering.

porthole-server's device API extensions (docs/device-api-extensions.md),
only while DIR/extensions exists; it holds the X-Porthole-Extensions value
to announce, e.g. "long-poll=55, host-keys". Then, exactly as the
document says:
  - every response carries X-Porthole-Extensions: <that value>;
  - GET sessions and GET commands answers carry ETag: "<16 hex>", a hash
    of the status and body (for sessions also of
    DIR/director/remote-sessions.json);
  - with long-poll=N announced, ?wait=W[&seen=TAG] on those two is a long
    poll: W is decimal seconds (clamped to N; 0, negative, empty or not
    decimal: 400), TAG 1-64 of [0-9a-f] (else 400); when TAG is the
    current tag the request is held until the tag changes (the state
    directory is watched with inotify) or W seconds have passed; a held
    request is appended to DIR/held.jsonl ({"path", "time"}) when the
    hold begins;
  - with host-keys announced, POST /ras/host-keys {"keys": [...]} (1-8
    plain public key lines) is stored in DIR/host-keys.json (atomically)
    and answered 204; anything else 400 invalid_host_keys.
Without DIR/extensions it is RAC's server: no header, no ETag, `wait` and
`seen` ignored (answered at once), host-keys 404.

Every request is appended as one compact JSON line to DIR/requests.jsonl, in
the order answered:
  {"method", "path" (with any query), "headers" (names lower-case),
   "body" (text), "client_cn", "status", "time", "ms" (how long it took
   to answer, a held long poll included)}
A TLS handshake that fails (no client certificate, another CA) is appended to
DIR/tls-errors.jsonl as {"peer", "error", "time"} and never reaches
requests.jsonl.
"""
import argparse
import base64
import ctypes
import hashlib
import json
import os
import re
import select
import ssl
import struct
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG_LOCK = threading.Lock()
# Seconds an idle keep-alive connection (or a stalled handshake) is kept.
IDLE_TIMEOUT = 120
MAX_BODY = 1 << 20
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
RESULT_RE = re.compile(r"^/ras/commands/([^/]+)/result$")
TAG_RE = re.compile(r"^[0-9a-f]{1,64}$")
KEY_TYPES = {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
             "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "sk-ssh-ed25519@openssh.com",
             "sk-ecdsa-sha2-nistp256@openssh.com"}

# inotify through libc (the standard library has no binding).
LIBC = ctypes.CDLL(None, use_errno=True)
IN_EVENTS = 0x8 | 0x40 | 0x80 | 0x100 | 0x200  # CLOSE_WRITE MOVED_* CREATE DELETE


def watch_dirs(dirs):
    fd = LIBC.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    for d in dirs:
        if LIBC.inotify_add_watch(fd, d.encode(), IN_EVENTS) < 0:
            os.close(fd)
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + d)
    return fd


class BadParameter(Exception):
    pass


def plain_public_key(line):
    """Whether `line` is "TYPE BASE64 [comment]" with a blob of TYPE."""
    if not isinstance(line, str) or "\n" in line or len(line) > 16384:
        return False
    parts = line.split(" ", 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        return False
    try:
        blob = base64.b64decode(parts[1], validate=True)
        n = struct.unpack(">I", blob[:4])[0]
        return blob[4:4 + n].decode() == parts[0]
    except Exception:
        return False


def now_text():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"


def append_line(path, obj):
    line = json.dumps(obj, separators=(",", ":"), sort_keys=False) + "\n"
    with LOG_LOCK:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def atomic_write(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o644)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_or_none(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "porthole-fake-ras"
    sys_version = ""

    def log_message(self, *args):
        pass

    def setup(self):
        # The handshake runs here, in this connection's thread, so a client
        # that stalls it cannot block other clients.
        self.request.settimeout(IDLE_TIMEOUT)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError) as e:
            append_line(os.path.join(self.server.state, "tls-errors.jsonl"),
                        {"peer": "%s:%d" % self.client_address,
                         "error": str(e), "time": now_text()})
            self.handshake_failed = True
        else:
            self.handshake_failed = False
        super().setup()

    def handle(self):
        if not self.handshake_failed:
            super().handle()

    # ---- request plumbing ----

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    raise ValueError("body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def client_cn(self):
        cert = self.connection.getpeercert() or {}
        cn = [v for rdn in cert.get("subject", ()) for k, v in rdn
              if k == "commonName"]
        return cn[0] if cn else None

    def state(self, *parts):
        return os.path.join(self.server.state, *parts)

    def fault(self, endpoints):
        """The (status, body) override of the first of `endpoints` that has
        a .status file, after sleeping any .delay; None when there is none."""
        for e in endpoints:
            delay = read_or_none(self.state(e + ".delay"))
            if delay is not None:
                time.sleep(float(delay.decode().strip() or 0))
                break
        for e in endpoints:
            text = read_or_none(self.state(e + ".status"))
            if text is not None:
                first, _, body = text.partition(b"\n")
                return int(first.decode().strip()), body
        return None

    def extensions(self):
        """The announced X-Porthole-Extensions value, or None."""
        text = read_or_none(self.state("extensions"))
        return None if text is None else text.decode().strip()

    def announced(self):
        """{"long-poll": N or None, "host-keys": bool} as announced."""
        out = {"long-poll": None, "host-keys": False}
        value = self.extensions()
        for token in (value or "").split(",") if value is not None else []:
            name, eq, arg = token.strip().partition("=")
            if name == "long-poll" and eq and arg.isdigit() and int(arg) > 0:
                out["long-poll"] = int(arg)
            elif name == "host-keys" and not eq:
                out["host-keys"] = True
        return out

    def reply(self, status, body, ctype="application/json", etag=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        value = self.extensions()
        if value is not None:
            self.send_header("X-Porthole-Extensions", value)
            if etag is not None:
                self.send_header("ETag", '"%s"' % etag)
        self.end_headers()
        self.wfile.write(data)
        return status

    def handle_any(self):
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.reply(400, b'{"code":"bad_request","description":"body"}')
            return
        path, _, query = self.path.partition("?")
        self.query = query
        start = time.monotonic()
        try:
            status = self.route(path, body)
        except Exception as e:  # a bug in the fake: say so loudly
            status = self.reply(500, json.dumps({"fake_ras_error": repr(e)}))
            print("ras_server: %s %s: %r" % (self.command, self.path, e),
                  file=sys.stderr, flush=True)
        append_line(self.state("requests.jsonl"), {
            "method": self.command, "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "client_cn": self.client_cn(), "status": status,
            "time": now_text(),
            "ms": int((time.monotonic() - start) * 1000)})

    do_GET = handle_any
    do_POST = handle_any
    do_PUT = handle_any
    do_DELETE = handle_any

    # ---- the endpoints ----

    def route(self, path, body):
        m = self.command
        if path == "/ras/public-keys" and m == "POST":
            return self.public_keys(body)
        if path == "/ras/sessions" and m == "GET":
            return self.polled(["sessions"], "session.json", None,
                               os.path.join("director",
                                            "remote-sessions.json"))
        if path == "/ras/commands" and m == "GET":
            return self.polled(["commands"], "commands.json",
                               b'{"values":[]}', None)
        if (path == "/ras/host-keys" and m == "POST"
                and self.announced()["host-keys"]):
            return self.host_keys(body)
        r = RESULT_RE.match(path)
        if r and m == "POST":
            return self.result(r.group(1), body)
        if path.startswith("/director/") and m == "GET":
            name = path[len("/director/"):]
            if NAME_RE.match(name):
                return self.from_file(["director-" + name, "director"],
                                      os.path.join("director", name), None)
        return self.reply(404, b'{"code":"not_found","description":"no route"}')

    def from_file(self, endpoints, name, default):
        f = self.fault(endpoints)
        if f:
            return self.reply(*f)
        return self.reply(*self.current(endpoints, name, default))

    def current(self, endpoints, name, default):
        """(status, body) the endpoint answers now (faults included, no
        delay)."""
        for e in endpoints:
            text = read_or_none(self.state(e + ".status"))
            if text is not None:
                first, _, body = text.partition(b"\n")
                return int(first.decode().strip()), body
        data = read_or_none(self.state(name))
        if data is None:
            data = default
        if data is None:
            return 404, b'{"code":"missing","description":"none"}'
        return 200, data

    def tag(self, answer, also):
        h = hashlib.sha256(b"%d\n" % answer[0] + answer[1])
        if also is not None:
            h.update(b"\0" + (read_or_none(self.state(also)) or b""))
        return h.hexdigest()[:16]

    def long_poll_params(self, max_wait):
        """(wait, seen) of the query; (None, None) when not a long poll.
        Raises BadParameter for values the document refuses."""
        params = {}
        for pair in self.query.split("&") if self.query else []:
            k, _, v = pair.partition("=")
            params[k] = v
        if "wait" not in params:
            return None, None
        wait = params["wait"]
        if not wait.isdigit() or int(wait) == 0:
            raise BadParameter("wait must be a decimal number of seconds >= 1")
        seen = params.get("seen")
        if seen is not None and not TAG_RE.match(seen):
            raise BadParameter("seen must be 1-64 characters of [0-9a-f]")
        return min(int(wait), max_wait), seen

    def polled(self, endpoints, name, default, also):
        """GET sessions / commands: RAC's answer, plus the ETag and long
        poll when the extensions are announced."""
        if self.extensions() is None:
            return self.from_file(endpoints, name, default)
        max_wait = self.announced()["long-poll"]
        wait = seen = None
        if max_wait is not None:
            try:
                wait, seen = self.long_poll_params(max_wait)
            except BadParameter as e:
                return self.reply(400, json.dumps(
                    {"code": "invalid_long_poll", "description": str(e)}))
        for e in endpoints:
            delay = read_or_none(self.state(e + ".delay"))
            if delay is not None:
                time.sleep(float(delay.decode().strip() or 0))
                break
        answer = self.current(endpoints, name, default)
        tag = self.tag(answer, also)
        if wait is not None and seen == tag:
            fd = watch_dirs([self.server.state,
                             os.path.join(self.server.state, "director")])
            append_line(self.state("held.jsonl"),
                        {"path": self.path, "time": now_text()})
            try:
                deadline = time.monotonic() + wait
                answer = self.current(endpoints, name, default)
                tag = self.tag(answer, also)
                while tag == seen:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    if select.select([fd], [], [], left)[0]:
                        try:
                            os.read(fd, 65536)
                        except BlockingIOError:
                            pass
                    answer = self.current(endpoints, name, default)
                    tag = self.tag(answer, also)
            finally:
                os.close(fd)
        return self.reply(answer[0], answer[1], etag=tag)

    def host_keys(self, body):
        try:
            doc = json.loads(body)
            keys = doc["keys"]
            ok = (isinstance(doc, dict) and list(doc) == ["keys"]
                  and isinstance(keys, list) and 1 <= len(keys) <= 8
                  and all(plain_public_key(k) for k in keys))
        except Exception:
            ok = False
        if not ok:
            return self.reply(400, json.dumps(
                {"code": "invalid_host_keys",
                 "description": "expected {\"keys\": [1-8 public keys]}"}))
        atomic_write(self.state("host-keys.json"),
                     (json.dumps(doc) + "\n").encode())
        return self.reply(204, b"")

    def public_keys(self, body):
        f = self.fault(["public-keys"])
        if f:
            return self.reply(*f)
        try:
            key = json.loads(body)["key"]
            assert isinstance(key, str) and key
        except Exception:
            return self.reply(400, b'{"code":"bad_key","description":"body"}')
        atomic_write(self.state("device-key.pub"), (key + "\n").encode())
        return self.reply(200, b"")

    def result(self, urn, body):
        f = self.fault(["result"])
        if f:
            return self.reply(*f)
        try:
            parsed = json.loads(body)
        except ValueError:
            return self.reply(400, b'{"code":"bad_result","description":"json"}')
        append_line(self.state("results.jsonl"), {"id": urn, "result": parsed})
        return self.reply(200, b"")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ctx, state):
        self.ctx = ctx
        self.state = state
        super().__init__(addr, Handler)

    def handle_error(self, request, client_address):
        # A client that went away mid-request is not worth a traceback.
        print("ras_server: connection from %s:%d ended: %r"
              % (client_address + (sys.exc_info()[1],)),
              file=sys.stderr, flush=True)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True,
                                    do_handshake_on_connect=False), addr


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cert", required=True, help="server certificate (PEM)")
    p.add_argument("--key", required=True, help="server key (PEM)")
    p.add_argument("--ca", required=True, help="CA of client certificates")
    p.add_argument("--state", required=True, help="state directory")
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    a = p.parse_args()
    os.makedirs(os.path.join(a.state, "director"), exist_ok=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = Server(("127.0.0.1", a.port), ctx, os.path.abspath(a.state))
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
