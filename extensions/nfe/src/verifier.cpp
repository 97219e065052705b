// The verifier's entry: parse the bytes as received, find the document
// inside any SOAP envelope, and hand it to the checks of its kind.
#include "fila/nfe/verifier.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "verify_kinds.h"
#include "xml_signature.h"
#include "xml_tree.h"

namespace fila::nfe {
namespace {

using namespace xml;  // NOLINT(google-build-using-namespace): the tree helpers

constexpr std::string_view kSoap11 = "http://schemas.xmlsoap.org/soap/envelope/";
constexpr std::string_view kSoap12 = "http://www.w3.org/2003/05/soap-envelope";
constexpr std::string_view kNfseNs = "http://www.sped.fazenda.gov.br/nfse";

using DocPtr = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

bool LooksLikeNfse(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("nfse") != std::string::npos;
}

// The payload of a SOAP envelope: the first element of its Body (never of
// its Header), then of the web service's message wrapper (nfeDadosMsg,
// nfeResultMsg, nfe...Result: elements of SEFAZ's wsdl namespaces).
xmlNode* Unwrap(xmlNode* root, Verification& v) {
  if (IsElement(root, "Envelope") && (InNamespace(root, kSoap11) || InNamespace(root, kSoap12))) {
    v.envelope = InNamespace(root, kSoap11) ? "soap1.1" : "soap1.2";
    xmlNode* body = Child(root, "Body");
    if (body == nullptr) {
      v.failed.push_back("soap_body_missing");
      return nullptr;
    }
    root = FirstElement(body);
  }
  for (int depth = 0; root != nullptr && depth < 4; ++depth) {
    if (!IsElement(root, "nfeDadosMsg") && !IsElement(root, "nfeResultMsg") &&
        !NamespaceStartsWith(root, "http://www.portalfiscal.inf.br/nfe/wsdl/")) {
      break;
    }
    root = FirstElement(root);
  }
  return root;
}

// The payload as the document its signer signed: a copy of the element
// alone, with only the namespaces it uses declared on it. Inclusive C14N
// would otherwise sign the envelope's declarations (xmlns:soap, ...) too.
// A tree copy, not a re-serialisation: the characters are the ones parsed.
DocPtr Detach(xmlNode* payload) {
  DocPtr doc(xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0")), xmlFreeDoc);
  if (!doc) return doc;
  xmlNode* copy = xmlDocCopyNode(payload, doc.get(), 1);
  if (copy == nullptr) return DocPtr(nullptr, xmlFreeDoc);
  xmlDocSetRootElement(doc.get(), copy);
  return doc;
}

void Dispatch(VerifyContext& c, xmlNode* root) {
  Verification& v = c.v;
  const std::string name = Name(root);
  v.root = name;
  if (name == "nfeProc") {
    v.kind = DocumentKind::kNfeProc;
    xmlNode* nfe = Child(root, "NFe");
    if (nfe == nullptr) {
      v.failed.push_back("infNFe_missing");
      return;
    }
    VerifyNfe(c, nfe, Child(root, "protNFe"), true);
  } else if (name == "NFe") {
    v.kind = DocumentKind::kNfe;
    VerifyNfe(c, root, nullptr, false);
  } else if (InNamespace(root, kNfseNs) && (name == "pedRegEvento" || name == "evento")) {
    v.kind = DocumentKind::kEvent;
    VerifyNfseEventRequest(c, root);
  } else if (name == "procEventoNFe" || name == "envEvento" || name == "evento") {
    v.kind = DocumentKind::kEvent;
    VerifyEvent(c, root);
  } else if (name == "retEnviNFe" || name == "retConsSitNFe" || name == "retConsReciNFe") {
    v.kind = DocumentKind::kResponse;
    VerifyResponse(c, root);
  } else if (name == "DPS") {
    v.kind = DocumentKind::kDps;
    VerifyDps(c, root);
  } else if (LooksLikeNfse(name)) {
    v.kind = DocumentKind::kNfse;
    VerifyNfse(c, root);
  } else {
    v.kind = DocumentKind::kUnknown;
    v.failed.push_back("unknown_document:" + name);
  }
}

}  // namespace

void CheckSignature(VerifyContext& c, xmlNode* parent, xmlNode* signed_element, bool required,
                    std::time_t signed_at) {
  xmlNode* signature = Child(parent, "Signature");
  if (!InNamespace(signature, kDsigNs)) signature = nullptr;
  if (signature == nullptr) {
    if (required) {
      c.v.failed.push_back("signature_missing");
      c.v.signatures.push_back({.element = Attr(signed_element, "Id"), .status = "signature_missing"});
    }
    return;
  }
  SignatureVerdict s = VerifyEnvelopedSignature(c.doc, signature, signed_element, c.options.trust_bundle, signed_at);
  auto add = [&c](const std::string& check) {
    if (std::find(c.v.failed.begin(), c.v.failed.end(), check) == c.v.failed.end()) c.v.failed.push_back(check);
  };
  if (s.status != "valid") add(s.status);
  if (s.chain.rfind("untrusted", 0) == 0) add("certificate_untrusted");
  c.v.signatures.push_back(std::move(s));
}

std::string_view KindName(DocumentKind kind) {
  switch (kind) {
    case DocumentKind::kEmpty: return "empty";
    case DocumentKind::kMalformed: return "malformed";
    case DocumentKind::kNfeProc: return "nfeProc";
    case DocumentKind::kNfe: return "NFe";
    case DocumentKind::kEvent: return "event";
    case DocumentKind::kNfse: return "nfse";
    case DocumentKind::kUnknown: return "unknown";
    case DocumentKind::kResponse: return "response";
    case DocumentKind::kDps: return "dps";
  }
  return "unknown";
}

VerifyOptions VerifyOptions::FromEnvironment() {
  VerifyOptions o;
  if (const char* bundle = std::getenv("FILA_NFE_TRUST_BUNDLE")) o.trust_bundle = bundle;
  return o;
}

Verification VerifyDocument(std::string_view bytes, const VerifyOptions& options) {
  Verification v;
  if (bytes.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    v.kind = DocumentKind::kEmpty;
    v.failed.push_back("empty");
    return v;
  }
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
    v.kind = DocumentKind::kMalformed;
    v.failed.push_back("well_formed");
    v.detail = "document too large";
    return v;
  }
  InitXmlSecurity();
  std::unique_ptr<xmlParserCtxt, decltype(&xmlFreeParserCtxt)> ctxt(xmlNewParserCtxt(), xmlFreeParserCtxt);
  if (!ctxt) {
    v.kind = DocumentKind::kMalformed;
    v.failed.push_back("well_formed");
    v.detail = "out of memory";
    return v;
  }
  // No network, no entity substitution, no DTD loading; errors are
  // collected, not printed. libxml2's default depth limit (256) bounds
  // every later walk of the tree.
  const int options_mask = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  DocPtr doc(xmlCtxtReadMemory(ctxt.get(), bytes.data(), static_cast<int>(bytes.size()), nullptr, nullptr,
                               options_mask),
             xmlFreeDoc);
  if (!doc || !ctxt->wellFormed) {
    v.kind = DocumentKind::kMalformed;
    v.failed.push_back("well_formed");
    const xmlError* e = xmlCtxtGetLastError(ctxt.get());
    if (e != nullptr && e->message != nullptr) {
      v.detail = "line " + std::to_string(e->line) + ": " + e->message;
      while (!v.detail.empty() && v.detail.back() == '\n') v.detail.pop_back();
    }
    return v;
  }
  if (doc->intSubset != nullptr) v.failed.push_back("doctype");
  xmlNode* root = xmlDocGetRootElement(doc.get());
  xmlNode* payload = Unwrap(root, v);
  if (payload == nullptr) {
    v.kind = DocumentKind::kUnknown;
    if (v.failed.empty() || v.failed.back() != "soap_body_missing") v.failed.push_back("unknown_document");
    return v;
  }
  DocPtr detached(nullptr, xmlFreeDoc);
  xmlDoc* target = doc.get();
  if (payload != root) {
    detached = Detach(payload);
    if (!detached) {
      v.failed.push_back("well_formed");
      v.detail = "out of memory";
      return v;
    }
    target = detached.get();
    payload = xmlDocGetRootElement(target);
  }
  VerifyContext c{target, options, v};
  Dispatch(c, payload);
  return v;
}

}  // namespace fila::nfe
