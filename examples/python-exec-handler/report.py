#!/usr/bin/env python3
"""An exec handler for fila: builds a small sales report for one customer.

fila-worker runs this script once per task of the type `example.report`
(types.yaml) and talks to it the way docs/handlers.md ("Exec handlers")
says:

- the task's payload arrives on stdin as a JSON object;
- the result is what the script prints on stdout (here a JSON object);
- its log is stderr: the worker keeps the last few KB in the attempt's
  error when the script fails;
- progress is one JSON line per step, {"percent": 40, "message": "..."},
  written to the descriptor named in FILA_PROGRESS_FD;
- the exit status decides the outcome: 0 succeeded, 75 (EX_TEMPFAIL) try
  again later, anything else a permanent failure (no retry);
- at the task's deadline, or when it is cancelled, the script gets SIGTERM
  (then SIGKILL after the type's grace period).

Standard library only.
"""
import json
import os
import signal
import sys
import time

EX_TEMPFAIL = 75


def progress(percent, message):
    line = json.dumps({"percent": percent, "message": message}) + "\n"
    os.write(int(os.environ["FILA_PROGRESS_FD"]), line.encode())


def log(message):
    print("[%s attempt %s] %s" % (os.environ["FILA_TASK_ID"], os.environ["FILA_ATTEMPT"], message),
          file=sys.stderr, flush=True)


def stop(signum, frame):
    # The deadline or a cancel: nothing to clean up here but the log line.
    log("stopping: the task timed out or was cancelled")
    sys.exit(1)


def main():
    signal.signal(signal.SIGTERM, stop)
    task = json.load(sys.stdin)
    customer = task.get("customer")
    months = task.get("months", 3)
    if not isinstance(customer, str) or not customer:
        log("the payload needs a customer (a non-empty string), got %r" % (customer,))
        return 2  # bad input: retrying will not help
    if not isinstance(months, int) or not 1 <= months <= 24:
        log("months must be an integer from 1 to 24, got %r" % (months,))
        return 2
    # A stand-in for a flaky upstream: the first attempt finds it busy.
    if task.get("upstream_busy_on_first_attempt") and os.environ["FILA_ATTEMPT"] == "1":
        log("the sales database is busy; try again later")
        return EX_TEMPFAIL

    log("report for %s over %d months (deadline %s)" % (customer, months, os.environ["FILA_DEADLINE"]))
    totals = []
    for month in range(1, months + 1):
        time.sleep(0.05)  # the real work
        totals.append({"month": month, "sales": 1000 * month + len(customer)})
        progress(100 * month // months, "month %d of %d" % (month, months))
    json.dump({"customer": customer, "months": totals, "total": sum(m["sales"] for m in totals)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
