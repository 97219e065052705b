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
  kEvent,      // an event (cancellation, correction, ...), not an invoice
  kNfse,       // a service invoice (NFS-e, national or municipal layout)
  kUnknown,    // well-formed XML of some other kind
};

std::string_view KindName(DocumentKind kind);

// What the verifier found in one document. `failed` names every check that
// failed (stable identifiers such as "signature_missing" or
// "key_vs_ide:tpEmis"); a document is valid when none did.
struct Verification {
  DocumentKind kind = DocumentKind::kUnknown;
  std::string access_key;    // as found (44 digits for NF-e, 50 for national NFS-e), or ""
  std::string issuer_cnpj;   // from the key when it parses, else from <emit>, or ""
  std::string environment;   // "production", "homologation" or ""
  std::string event_type;    // tpEvento of an event, e.g. "110111"
  std::vector<std::string> failed;
  std::string detail;        // the parser's message for a malformed document
  bool Valid() const { return failed.empty(); }
};

// Verifies `bytes` exactly as received (the caller stores the same bytes;
// nothing is re-serialised): well-formedness, document kind, access key and
// its mod-11 check digit, the key against <ide>/<emit>, the protocol status
// of an authorised invoice, and the presence of the XML signature.
// A DOCTYPE is refused (an NF-e never has one; entities would be a risk) and
// the network is never used. Thread-safe; never throws for bad input.
Verification VerifyDocument(std::string_view bytes);

}  // namespace fila::nfe
