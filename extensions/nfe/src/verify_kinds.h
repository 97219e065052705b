#pragma once

// The verifier's checks per document kind (private to the nfe library).

#include <libxml/tree.h>

#include <ctime>
#include <string>

#include "fila/nfe/verifier.h"

namespace fila::nfe {

// Adds `check` to v.failed, once.
inline void AddFailure(Verification& v, const std::string& check) {
  for (const auto& f : v.failed) {
    if (f == check) return;
  }
  v.failed.push_back(check);
}

struct VerifyContext {
  xmlDoc* doc;
  const VerifyOptions& options;
  Verification& v;
};

// The signature that is a child of `parent` and must cover `signed_element`:
// its verdict joins v.signatures, and a failure joins v.failed.
// "signature_missing" when there is none and `required`.
void CheckSignature(VerifyContext& c, xmlNode* parent, xmlNode* signed_element, bool required, std::time_t signed_at);

// NF-e / NFC-e (nfe_kinds.cpp). `prot` is nfeProc's protNFe, or nullptr
// for a bare NFe.
void VerifyNfe(VerifyContext& c, xmlNode* nfe, xmlNode* prot, bool wrapped);
void VerifyEvent(VerifyContext& c, xmlNode* root);
void VerifyResponse(VerifyContext& c, xmlNode* root);

// National NFS-e and its requests (nfse_kinds.cpp); municipal layouts only
// get their kind.
void VerifyNfse(VerifyContext& c, xmlNode* root);
void VerifyDps(VerifyContext& c, xmlNode* root);
void VerifyNfseEventRequest(VerifyContext& c, xmlNode* root);

}  // namespace fila::nfe
