#!/usr/bin/env python3
"""What fila-exec-shim adds to starting a command: the CPU (of the children,
as reaped) and wall time per start of `true` alone and of `true` under each
shim given, interleaved in rounds so that all see the same machine.
    bench/exec-shim-cost.py build/bin/fila-exec-shim [other-shim ...]
Standard library only. The shim's status line (descriptor 4) is not read.
"""
import os
import subprocess
import sys
import time


def cost(cmd, starts):
    c0, t0 = os.times(), time.monotonic()
    for _ in range(starts):
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
    c1 = os.times()
    cpu = c1.children_user + c1.children_system - c0.children_user - c0.children_system
    return cpu * 1000 / starts, (time.monotonic() - t0) * 1000 / starts


def main():
    shims = sys.argv[1:]
    if not shims:
        sys.exit(__doc__)
    me = str(os.getpid())  # the shim checks that its parent is the pid it was given
    commands = [("true", ["true"])] + [(s, [s, me, "0", "true"]) for s in shims]
    results = {name: [] for name, _ in commands}
    for _ in range(3):
        for name, cmd in commands:
            results[name].append(cost(cmd, 200))
    print("| started | CPU ms per start (3 rounds) | wall ms per start |")
    print("|---|---|---|")
    for name, rounds in results.items():
        print("| %s | %s | %s |" % (name, " ".join("%.1f" % c for c, _ in rounds),
                                    " ".join("%.1f" % w for _, w in rounds)))


if __name__ == "__main__":
    main()
