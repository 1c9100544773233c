#!/usr/bin/env python3
"""N simulated devices polling one porthole-server (not a test by itself).

Each device is a RAC-format client: its own client certificate (from
`porthole-server device add`), one keep-alive mutual-TLS connection, and
every PERIOD seconds the two requests an idle RAC makes (PROTOCOL.md 3):
GET /ras/sessions (404: no session) and GET /ras/commands (200). The first
poll of each device is spread over one period. A reply other than those,
a broken connection or a timeout is an error (the device reconnects).

    load_devices.py --url https://192.0.2.1:8443 --ca tls/ca.pem \
        --devices DIR --seconds 300 --period 3 --server-pid PID

DIR holds one sub-directory per device with client.pem and pkey.pem (the
bundle layout). Prints KEY=VALUE lines at the end (and a progress line
every --report seconds on stderr): devices, seconds, polls (requests
answered), polls_per_s, errors, rss_start_kb, rss_peak_kb, rss_end_kb
(the server's VmRSS after all devices connected, the most seen, at the
end), p50_ms, p99_ms. Exit 0 when there were no errors, 1 otherwise.
"""
import argparse
import asyncio
import os
import random
import ssl
import sys
import time
import urllib.parse

OK = {"/ras/sessions": (404, 200), "/ras/commands": (200,)}


def rss_kb(pid):
    if not pid:
        return 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Stats:
    def __init__(self):
        self.polls = 0
        self.errors = 0
        self.error_kinds = {}
        self.lat = []
        self.connected = 0

    def error(self, what):
        self.errors += 1
        self.error_kinds[what] = self.error_kinds.get(what, 0) + 1


async def request(reader, writer, host, path, timeout):
    writer.write(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: porthole-load\r\n"
                  "Accept: */*\r\n\r\n" % (path, host)).encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
        if k.strip().lower() == "transfer-encoding":
            raise ValueError("chunked reply")
    if length is None:
        raise ValueError("no Content-Length")
    if length:
        await asyncio.wait_for(reader.readexactly(length), timeout)
    return status


async def device(name, ctx, args, stats, deadline):
    u = urllib.parse.urlsplit(args.url)
    host, port = u.hostname, u.port or 443
    loop = asyncio.get_running_loop()
    reader = writer = None
    next_t = loop.time() + random.uniform(0, args.period)
    while True:
        now = loop.time()
        if next_t >= deadline:
            break
        if next_t > now:
            await asyncio.sleep(next_t - now)
        next_t += args.period
        for path in ("/ras/sessions", "/ras/commands"):
            t0 = time.monotonic()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(host, port, ssl=ctx,
                                                server_hostname=host),
                        args.timeout)
                    stats.connected += 1
                status = await request(reader, writer, host, path, args.timeout)
                if status not in OK[path]:
                    stats.error("%s answered %d" % (path, status))
                    continue
                stats.polls += 1
                stats.lat.append(time.monotonic() - t0)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    ValueError, ssl.SSLError, IndexError) as e:
                stats.error("%s: %s" % (path, type(e).__name__))
                if writer is not None:
                    writer.close()
                reader = writer = None
    if writer is not None:
        writer.close()


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="device API, https://HOST:PORT")
    p.add_argument("--ca", required=True, help="the server CA (PEM)")
    p.add_argument("--devices", required=True, help="dir of bundle dirs")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--period", type=float, default=3, help="poll period, s")
    p.add_argument("--timeout", type=float, default=20, help="per request, s")
    p.add_argument("--server-pid", type=int, default=0)
    p.add_argument("--report", type=float, default=10)
    args = p.parse_args()

    names = sorted(os.listdir(args.devices))
    ctxs = []
    for n in names:
        d = os.path.join(args.devices, n)
        ctx = ssl.create_default_context(cafile=args.ca)
        ctx.load_cert_chain(os.path.join(d, "client.pem"), os.path.join(d, "pkey.pem"))
        ctxs.append(ctx)
    stats = Stats()
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + args.seconds
    tasks = [asyncio.create_task(device(n, c, args, stats, deadline))
             for n, c in zip(names, ctxs)]
    # RSS once every device has made its first poll (one period in).
    rss_start = rss_peak = 0
    next_report = start + args.report
    settled = False
    while any(not t.done() for t in tasks):
        await asyncio.sleep(0.5)
        now = loop.time()
        if args.server_pid:
            r = rss_kb(args.server_pid)
            rss_peak = max(rss_peak, r)
            if not settled and now >= start + args.period + 1:
                rss_start, settled = r, True
        if now >= next_report:
            next_report += args.report
            print("load: t=%.0fs polls=%d errors=%d connections=%d rss=%dkB" %
                  (now - start, stats.polls, stats.errors, stats.connected,
                   rss_kb(args.server_pid)), file=sys.stderr, flush=True)
    elapsed = loop.time() - start
    lat = sorted(stats.lat) or [0]
    out = {
        "devices": len(names),
        "seconds": round(elapsed, 1),
        "polls": stats.polls,
        "polls_per_s": round(stats.polls / elapsed, 1),
        "errors": stats.errors,
        "connections": stats.connected,
        "rss_start_kb": rss_start,
        "rss_peak_kb": rss_peak,
        "rss_end_kb": rss_kb(args.server_pid),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2),
    }
    for k, v in out.items():
        print("%s=%s" % (k, v))
    for k, v in sorted(stats.error_kinds.items()):
        print("error: %s x%d" % (k, v), file=sys.stderr)
    return 0 if stats.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
