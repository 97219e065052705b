#!/usr/bin/python3
"""A fake tribunal for diario.process tests and the demo (standard library only).

Paths:
  GET /diario/<yyyymmdd>.pdf   the file given with --date YYYY-MM-DD=FILE, else 404
  GET /pdf/<file>              a file of --root
  GET /blocked/<anything>      200 text/html: the tribunal's anti-bot page (--blocked-page)
  GET /blocked-then-pdf/<n>/<file>  the block page for the first n requests of that path, then the file
  GET /slow/<seconds>/<file>   the file after a delay
  GET /slow-once/<seconds>/<file>  the delay only on the first request of that path
  GET /djen/<mode>/api/v1/comunicacao?siglaTribunal=T&dataDisponibilizacaoInicio=D&pagina=N&itensPorPagina=M
                               the DJEN API (comunicaapi.pje.jus.br): the publications given with
                               --djen T=D=FILE (a text, publications separated by form feeds), a page
                               at a time, as {"status","count","items":[{"id","texto",...}]}. <mode>:
                               ok; html (200 text/html, a block page); malformed (200 JSON cut off);
                               busy-once (429 Retry-After 1 on the first request of each path+query,
                               then ok); busy (always 429)
  PUT /archive/<path>          stores the body (archive target); 201
  POST /v1/chat/completions    an OpenAI-style answer: fenced, truncated JSON (LLM step)
  GET /diario_oficial/list.php?ano=YYYY
                               TJRO's yearly index: --index-dir's list-YYYY.json as it is ("[]" for a
                               year without one); --index-mode YYYY=html answers the block page instead,
                               YYYY=malformed a cut-off array; --index-delay S: every answer is S late
  GET /diario_oficial/ultimo-diario.php
                               302 to the newest edition of the newest index
  GET /novodiario/YYYY/<file>.pdf
                               an edition the index lists: a small valid PDF made on the fly (its file
                               name and a CNJ number in the text); --missing FILE: 404;
                               --blocked-first N: the first N edition downloads get the block page;
                               --slow-every N: every Nth edition download waits --slow-seconds
  GET /stats                   JSON: requests per path, most downloads in flight at once,
                               smallest gap between two download starts (kernel receive times), archived paths; "hosts":
                               the same per Host header (the tribunal host as the clients named it)

Prints "listening on <port>" on stdout once ready (--port 0: the OS picks).
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"requests": {}, "in_flight": 0, "max_in_flight": 0, "starts": [], "archived": {}, "hosts": {},
         "editions": 0}


def host_state(host):
    return STATE["hosts"].setdefault(host, {"in_flight": 0, "max_in_flight": 0, "starts": []})


def most_in_a_second(starts):
    """The most starts in any window of one second: a rate limit holds it
    even when this server's own scheduling delays a request or two, which
    can bring two arrivals closer than the client's gap."""
    starts = sorted(starts)
    most, first = 0, 0
    for last in range(len(starts)):
        while starts[last] - starts[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def gap_ms(starts):
    starts = sorted(starts)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    return round(min(gaps) * 1000, 1) if gaps else None


def stats():
    with LOCK:
        starts = sorted(STATE["starts"])
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        return {
            "requests": dict(STATE["requests"]),
            "max_in_flight": STATE["max_in_flight"],
            "downloads": len(starts),
            "min_gap_ms": round(min(gaps) * 1000, 1) if gaps else None,
            "archived": dict(STATE["archived"]),
            "hosts": {h: {"max_in_flight": v["max_in_flight"], "requests": len(v["starts"]),
                          "min_gap_ms": gap_ms(v["starts"]), "most_in_a_second": most_in_a_second(v["starts"]),
                          "gaps_under_ms": {str(t): sum(1 for a, b in zip(sorted(v["starts"]), sorted(v["starts"])[1:])
                                                        if (b - a) * 1000 < t) for t in (5, 25, 40)}}
                      for h, v in STATE["hosts"].items()},
        }


# The kernel's receive time of a request's first bytes (SO_TIMESTAMPNS):
# gaps between arrivals are measured as the network delivered them, not
# when one of this server's Python threads got the GIL to read them.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTribunal/1"

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            pass

    def handle_one_request(self):
        self.arrived = self.kernel_arrival()
        super().handle_one_request()

    def kernel_arrival(self):
        """Waits for the next request's first byte (without reading it) and
        returns when the kernel received it; time.time() if it cannot say."""
        try:
            _, ancillary, _, _ = self.connection.recvmsg(1, socket.CMSG_SPACE(16), socket.MSG_PEEK)
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                    sec, nsec = struct.unpack("qq", data[:16])
                    return sec + nsec / 1e9
        except (OSError, ValueError):
            pass
        return time.time()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_tribunal: " + fmt % args + "\n")

    def leave(self):
        # A download counts as in flight until its answer starts: the client
        # may start the next one as soon as it has read this one, before this
        # thread runs again.
        if getattr(self, "in_flight", False):
            self.in_flight = False
            with LOCK:
                STATE["in_flight"] -= 1
                host_state(self.host_seen)["in_flight"] -= 1

    def send(self, status, body, content_type="application/octet-stream"):
        self.leave()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def file(self, name):
        path = os.path.realpath(os.path.join(self.server.root, name))
        if not path.startswith(os.path.realpath(self.server.root) + os.sep) or not os.path.isfile(path):
            return self.send(404, b"not found\n", "text/plain")
        with open(path, "rb") as f:
            self.send(200, f.read(), "application/pdf")

    def blocked(self):
        self.send(200, self.server.blocked_page, "text/html; charset=utf-8")

    def count(self):
        with LOCK:
            n = STATE["requests"].get(self.path, 0) + 1
            STATE["requests"][self.path] = n
            return n

    def do_GET(self):
        if self.path == "/stats":
            return self.send(200, json.dumps(stats()).encode(), "application/json")
        n = self.count()
        self.host_seen = self.headers.get("Host", "")
        with LOCK:
            STATE["in_flight"] += 1
            STATE["max_in_flight"] = max(STATE["max_in_flight"], STATE["in_flight"])
            STATE["starts"].append(self.arrived)
            h = host_state(self.host_seen)
            h["in_flight"] += 1
            h["max_in_flight"] = max(h["max_in_flight"], h["in_flight"])
            h["starts"].append(self.arrived)
        self.in_flight = True
        try:
            self.route(n)
        finally:
            self.leave()

    def djen(self, mode, n):
        if mode == "html":
            return self.send(200, b"<html><head><title>Manutencao</title></head><body>em manutencao</body></html>",
                             "text/html; charset=utf-8")
        if mode == "malformed":
            return self.send(200, b'{"status":"success","count":3,"items":[{"id":1,"texto":"Processo 09',
                             "application/json")
        if mode == "busy" or (mode == "busy-once" and n == 1):
            self.leave()
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return None
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        one = lambda k, d="": q.get(k, [d])[0]
        day = one("dataDisponibilizacaoInicio")
        if day != one("dataDisponibilizacaoFim"):
            return self.send(400, b'{"message":"one day at a time"}', "application/json")
        pubs = self.server.djen.get((one("siglaTribunal"), day), [])
        page, size = int(one("pagina", "1")), int(one("itensPorPagina", "100"))
        items = []
        for i, text in enumerate(pubs[(page - 1) * size:page * size], start=(page - 1) * size):
            # As the real API: "\n\r" line ends, or HTML breaks.
            texto = text.replace("\n", "<br>" if i % 2 else "\n\r")
            items.append({"id": 1000 + i, "data_disponibilizacao": day, "siglaTribunal": one("siglaTribunal"),
                          "tipoComunicacao": "Intimação", "texto": texto, "numero_processo": ""})
        body = {"status": "success", "message": "Sucesso", "count": len(pubs), "items": items}
        return self.send(200, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    def index(self):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        year = q.get("ano", [""])[0]
        mode = self.server.index_mode.get(year, "ok")
        time.sleep(self.server.index_delay)
        if mode == "html":
            return self.blocked()
        body = self.server.index.get(year, b"[]\n")
        if mode == "malformed":
            body = body[:len(body) // 2]
        return self.send(200, body, "application/json; charset=utf-8")

    def latest(self):
        if not self.server.newest:
            return self.send(404, b"no gazette\n", "text/plain")
        self.leave()
        self.send_response(302)
        self.send_header("Location", self.server.newest)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def edition(self, path):
        name = path.rsplit("/", 1)[-1]
        if path not in self.server.edition_paths or name in self.server.missing:
            return self.send(404, b"not found\n", "text/plain")
        with LOCK:
            STATE["editions"] += 1
            k = STATE["editions"]
        if k <= self.server.blocked_first:
            return self.blocked()
        if self.server.slow_every and k % self.server.slow_every == 0:
            time.sleep(self.server.slow_seconds)
        return self.send(200, tiny_pdf(name), "application/pdf")

    def route(self, n):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/diario_oficial/list.php":
            return self.index()
        if path == "/diario_oficial/ultimo-diario.php":
            return self.latest()
        if path.startswith("/novodiario/"):
            return self.edition(path)
        parts = path.lstrip("/").split("/")
        head = parts[0]
        if head == "djen" and len(parts) >= 2:
            return self.djen(parts[1], n)
        if head == "diario" and len(parts) == 2:
            name = self.server.dates.get(parts[1].replace(".pdf", ""))
            if name is None:
                return self.send(404, b"no gazette on that date\n", "text/plain")
            time.sleep(self.server.delay)
            return self.file(name)
        if head == "pdf" and len(parts) == 2:
            time.sleep(self.server.delay)
            return self.file(parts[1])
        if head == "blocked":
            return self.blocked()
        if head == "blocked-then-pdf" and len(parts) == 3:
            return self.blocked() if n <= int(parts[1]) else self.file(parts[2])
        if head in ("slow", "slow-once") and len(parts) == 3:
            if head == "slow" or n == 1:
                time.sleep(float(parts[1]))
            return self.file(parts[2])
        return self.send(404, b"not found\n", "text/plain")

    def body(self):
        length = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(length) if length > 0 else b""

    def do_PUT(self):
        data = self.body()
        if not self.path.startswith("/archive/"):
            return self.send(404, b"not found\n", "text/plain")
        with LOCK:
            STATE["archived"][self.path[len("/archive/"):]] = len(data)
        self.send(201, b"", "text/plain")

    def do_POST(self):
        self.body()
        if self.path != "/v1/chat/completions":
            return self.send(404, b"not found\n", "text/plain")
        # What models do: a fence around the JSON, and a cut at the token limit.
        content = ("```json\n{\"decisions\": [{\"process_number\": \"" + self.server.llm_number +
                   "\", \"class\": \"Apelação\", \"outcome\": \"provido\"}, {\"process_number\": \"70")
        answer = {"choices": [{"message": {"role": "assistant", "content": content}}]}
        self.send(200, json.dumps(answer).encode(), "application/json")


def tiny_pdf(name):
    """A one-page PDF whose text names the edition and one valid CNJ number."""
    text = "DIARIO DA JUSTICA %s Processo 7030339-25.2023.8.22.0001" % name
    stream = ("BT /F1 10 Tf 40 780 Td (%s) Tj ET" % text).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def load_index(server, folder):
    server.index, server.edition_paths, server.newest = {}, set(), ""
    if not folder:
        return
    for name in sorted(os.listdir(folder)):
        if not (name.startswith("list-") and name.endswith(".json")):
            continue
        year = name[len("list-"):-len(".json")]
        with open(os.path.join(folder, name), "rb") as f:
            server.index[year] = f.read()
        entries = json.loads(server.index[year])
        for e in entries:
            server.edition_paths.add(e["url"])
        if entries:
            server.newest = entries[0]["url"]  # newest first, as the site lists them


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--root", required=True, help="folder of the PDFs served")
    p.add_argument("--date", action="append", default=[], help="YYYY-MM-DD=FILE (relative to --root)")
    p.add_argument("--blocked-page", help="HTML served as the block page")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before every /diario and /pdf answer")
    p.add_argument("--llm-number", default="", help="process number the fake LLM answers about")
    p.add_argument("--djen", action="append", default=[],
                   help="TRIBUNAL=YYYY-MM-DD=FILE (relative to --root): DJEN publications, form-feed separated")
    p.add_argument("--index-dir", help="folder of list-YYYY.json (TJRO's yearly index)")
    p.add_argument("--index-mode", action="append", default=[], help="YYYY=html|malformed")
    p.add_argument("--index-delay", type=float, default=0.0, help="seconds before every list.php answer")
    p.add_argument("--missing", action="append", default=[], help="an edition file answered 404")
    p.add_argument("--blocked-first", type=int, default=0, help="edition downloads answered with the block page")
    p.add_argument("--slow-every", type=int, default=0, help="every Nth edition download is slow")
    p.add_argument("--slow-seconds", type=float, default=0.5)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    server.root = a.root
    server.dates = {}
    for d in a.date:
        day, _, name = d.partition("=")
        server.dates[day.replace("-", "")] = name
    server.djen = {}
    for d in a.djen:
        tribunal, day, name = d.split("=", 2)
        with open(os.path.join(a.root, name), encoding="utf-8") as f:
            server.djen[(tribunal, day)] = [t.strip("\n") for t in f.read().split("\f") if t.strip()]
    server.blocked_page = b"<html><head><title>Blocked</title></head><body>blocked</body></html>"
    if a.blocked_page:
        with open(a.blocked_page, "rb") as f:
            server.blocked_page = f.read()
    server.delay = a.delay
    load_index(server, a.index_dir)
    server.index_mode = dict(m.split("=", 1) for m in a.index_mode)
    server.missing = set(a.missing)
    server.index_delay = a.index_delay
    server.blocked_first = a.blocked_first
    server.slow_every = a.slow_every
    server.slow_seconds = a.slow_seconds
    server.llm_number = a.llm_number
    server.verbose = a.verbose
    print("listening on %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
