"""Signs the fake server's invoices with the TEST key of
tests/fixtures/nfe/synthetic (xmlsec1 command), as an ERP would sign what
it serves: an invoice edited from a sample (new key, nNF, cNF) no longer
matches its original signature, and the verifier checks signatures.

Nothing signed here is a real fiscal document.
"""

import os
import re
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "..", "fixtures", "nfe", "synthetic")
DSIG = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"


def _template(ref_id):
    return ('<Signature xmlns="%s"><SignedInfo><CanonicalizationMethod Algorithm="%s"/>'
            '<SignatureMethod Algorithm="%srsa-sha1"/><Reference URI="#%s"><Transforms>'
            '<Transform Algorithm="%senveloped-signature"/><Transform Algorithm="%s"/></Transforms>'
            '<DigestMethod Algorithm="%ssha1"/><DigestValue></DigestValue></Reference></SignedInfo>'
            '<SignatureValue></SignatureValue><KeyInfo><X509Data><X509Certificate></X509Certificate>'
            '</X509Data></KeyInfo></Signature>') % (DSIG, C14N, DSIG, ref_id, DSIG, C14N, DSIG)


def _prepare(xml):
    xml = re.sub(r"<Signature xmlns=\"%s\">.*?</Signature>" % re.escape(DSIG), "", xml, count=1, flags=re.S)
    ref_id = re.search(r'<infNFe [^>]*Id="([^"]+)"', xml).group(1)
    return re.sub(r"(</infNFe>\s*)", lambda m: m.group(1) + _template(ref_id), xml, count=1)


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
