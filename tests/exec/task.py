#!/usr/bin/env python3
"""An exec handler for fila's tests: what it does comes from the payload's
"mode" (the payload arrives as JSON on stdin). Standard library only.

Modes: echo, progress, tempfail, fail, sleep, ignore_term, fork_and_exit,
setsid, double_fork, flood_stdout, flood_stderr, env, fds, crash.
A "pidfile" in the payload collects the pids of the processes it starts,
one a line, so that a test can check they are gone.
"""
import json
import os
import signal
import sys
import time


def note_pid(task, pid=None):
    if task.get("pidfile"):
        with open(task["pidfile"], "a") as f:
            f.write("%d\n" % (pid or os.getpid()))


def progress(percent, message):
    fd = int(os.environ["FILA_PROGRESS_FD"])
    os.write(fd, (json.dumps({"percent": percent, "message": message}) + "\n").encode())


def forever():
    while True:
        time.sleep(1)


def child(task, detach=False, ignore_term=False):
    """Forks a child that sleeps forever; returns in the parent."""
    pid = os.fork()
    if pid == 0:
        if detach:
            os.setsid()
        if ignore_term:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        note_pid(task)
        forever()
    return pid


def main():
    task = json.load(sys.stdin)
    mode = task.get("mode", "echo")
    attempt = int(os.environ.get("FILA_ATTEMPT", "0"))
    note_pid(task)
    if mode == "echo":
        progress(50, "halfway")
        print(json.dumps({"payload": task, "attempt": attempt}))
    elif mode == "progress":
        fd = int(os.environ["FILA_PROGRESS_FD"])
        os.write(fd, b"not json\n" + b"x" * 10000 + b"\n" + b'{"percent": "high"}\n')
        for p in (10, 60, 250):
            progress(p, "step %d" % p)
            time.sleep(0.3)
        print("done")
    elif mode == "tempfail":
        if attempt < int(task.get("succeed_on_attempt", 1 << 30)):
            print("upstream busy, attempt %d" % attempt, file=sys.stderr)
            sys.exit(75)
        print("ok on attempt %d" % attempt)
    elif mode == "fail":
        print("some noise before the error\n" * int(task.get("noise", 0)), file=sys.stderr, end="")
        print("bad input: %s" % task.get("why", "no reason"), file=sys.stderr)
        sys.exit(int(task.get("status", 3)))
    elif mode == "sleep":
        child(task)
        progress(1, "sleeping")
        time.sleep(float(task.get("seconds", 3600)))
        print("woke up")
    elif mode == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child(task, ignore_term=True)
        progress(1, "ignoring SIGTERM")
        forever()
    elif mode == "fork_and_exit":
        child(task)
        print("parent done")
    elif mode == "setsid":
        child(task, detach=True)
        print("parent done")
    elif mode == "double_fork":
        if os.fork() == 0:
            child(task, detach=True)
            os._exit(0)
        os.wait()
        print("parent done")
    elif mode == "flood_stdout":
        block = b"o" * 65536
        for _ in range(int(task.get("mib", 10)) * 16):
            sys.stdout.buffer.write(block)
    elif mode == "flood_stderr":
        block = "e" * 65535 + "\n"
        for _ in range(int(task.get("mib", 10)) * 16):
            sys.stderr.write(block)
        print("the last words", file=sys.stderr)
        sys.exit(1)
    elif mode == "env":
        print(json.dumps(dict(os.environ)))
    elif mode == "fds":
        fds = {}
        for fd in os.listdir("/proc/self/fd"):
            try:  # the listing's own descriptor is closed by now
                fds[fd] = os.readlink("/proc/self/fd/" + fd)
            except OSError:
                pass
        print(json.dumps(fds))
    elif mode == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    else:
        print("unknown mode %r" % mode, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
