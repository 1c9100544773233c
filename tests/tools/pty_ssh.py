#!/usr/bin/env python3
"""Drives an interactive program (ssh -tt ...) on a real pty, as a person at
a terminal would: sets the window size, waits for output, types lines.

  pty_ssh.py --cols 200 --rows 50 --script SCRIPT -- ssh -tt ... host

SCRIPT lines: "send TEXT" (TEXT plus a newline; \\e escapes allowed),
"expect TEXT" (waits up to --timeout s for TEXT in the output since the last
expect), "resize COLS ROWS". Exits with the program's exit status, or 99
(timeout or EOF before an expected text; the output so far goes to stderr).
"""
import argparse, fcntl, os, pty, select, struct, sys, termios, time


def set_size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cols", type=int, default=80)
    ap.add_argument("--rows", type=int, default=24)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--script", required=True)
    ap.add_argument("argv", nargs="+")
    a = ap.parse_args()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(a.argv[0], a.argv)
    set_size(fd, a.cols, a.rows)
    seen = b""

    def read_some(deadline):
        nonlocal seen
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
        if not r:
            return False
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            raise EOFError
        seen += data
        return True

    try:
        for line in open(a.script).read().splitlines():
            cmd, _, arg = line.partition(" ")
            if cmd == "send":
                os.write(fd, arg.encode().decode("unicode_escape").encode() + b"\r")
            elif cmd == "resize":
                cols, rows = arg.split()
                set_size(fd, int(cols), int(rows))
                os.kill(pid, 28)  # SIGWINCH: ssh sends window-change
            elif cmd == "expect":
                deadline = time.time() + a.timeout
                want = arg.encode()
                while want not in seen:
                    if not read_some(deadline):
                        sys.stderr.write("pty_ssh: timed out waiting for %r; output: %r\n" % (arg, seen[-2000:]))
                        os.kill(pid, 9)
                        sys.exit(99)
                seen = seen[seen.index(want) + len(want):]
            elif cmd:
                sys.exit("pty_ssh: bad script line %r" % line)
    except EOFError:
        sys.stderr.write("pty_ssh: EOF before the script ended; output: %r\n" % seen[-2000:])
        os.waitpid(pid, 0)
        sys.exit(99)
    # Drain until the program exits.
    deadline = time.time() + a.timeout
    try:
        while read_some(deadline):
            pass
    except EOFError:
        pass
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8)


main()
