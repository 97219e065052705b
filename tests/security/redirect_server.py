#!/usr/bin/env python3
"""A loopback HTTP server that answers every request with a redirect.

Stands in for an external host that bounces a worker's fetch to an internal
address (egress_test.cpp). Standard library only. Usage:

  redirect_server.py TARGET_URL [STATUS]

Prints "listening on <port>" once it listens, then answers every GET, POST
and PUT with STATUS (default 302) and "Location: TARGET_URL" until killed,
printing "request <method> <length of the request target>" for each.
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET = sys.argv[1]
STATUS = int(sys.argv[2]) if len(sys.argv) > 2 else 302


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def redirect(self):
        print("request", self.command, len(self.path), flush=True)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(STATUS)
        self.send_header("Location", TARGET)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = redirect


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening on", server.server_address[1], flush=True)
server.serve_forever()
