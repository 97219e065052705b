"""Signs the fake server's invoices with the TEST key of
tests/fixtures/nfe/synthetic (xmlsec1 command), as an ERP would sign what
it serves: an invoice edited from a sample (new key, nNF, cNF) no longer
matches its original signature, and the verifier checks signatures.

Nothing signed here is a real fiscal document.
"""

import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "..", "fixtures", "nfe", "synthetic")
sys.path.insert(0, KEYS)
import make_signed  # noqa: E402  (the fixtures' signer: its Signature template)


def _prepare(xml):
    xml = re.sub(r"<Signature xmlns=\"%s\">.*?</Signature>" % re.escape(make_signed.DSIG), "", xml, count=1,
                 flags=re.S)
    ref_id = re.search(r'<infNFe [^>]*Id="([^"]+)"', xml).group(1)
    return re.sub(r"(</infNFe>\s*)", lambda m: m.group(1) + make_signed.template(ref_id, "sha1"), xml, count=1)


def sign_invoices(xmls):
    """`xmls`: nfeProc documents; returns them with each NFe signed again
    and its protocol's digVal set to the new digest. One xmlsec1 process
    signs a hundred files (it prints each result after the other)."""
    key = os.path.join(KEYS, "test_signer_key.pem") + "," + os.path.join(KEYS, "test_signer_cert.pem")
    signed = []
    with tempfile.TemporaryDirectory() as tmp:
        for first in range(0, len(xmls), 100):
            files = []
            for n, xml in enumerate(xmls[first:first + 100]):
                files.append(os.path.join(tmp, "%d.xml" % (first + n)))
                with open(files[-1], "w", encoding="utf-8") as f:
                    f.write(_prepare(xml))
            out = subprocess.run(["xmlsec1", "--sign", "--privkey-pem", key, "--id-attr:Id", "infNFe"] + files,
                                 check=True, capture_output=True).stdout.decode("utf-8")
            docs = [d for d in re.split(r"(?=<\?xml )", out) if d.strip()]
            if len(docs) != len(files):
                raise RuntimeError("xmlsec1 signed %d of %d invoices" % (len(docs), len(files)))
            signed += docs
    result = []
    for doc in signed:
        digest = re.search(r"<DigestValue>([^<]+)</DigestValue>", doc).group(1)
        result.append(re.sub(r"<digVal>[^<]*</digVal>", "<digVal>%s</digVal>" % digest, doc, count=1))
    return result
