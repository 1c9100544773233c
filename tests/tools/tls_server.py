#!/usr/bin/env python3
"""A real HTTPS server for client tests: TLS with required client
certificates from --ca (without --ca no client certificate is asked for),
HTTP/1.1 keep-alive. --cert may hold a chain (the server's certificate
first), which is sent as it is. Prints its port on stdout.

  GET|POST|DELETE /echo 200, JSON {method, path, headers, body, client_cn}
  GET /status/N         status N, body "status N"
  GET /bytes/N          200, N bytes of 'x'
  GET /slow/MS          sleeps MS milliseconds, then 200 "late"
"""
import argparse, json, ssl, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="text/plain"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        parts = self.path.split("/")
        if self.path == "/echo":
            cert = self.connection.getpeercert() or {}
            cn = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
            self.reply(200, json.dumps({
                "method": self.command, "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body, "client_cn": cn[0] if cn else None}),
                "application/json")
        elif len(parts) == 3 and parts[1] == "status":
            self.reply(int(parts[2]), "status " + parts[2])
        elif len(parts) == 3 and parts[1] == "bytes":
            self.reply(200, b"x" * int(parts[2]))
        elif len(parts) == 3 and parts[1] == "slow":
            time.sleep(int(parts[2]) / 1000)
            self.reply(200, "late")
        else:
            self.reply(404, "not found")

    do_GET = handle_any
    do_POST = handle_any
    do_DELETE = handle_any


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca")
    a = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.ca:
        ctx.load_verify_locations(a.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
