#!/usr/bin/env python3
"""A fila HTTP handler in Python, standard library only (docs/handlers.md).

fila's worker POSTs each task of the type `example.thumbnail` here:

    {"id", "type", "type_version", "attempt", "tenant",
     "payload": {"image": "cat.png", "width": 640},
     "deadline": "2026-12-04T16:00:00.000Z", "callback": "http://127.0.0.1:PORT/v1/attempts/..."}

and the answer's status says what happened: 2xx done (the JSON body is the
task's result), 4xx failed for good, 408/409/429/5xx try again (no sooner
than Retry-After). Progress goes to the attempt's callback URL.

    PORT=8081 python3 handler.py
"""
import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Images we are "too busy" for the first time we see them (to show a retry).
BUSY_ONCE = set()
LOCK = threading.Lock()


def log(message):
    print(message, flush=True)


def report_progress(callback, percent, message):
    """POST <callback>/progress; a failure here must not fail the task."""
    if not callback:
        return
    body = json.dumps({"percent": percent, "message": message}).encode()
    request = urllib.request.Request(callback + "/progress", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            log("progress %d%%: %d" % (percent, response.status))
    except OSError as e:  # 410: this attempt has ended
        log("progress %d%% refused: %s" % (percent, e))


class Thumbnails(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the worker reuses connections

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        task = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        payload = task.get("payload") or {}
        image, width = payload.get("image", ""), payload.get("width")
        log("task %s attempt %s: %s" % (task["id"], task["attempt"], json.dumps(payload)))
        if not image or not isinstance(width, int) or width <= 0:
            # 4xx: the task is wrong; retrying will not help.
            return self.reply(422, {"error": "width must be a positive integer and image non-empty"})
        with LOCK:
            busy = image.startswith("busy") and image not in BUSY_ONCE
            BUSY_ONCE.add(image)
        if busy:
            # 503 + Retry-After: fila tries again, not sooner than 1 s.
            return self.reply(503, {"error": "too busy, come back later"}, [("Retry-After", "1")])
        report_progress(task.get("callback"), 50, "resizing " + image)
        time.sleep(0.2)  # the work
        name, _, ext = image.rpartition(".")
        self.reply(200, {"thumbnail": "%s-%d.%s" % (name or ext, width, ext if name else "png")})


def main():
    port = int(os.environ.get("PORT", "8081"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Thumbnails)
    server.daemon_threads = True
    log("listening on http://127.0.0.1:%d" % server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
