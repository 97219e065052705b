#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fila::nfe {

enum class DocumentKind {
  kEmpty,      // no bytes, or only whitespace
  kMalformed,  // not well-formed XML
  kNfeProc,    // authorised NF-e/NFC-e: <nfeProc> = <NFe> + <protNFe>
  kNfe,        // bare <NFe>, without the authorisation protocol
  kEvent,      // an NF-e or NFS-e event or event request, not an invoice
  kNfse,       // a service invoice (NFS-e, national or municipal layout)
  kUnknown,    // well-formed XML of some other kind
  kResponse,   // a SEFAZ response (retEnviNFe, retConsSitNFe, retConsReciNFe)
  kDps,        // a national NFS-e request (DPS): not an invoice
};

std::string_view KindName(DocumentKind kind);

// One XML-DSig signature and what its verification found.
struct SignatureVerdict {
  std::string element;    // the Id of the element it must cover
  std::string status;     // "valid", or the failed check (see Verification)
  std::string algorithm;  // "rsa-sha1", "rsa-sha256", or the URI found
  std::string signer;     // the embedded certificate's subject, or ""
  // "not_checked" (no trust bundle configured), "trusted", or
  // "untrusted: <reason>".
  std::string chain;
  std::string detail;  // why, when status is not "valid"
};

// What the verifier found in one document. `failed` names every check that
// failed (stable identifiers such as "signature_missing" or
// "key_vs_ide:tpEmis", listed in docs/nfe-download.md); a document is
// valid when none did.
struct Verification {
  DocumentKind kind = DocumentKind::kUnknown;
  std::string root;          // the document's element as named, e.g. "envEvento", "retEnviNFe"
  std::string envelope;      // "soap1.1", "soap1.2" or "" (the payload was inside a SOAP Body)
  std::string model;         // "55" (NF-e) or "65" (NFC-e) from the key, or ""
  std::string access_key;    // as found (44 digits for NF-e, 50 for national NFS-e), or ""
  std::string issuer_cnpj;   // from the key when it parses, else from <emit>, or ""
  std::string environment;   // "production", "homologation" or ""
  std::string event_type;    // tpEvento of an event, e.g. "110111"
  std::vector<std::string> failed;
  std::vector<SignatureVerdict> signatures;  // in document order of the signed elements
  std::string detail;        // the parser's message for a malformed document
  bool Valid() const { return failed.empty(); }
  // Only "not_an_invoice" failed: an event, response or request whose own
  // checks all pass.
  bool SoundButNotAnInvoice() const { return failed.size() == 1 && failed[0] == "not_an_invoice"; }
};

struct VerifyOptions {
  // A PEM file of trusted CA certificates (the ICP-Brasil chain). Empty:
  // signatures are checked against their embedded certificate only, and
  // SignatureVerdict::chain says "not_checked".
  std::string trust_bundle;
  // FILA_NFE_TRUST_BUNDLE, or empty.
  static VerifyOptions FromEnvironment();
};

// Verifies `bytes` exactly as received (the caller stores the same bytes;
// nothing is re-serialised): well-formedness, document kind, access key and
// its mod-11 check digit, the key against <ide>/<emit>, the protocol status
// of an authorised invoice, and each XML signature (xmlsec1: the enveloped
// signature over the element its Reference names inside the document, the
// canonicalisation it names, RSA-SHA1 or RSA-SHA256, the embedded
// certificate; its chain against `options.trust_bundle` when set).
// A payload inside a SOAP envelope is judged as the document its signer
// signed: the Body's content, without the envelope's namespace declarations.
// A DOCTYPE is refused (an NF-e never has one; entities would be a risk);
// the network and files other than the trust bundle are never read.
// Thread-safe (the xmlsec library is initialised once per process, on the
// first call); never throws for bad input.
Verification VerifyDocument(std::string_view bytes, const VerifyOptions& options = {});

}  // namespace fila::nfe
