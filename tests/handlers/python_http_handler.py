#!/usr/bin/env python3
"""An HTTP handler for fila's integration tests (standard library only).

The task's payload says how to behave ("mode"); every request it sees is
reported on stdout as one JSON line ("event"), so a test can count the
attempts, read the times and see a closed connection. It prints
"listening on http://127.0.0.1:PORT" once it serves.

Modes: ok, retry_once (503 + Retry-After: 2 on each task's first attempt),
fail (422), hold (payload.hold_s, counting requests at once), sleep (until the worker closes the request), progress (reports
40 % and waits a little), children (enqueues payload.children child tasks),
late (attempt 1 waits for payload.wait_s then reports on its callback),
garbage (2xx not JSON), huge (2xx of 100 MB), endless (a 2xx that never
ends).
"""
import json
import select
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
SEEN = {}  # task id -> requests seen
CALLBACKS = {}  # task id -> the callback URL of its first attempt
HOLDING = [0]  # requests of mode "hold" in flight now


def event(**fields):
    fields["t"] = time.time()
    with LOCK:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


def post(url, body):
    """POSTs JSON to the worker's callback; (status, body text)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the worker reuses connections

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def closed_by_peer(self, seconds):
        """Waits up to `seconds`; True as soon as the worker closes the connection."""
        until = time.time() + seconds
        while time.time() < until:
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except OSError:
                    return True
        return False

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        task = json.loads(self.rfile.read(length))
        payload = task.get("payload") or {}
        mode = payload.get("mode", "ok")
        task_id = task["id"]
        with LOCK:
            SEEN[task_id] = SEEN.get(task_id, 0) + 1
            seen = SEEN[task_id]
        event(event="request", id=task_id, attempt=task["attempt"], mode=mode, seen=seen,
              header_id=self.headers.get("Fila-Task-Id"), header_attempt=self.headers.get("Fila-Attempt"),
              header_type=self.headers.get("Fila-Type"), deadline=task.get("deadline"),
              header_deadline=self.headers.get("Fila-Deadline"), type=task.get("type"),
              type_version=task.get("type_version"), tenant=task.get("tenant"),
              has_callback=bool(task.get("callback")), callback=task.get("callback"))
        if mode == "ok":
            self.answer(200, {"echo": payload.get("n", 0), "attempt": task["attempt"]})
        elif mode == "retry_once":
            if task["attempt"] == 1:
                CALLBACKS[task_id] = task["callback"]
                self.answer(503, {"error": "warming up"}, [("Retry-After", "2")])
            else:
                # The first attempt has ended: its callback URL is dead.
                status, _ = post(CALLBACKS.get(task_id, task["callback"]) + "/progress", {"percent": 1})
                event(event="stale_progress", id=task_id, status=status)
                self.answer(200, {"attempt": task["attempt"]})
        elif mode == "fail":
            self.answer(422, {"error": "invoice number missing"})
        elif mode == "sleep":
            closed = self.closed_by_peer(60)
            event(event="closed" if closed else "slept", id=task_id, attempt=task["attempt"])
            if not closed:
                self.answer(200, {})
            self.close_connection = True
        elif mode == "progress":
            status, _ = post(task["callback"] + "/progress", {"percent": 40, "message": "resizing"})
            event(event="progress", id=task_id, status=status)
            time.sleep(payload.get("hold_s", 1.5))
            self.answer(200, {"done": True})
        elif mode == "children":
            n = payload.get("children", 2)
            kids = [{"type": task["type"], "queue": payload.get("queue", ""),
                     "args": {"mode": "ok", "n": i}} for i in range(n)]
            status, text = post(task["callback"] + "/children", {"tasks": kids})
            event(event="children", id=task_id, status=status, body=text)
            if status != 200:
                self.answer(500, {"error": "children refused: " + text})
            else:
                self.answer(200, {"children": json.loads(text)["ids"]})
        elif mode == "late":
            if task["attempt"] == 1:
                time.sleep(payload.get("wait_s", 4))
                status, text = post(task["callback"] + "/progress", {"percent": 99, "message": "late"})
                event(event="late_progress", id=task_id, status=status, body=text)
                try:
                    self.answer(200, {"attempt": 1})
                except OSError:
                    pass
            else:
                self.answer(200, {"attempt": task["attempt"]})
        elif mode == "hold":
            with LOCK:
                HOLDING[0] += 1
                now = HOLDING[0]
            event(event="holding", id=task_id, at_once=now)
            time.sleep(payload.get("hold_s", 0.3))
            with LOCK:
                HOLDING[0] -= 1
            self.answer(200, {})
        elif mode == "garbage":
            self.answer(200, b"<html>this is not json")
        elif mode == "huge":
            size = 100 << 20
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"[" * 65536
            try:
                for _ in range(size // len(chunk)):
                    self.wfile.write(chunk)
                event(event="huge_sent", id=task_id)
            except OSError:
                event(event="closed", id=task_id, attempt=task["attempt"])
            self.close_connection = True
        elif mode == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"a": ')
            self.wfile.flush()
            closed = self.closed_by_peer(60)
            event(event="closed" if closed else "slept", id=task_id, attempt=task["attempt"])
            self.close_connection = True
        else:
            self.answer(400, {"error": "unknown mode " + mode})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    server.daemon_threads = True
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
