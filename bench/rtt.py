# bench/rtt.py N COMMAND...: runs COMMAND (something that echoes its
# stdin, e.g. `ssh HOST cat`), writes one byte at a time and waits for it
# back, N times after 100 warm-up echoes; prints p50 p99 p99.9 in us.
import os, subprocess, sys, time
n = int(sys.argv[1]); argv = sys.argv[2:]
p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
w, r = p.stdin.fileno(), p.stdout.fileno()
def once():
    t = time.perf_counter_ns(); os.write(w, b"x")
    if os.read(r, 1) != b"x": sys.exit("bad echo")
    return time.perf_counter_ns() - t
for _ in range(100): once()  # warm-up
ts = sorted(once() for _ in range(n))
p.stdin.close(); p.wait()
q = lambda f: ts[min(len(ts) - 1, int(f * len(ts)))] / 1000
print("%.1f %.1f %.1f" % (q(0.5), q(0.99), q(0.999)))
