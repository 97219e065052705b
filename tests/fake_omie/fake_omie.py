#!/usr/bin/env python3
"""A fake Omie API for nfe.download's tests and demo (Python 3 standard library only).

Serves one period of invoices built from the real sample XMLs in
tests/fixtures/nfe (the production sample with a fresh access key, nNF and
cNF per invoice, check digit recomputed, signed again with the TEST key of
tests/fixtures/nfe/synthetic by test_signer.py), through ListarNF (snake_case
pages), ListarDocumentos (Hungarian pages, XML inline) and ObterNfe, with:

- end of data as the real fault Client-5113 (page past the last, or a
  period with nothing), a page size capped below what is asked (--page-cap);
- the fault bodies of omie_fault_bodies_observed.json injected on a fixed
  schedule (redundant request with its wait, in-flight duplicate with a
  Brasilia clock time, 429, proxy HTML 502, a stall past the client's
  timeout), a latency per call, and a mid-run outage (HTML 503 for a while);
- credentials checked (403 with the real body for a bad key);
- concurrent requests counted per app key: GET /_stats returns the
  highest count seen and how many requests went over --max-concurrent;
- an upload endpoint (PUT /dav/<name>, WebDAV-like: the first PUT of each
  name answers 503, the next ones 201), listed by GET /_uploads.

Prints "fake-omie listening on http://127.0.0.1:PORT" once ready.
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from test_signer import sign_invoices

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "nfe")
TEMPLATE = "03_procNFe_prod_signed_35180834128745000152550010000476051695511860.xml"
TEMPLATE_KEY = "35180834128745000152550010000476051695511860"


def mod11(digits):
    total, weight = 0, 2
    for d in reversed(digits):
        total += int(d) * weight
        weight = 2 if weight == 9 else weight + 1
    r = total % 11
    return 0 if r < 2 else 11 - r


def read_fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read().decode("utf-8")


def observed_bodies():
    with open(os.path.join(FIXTURES, "omie_fault_bodies_observed.json"), encoding="utf-8") as f:
        return {b["kind"]: b for b in json.load(f)["bodies"]}


class Catalogue:
    """The invoices of one period: (omie id, access key, xml text, status)."""

    def __init__(self, period, count, extras, id_base=5000000):
        self.period = period
        year, month = int(period[:4]), int(period[5:7])
        self.first_day = "01/%02d/%04d" % (month, year)
        template = read_fixture(TEMPLATE)
        self.docs = []
        aamm = "%02d%02d" % (year % 100, month)
        for i in range(1, count + 1):
            nnf = 100000 + i
            cnf = "%08d" % ((i * 7919 + 13) % 100000000)
            body = TEMPLATE_KEY[:2] + aamm + TEMPLATE_KEY[6:25] + "%09d" % nnf + "1" + cnf
            key = body + str(mod11(body))
            xml = (template.replace(TEMPLATE_KEY, key)
                   .replace("<nNF>47605</nNF>", "<nNF>%d</nNF>" % nnf)
                   .replace("<cNF>69551186</cNF>", "<cNF>%s</cNF>" % cnf)
                   .replace("<cDV>0</cDV>", "<cDV>%s</cDV>" % key[-1])
                   .replace("<dhEmi>2018-08-15T", "<dhEmi>%04d-%02d-15T" % (year, month)))
            self.docs.append({"id": id_base + i, "key": key, "xml": xml, "status": "00"})
        # Signed again with the TEST key: the edits above broke the sample's signature.
        for doc, signed in zip(self.docs, sign_invoices([d["xml"] for d in self.docs])):
            doc["xml"] = signed
        if extras:
            # Real samples as received, an empty body and a record whose XML
            # the API cannot find: each must show in the report.
            for n, name in enumerate(["04_procNFe_prod_NO_SIGNATURE_42210775277525000178550030000266631762885493.xml",
                                      "08_EDGE_NFCe_mod65_signed_BAD_check_digit.xml",
                                      "10_event_cancel_110111_signed_envEvento.xml"]):
                key = re.search(r"[0-9]{44}", read_fixture(name)).group(0)
                self.docs.append({"id": id_base + 900000 + n, "key": key, "xml": read_fixture(name), "status": "00"})
            self.docs.append({"id": id_base + 900010, "key": "", "xml": "", "status": "00"})
            self.docs.append({"id": id_base + 900011, "key": "", "xml": None, "status": "00"})
        self.by_id = {d["id"]: d for d in self.docs}


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = 0
        self.active = {}
        self.max_seen = {}
        self.violations = 0
        self.by_method = {}
        self.faults = {}
        self.outage_until = 0.0
        self.outage_done = False
        self.uploads = {}
        self.put_attempts = {}
        self.bodies = observed_bodies()
        # One catalogue per period (ids apart, keys apart by their month).
        self.catalogues = [Catalogue(period, args.invoices, args.extras and n == 0, 5000000 + n * 1000000)
                           for n, period in enumerate(args.period or ["2026-10"])]
        self.by_id = {}
        for c in self.catalogues:
            self.by_id.update(c.by_id)
        self.accounts = {}
        for spec in args.account:
            name, key, secret = spec.split(":", 2)
            self.accounts[key] = (name, secret)


def fault_body(state, kind, **subst):
    body = state.bodies[kind]["body"]
    for old, new in subst.items():
        body = body.replace(old, new)
    return body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-omie"

    def log_message(self, fmt, *a):  # quiet: the tests read /_stats
        if self.server.state.args.verbose:
            sys.stderr.write("fake-omie: " + fmt % a + "\n")

    def send(self, status, body, content_type="application/json", headers=None):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # --- test endpoints -------------------------------------------------
    def do_GET(self):
        st = self.server.state
        if self.path == "/_stats":
            with st.lock:
                out = {"requests": st.requests, "max_concurrent": st.max_seen, "violations": st.violations,
                       "limit": st.args.max_concurrent, "by_method": st.by_method, "faults": st.faults,
                       "invoices": sum(len(c.docs) for c in st.catalogues)}
            return self.send(200, json.dumps(out))
        if self.path == "/_uploads":
            with st.lock:
                out = [{"name": k, "size": len(v), "sha256": hashlib.sha256(v).hexdigest(),
                        "attempts": st.put_attempts.get(k, 0)} for k, v in st.uploads.items()]
            return self.send(200, json.dumps(out))
        if self.path.startswith("/dav/"):
            with st.lock:
                data = st.uploads.get(self.path[5:])
            return self.send(200, data, "application/zip") if data is not None else self.send(404, "no such file", "text/plain")
        self.send(404, "not found", "text/plain")

    def do_PUT(self):
        st = self.server.state
        data = self.read_body()
        if not self.path.startswith("/dav/"):
            return self.send(404, "not found", "text/plain")
        name = self.path[5:]
        with st.lock:
            st.put_attempts[name] = st.put_attempts.get(name, 0) + 1
            first = st.put_attempts[name] == 1
            if not first:
                st.uploads[name] = data
        if first:
            return self.send(503, "<html><body>Service Unavailable</body></html>", "text/html")
        self.send(201, "", "text/plain")

    # --- the API --------------------------------------------------------
    def do_POST(self):
        st = self.server.state
        raw = self.read_body()
        try:
            req = json.loads(raw.decode("utf-8"))
            method = req["call"]
            key = req["app_key"]
            param = req["param"][0]
        except Exception:
            return self.send(500, json.dumps({"faultstring": "ERROR: JSON inválido", "faultcode": "SOAP-ENV:Client-1"}))
        account = st.accounts.get(key)
        if account is None or account[1] != req.get("app_secret"):
            return self.send(403, fault_body(st, "invalid credentials"))
        with st.lock:
            st.requests += 1
            n = st.requests
            st.by_method[method] = st.by_method.get(method, 0) + 1
            st.active[key] = st.active.get(key, 0) + 1
            st.max_seen[account[0]] = max(st.max_seen.get(account[0], 0), st.active[key])
            if st.active[key] > st.args.max_concurrent:
                st.violations += 1
            now = time.time()
            outage = False
            if st.args.outage_after and n > st.args.outage_after and not st.outage_done:
                if st.outage_until == 0.0:
                    st.outage_until = now + st.args.outage_seconds
                if now < st.outage_until:
                    outage = True
                else:
                    st.outage_done = True
        counted = True
        try:
            if st.args.latency_ms:
                time.sleep(st.args.latency_ms / 1000.0)
            if outage:
                self.count_fault("outage")
                status, body, ctype, hdrs = 503, "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", "text/html", {}
            else:
                fault = self.scheduled_fault(n, method)
                if fault == "stall":
                    # Past the client's timeout: not counted as in flight
                    # any more, the client has given up on it.
                    with st.lock:
                        st.active[key] -= 1
                    counted = False
                    time.sleep(st.args.stall_ms / 1000.0)
                status, body, ctype, hdrs = self.answer(method, param, fault)
            with st.lock:
                if counted:
                    st.active[key] -= 1
                counted = False
            self.send(status, body, ctype, hdrs)
        finally:
            if counted:
                with st.lock:
                    st.active[key] -= 1

    def count_fault(self, name):
        st = self.server.state
        with st.lock:
            st.faults[name] = st.faults.get(name, 0) + 1

    def scheduled_fault(self, n, method):
        if not self.server.state.args.faults:
            return None
        for every, offset, name in ((17, 5, "redundant"), (23, 7, "rate"), (29, 11, "html502"),
                                    (31, 3, "inflight"), (43, 13, "stall")):
            if n % every == offset:
                return name
        return None

    def answer(self, method, param, fault):
        st = self.server.state
        if fault == "redundant":
            self.count_fault(fault)
            body = fault_body(st, "redundant consumption (same call repeated too soon)",
                              **{"Aguarde 60 segundos": "Aguarde %d segundos" % st.args.redundant_wait_s})
            return 500, body, "application/json", {}
        if fault == "inflight":
            self.count_fault(fault)
            brt = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=3) + datetime.timedelta(seconds=1)
            body = fault_body(st, "request already being processed (duplicate/in-flight)",
                              **{"19:04:08": brt.strftime("%H:%M:%S")})
            return 500, body, "application/json", {}
        if fault == "rate":
            self.count_fault(fault)
            return 429, "Too many requests", "text/plain", {"Retry-After": "1"}
        if fault == "html502":
            self.count_fault(fault)
            return 502, "<html><body>502 Bad Gateway</body></html>", "text/html", {}
        if fault == "stall":
            self.count_fault(fault)
        since = param.get("dEmiInicial", "")
        cat = next((c for c in st.catalogues if c.first_day == since), st.catalogues[0])
        docs = cat.docs
        if method in ("ListarNF", "ListarDocumentos"):
            hungarian = method == "ListarDocumentos"
            page = int(param.get("nPagina" if hungarian else "pagina", 1))
            asked = int(param.get("nRegPorPagina" if hungarian else "registros_por_pagina", 50))
            size = max(1, min(asked, st.args.page_cap))
            if since != cat.first_day or page < 1:
                docs = []
            total_pages = (len(docs) + size - 1) // size
            chunk = docs[(page - 1) * size: page * size]
            if not chunk:
                return 500, fault_body(st, "end_of_pagination / empty result", **{"[1]": "[%d]" % page}), "application/json", {}
            if hungarian:
                items = [{"nIdNF": d["id"], "nChave": d["key"], "nNumero": d["id"] % 1000000, "cSerie": "1",
                          "dEmissao": "15/" + cat.period[5:7] + "/" + cat.period[:4], "nValor": 100.0,
                          "cStatus": d["status"], "cXml": d["xml"] or ""} for d in chunk]
                out = {"nPagina": page, "nRegistros": len(chunk), "nTotRegistros": len(docs),
                       "documentosEncontrados": items}
                if not st.args.omit_total_pages:
                    out["nTotPaginas"] = total_pages
            else:
                items = [{"ide": {"mod": "55", "serie": "1", "nNF": str(d["id"] % 1000000),
                                  "dEmi": "15/" + cat.period[5:7] + "/" + cat.period[:4], "tpNF": "1", "dCan": ""},
                          "compl": {"nIdNF": d["id"], "cChaveNFe": d["key"]},
                          "nfEmitInt": {"nCodEmp": 1}, "info": {"dInc": "15/" + cat.period[5:7] + "/" + cat.period[:4]}}
                         for d in chunk]
                out = {"pagina": page, "total_de_paginas": total_pages, "registros": len(chunk),
                       "total_de_registros": len(docs), "nfCadastro": items}
            return 200, json.dumps(out, ensure_ascii=False), "application/json", {}
        if method == "ObterNfe":
            doc = st.by_id.get(int(param.get("nIdNfe", 0)))
            if doc is None:
                return 500, fault_body(st, "record not found", **{"999999999": str(param.get("nIdNfe"))}), "application/json", {}
            if doc["xml"] is None:
                return 200, json.dumps({"cCodStatus": "1", "cDesStatus": "XML da NF-e não encontrado"}, ensure_ascii=False), "application/json", {}
            out = {"cNumNfe": str(doc["id"] % 1000000), "nChaveNfe": doc["key"], "dDataEmisNfe": "15/" + cat.period[5:7] + "/" + cat.period[:4],
                   "cXmlNfe": doc["xml"], "cPdf": "", "cLinkPortal": "", "cCodStatus": "0", "cDesStatus": ""}
            return 200, json.dumps(out, ensure_ascii=False), "application/json", {}
        return 500, json.dumps({"faultstring": "ERROR: Método [%s] não existe" % method, "faultcode": "SOAP-ENV:Client-2"}), "application/json", {}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--account", action="append", default=[], help="NAME:APP_KEY:APP_SECRET (repeatable)")
    p.add_argument("--period", action="append", default=[], help="YYYY-MM (repeatable; default 2026-10)")
    p.add_argument("--invoices", type=int, default=200)
    p.add_argument("--extras", action="store_true", help="add the invalid samples, an empty and a missing XML")
    p.add_argument("--page-cap", type=int, default=50, help="largest page served, whatever is asked")
    p.add_argument("--omit-total-pages", action="store_true", help="ListarDocumentos without nTotPaginas")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--faults", action="store_true", help="inject the scheduled faults")
    p.add_argument("--redundant-wait-s", type=int, default=1)
    p.add_argument("--stall-ms", type=int, default=3000)
    p.add_argument("--outage-after", type=int, default=0, help="after this many requests, 503 for a while")
    p.add_argument("--outage-seconds", type=float, default=2.0)
    p.add_argument("--max-concurrent", type=int, default=4, help="per app key; more counts as a violation")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    if not args.account:
        args.account = ["demo:demo-key:demo-secret"]
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    print("fake-omie listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
