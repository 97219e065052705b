#!/usr/bin/env python3
"""A fake OpenAI-compatible /v1/embeddings server for fila's embedder tests.

Standard library only. Prints its port on the first line of stdout, then
serves until killed. The request's "model" picks the behaviour:

  ok            200, one 4-dimensional vector per input
  429-once      the first request 429 with Retry-After: 1, then like ok
  500-once      the first request 500, then like ok
  slow-once     the first request answers after 3 s, then like ok
  slow          every request answers after 0.7 s (to watch progress)
  always-500    500 every time
  always-429    429 with Retry-After: 120 every time
  bad-request   400 whose error message echoes the bearer token

Every model answers 401 unless the Authorization header is
"Bearer sk-test". GET /stats?model=M returns {"requests": n, "times": [...],
"batches": [...]} for that model.

It also serves documents for URL sources: GET /status/N answers status N
with a short text body, GET /text/N answers 200 with N bytes of text.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
STATS = {}


def vector(text):
    # Deterministic and distinct per text, not normalised (the client does that).
    return [float(len(text)), 1.0, float(sum(map(ord, text)) % 97), 0.5]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        url = urlparse(self.path)
        if url.path.startswith("/status/"):
            return self.reply(int(url.path.split("/")[2]), {"status": url.path})
        if url.path.startswith("/text/"):
            data = ("word " * (int(url.path.split("/")[2]) // 5 + 1)).encode()[: int(url.path.split("/")[2])]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if url.path != "/stats":
            return self.reply(404, {"error": {"message": "not found"}})
        model = parse_qs(url.query).get("model", [""])[0]
        with LOCK:
            s = STATS.get(model, {"requests": 0, "times": [], "batches": []})
        self.reply(200, s)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if urlparse(self.path).path != "/v1/embeddings":
            return self.reply(404, {"error": {"message": "no such endpoint"}})
        model = body.get("model", "")
        inputs = body.get("input", [])
        with LOCK:
            s = STATS.setdefault(model, {"requests": 0, "times": [], "batches": []})
            s["requests"] += 1
            s["times"].append(time.time())
            s["batches"].append(len(inputs))
            n = s["requests"]
        auth = self.headers.get("Authorization", "")
        if auth != "Bearer sk-test":
            return self.reply(401, {"error": {"message": "Incorrect API key provided: " + auth[7:]}})
        if model == "429-once" and n == 1:
            return self.reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
        if model == "always-429":
            return self.reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "120"})
        if model == "500-once" and n == 1:
            return self.reply(500, {"error": {"message": "upstream broke"}})
        if model == "always-500":
            return self.reply(500, {"error": {"message": "upstream broke"}})
        if model == "slow-once" and n == 1:
            time.sleep(3)
        if model == "slow":
            time.sleep(0.7)
        if model == "bad-request":
            return self.reply(400, {"error": {"message": "bad input for key " + auth[7:]}})
        data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(inputs)]
        data.reverse()  # the index field, not the order, says which input
        self.reply(200, {"object": "list", "data": data, "model": model})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
