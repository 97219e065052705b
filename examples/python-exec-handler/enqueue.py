#!/usr/bin/env python3
"""Enqueues example.report tasks over fila's HTTP API and waits for them.

Three tasks: one that succeeds with progress, one whose first attempt finds
the upstream busy (report.py exits 75: retried), and one with a bad payload
(report.py exits 2: failed for good, with its stderr as the error). Prints
one line per task; exits 1 when a task did not end as expected.
Standard library only.
"""
import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.request

TERMINAL = {"succeeded", "failed", "dead", "cancelled"}

TASKS = [
    ("ok", {"customer": "acme", "months": 6}, "succeeded"),
    ("retried", {"customer": "globex", "upstream_busy_on_first_attempt": True}, "succeeded"),
    ("bad", {"customer": ""}, "failed"),
]


def http(args, method, path, body=None):
    headers = {"Authorization": "Bearer " + args.token, "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    req = urllib.request.Request(args.api.rstrip("/") + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        sys.exit("%s %s: HTTP %d: %s" % (method, path, e.code, e.read()[:300].decode(errors="replace")))
    except urllib.error.URLError as e:
        sys.exit("%s %s: cannot reach %s: %s" % (method, path, args.api, e.reason))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--api", required=True, help="fila HTTP API, e.g. http://127.0.0.1:8080")
    p.add_argument("--token", required=True, help="producer token (fila tokens create --role producer)")
    p.add_argument("--wait-timeout", type=float, default=60)
    args = p.parse_args()

    ids = {}
    for name, payload, _ in TASKS:
        task = http(args, "POST", "/v1/tasks", {"type": "example.report", "args": payload})
        ids[name] = task["id"]

    deadline = time.monotonic() + args.wait_timeout
    tasks = {}
    while len(tasks) < len(ids):
        for name, task_id in ids.items():
            if name not in tasks:
                task = http(args, "GET", "/v1/tasks/" + task_id)
                if task["state"] in TERMINAL:
                    tasks[name] = task
        if time.monotonic() > deadline:
            sys.exit("tasks not finished after %g s" % args.wait_timeout)
        time.sleep(0.2)

    ok = True
    for name, _, expected in TASKS:
        task = tasks[name]
        result = base64.b64decode(task.get("result", "")).decode(errors="replace")
        progress = task.get("progress", {})
        print("%-8s %s attempt %s progress %s%% %r result %s error %r" % (
            name, task["state"], task.get("attempt"), progress.get("percent", 0), progress.get("message", ""),
            result or "-", task.get("last_error", "")))
        ok = ok and task["state"] == expected
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
