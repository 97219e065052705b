#include "fila/nfe/verifier.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

#include "fila/nfe/access_key.h"

namespace fila::nfe {
namespace {

constexpr const char* kDsigNs = "http://www.w3.org/2000/09/xmldsig#";

bool IsElement(const xmlNode* n, const char* local) {
  return n != nullptr && n->type == XML_ELEMENT_NODE &&
         std::strcmp(reinterpret_cast<const char*>(n->name), local) == 0;
}

const xmlNode* Child(const xmlNode* parent, const char* local) {
  if (parent == nullptr) return nullptr;
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (IsElement(c, local)) return c;
  }
  return nullptr;
}

const xmlNode* FirstElement(const xmlNode* parent) {
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) return c;
  }
  return nullptr;
}

std::string Text(const xmlNode* n) {
  if (n == nullptr) return {};
  std::unique_ptr<xmlChar, decltype(xmlFree)> content(xmlNodeGetContent(n), xmlFree);
  if (!content) return {};
  std::string s(reinterpret_cast<const char*>(content.get()));
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string ChildText(const xmlNode* parent, const char* local) { return Text(Child(parent, local)); }

std::string Attr(const xmlNode* n, const char* name) {
  if (n == nullptr) return {};
  std::unique_ptr<xmlChar, decltype(xmlFree)> v(xmlGetProp(n, reinterpret_cast<const xmlChar*>(name)),
                                                xmlFree);
  return v ? std::string(reinterpret_cast<const char*>(v.get())) : std::string();
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string PadLeft(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

const xmlNode* SignatureOf(const xmlNode* parent) {
  const xmlNode* sig = Child(parent, "Signature");
  if (sig == nullptr || sig->ns == nullptr) return nullptr;
  return std::strcmp(reinterpret_cast<const char*>(sig->ns->href), kDsigNs) == 0 ? sig : nullptr;
}

// The signature must cover the element it is attached to: its Reference
// points at that element's Id (an edited key leaves a dangling reference).
void CheckSignature(const xmlNode* parent, const std::string& id, Verification& v) {
  const xmlNode* sig = SignatureOf(parent);
  if (sig == nullptr) {
    v.failed.push_back("signature_missing");
    return;
  }
  const xmlNode* ref = Child(Child(sig, "SignedInfo"), "Reference");
  if (ref == nullptr || Attr(ref, "URI") != "#" + id) v.failed.push_back("signature_reference");
}

std::string Environment(const std::string& tp_amb) {
  if (tp_amb == "1") return "production";
  if (tp_amb == "2") return "homologation";
  return {};
}

void VerifyNfe(const xmlNode* nfe, const xmlNode* prot, bool wrapped, Verification& v) {
  const xmlNode* inf = Child(nfe, "infNFe");
  if (inf == nullptr) {
    v.failed.push_back("infNFe_missing");
    return;
  }
  const xmlNode* ide = Child(inf, "ide");
  const xmlNode* emit = Child(inf, "emit");
  v.environment = Environment(ChildText(ide, "tpAmb"));
  std::string emitter = ChildText(emit, "CNPJ");
  if (emitter.empty() && !ChildText(emit, "CPF").empty()) emitter = PadLeft(ChildText(emit, "CPF"), 14);
  v.issuer_cnpj = emitter;

  const std::string id = Attr(inf, "Id");
  if (id.empty()) {
    v.failed.push_back("access_key_missing");
  } else if (id.rfind("NFe", 0) != 0 || !SplitAccessKey(std::string_view(id).substr(3))) {
    v.failed.push_back("access_key_format");
    v.access_key = id;
  } else {
    v.access_key = id.substr(3);
    const auto key = *SplitAccessKey(v.access_key);
    v.issuer_cnpj = key.cnpj;
    if (!AccessKeyValid(v.access_key)) v.failed.push_back("access_key_check_digit");
    // Emission month: dhEmi (layout 3.10/4.00) or dEmi (2.00), YYYY-MM-DD...
    std::string emitted = ChildText(ide, "dhEmi");
    if (emitted.empty()) emitted = ChildText(ide, "dEmi");
    const std::string aamm =
        emitted.size() >= 7 ? emitted.substr(2, 2) + emitted.substr(5, 2) : std::string();
    struct Field {
      const char* name;
      const std::string& in_key;
      std::string in_xml;  // normalised to the key's width
    };
    const Field fields[] = {
        {"cUF", key.cuf, ChildText(ide, "cUF")},
        {"dhEmi", key.aamm, aamm},
        {"CNPJ", key.cnpj, PadLeft(emitter, 14)},
        {"mod", key.mod, ChildText(ide, "mod")},
        {"serie", key.serie, PadLeft(ChildText(ide, "serie"), 3)},
        {"nNF", key.nnf, PadLeft(ChildText(ide, "nNF"), 9)},
        {"tpEmis", key.tpemis, ChildText(ide, "tpEmis")},
        {"cNF", key.cnf, PadLeft(ChildText(ide, "cNF"), 8)},
        {"cDV", key.cdv, ChildText(ide, "cDV")},
    };
    for (const Field& f : fields) {
      if (f.in_key != f.in_xml) v.failed.push_back(std::string("key_vs_ide:") + f.name);
    }
  }
  CheckSignature(nfe, id, v);

  if (!wrapped) {
    v.failed.push_back("protocol_missing");
    return;
  }
  const xmlNode* inf_prot = Child(prot, "infProt");
  if (inf_prot == nullptr) {
    v.failed.push_back("protocol_missing");
    return;
  }
  const std::string status = ChildText(inf_prot, "cStat");
  // 100 authorised; 150 authorised after the deadline (still valid).
  if (status != "100" && status != "150") v.failed.push_back("protocol_status:" + status);
  if (!v.access_key.empty() && ChildText(inf_prot, "chNFe") != v.access_key) {
    v.failed.push_back("protocol_key_mismatch");
  }
}

void VerifyEvent(const xmlNode* root, Verification& v) {
  v.failed.push_back("not_an_invoice");
  // procEventoNFe = evento + retEvento; envEvento = idLote + evento... (a
  // request, never registered); evento alone likewise.
  const xmlNode* evento = IsElement(root, "evento") ? root : Child(root, "evento");
  const xmlNode* inf = Child(evento, "infEvento");
  if (inf == nullptr) {
    v.failed.push_back("infEvento_missing");
    return;
  }
  v.environment = Environment(ChildText(inf, "tpAmb"));
  v.event_type = ChildText(inf, "tpEvento");
  v.access_key = ChildText(inf, "chNFe");
  const auto key = SplitAccessKey(v.access_key);
  if (v.access_key.empty()) {
    v.failed.push_back("access_key_missing");
  } else if (!key) {
    v.failed.push_back("access_key_format");
  } else {
    v.issuer_cnpj = key->cnpj;
    if (!AccessKeyValid(v.access_key)) v.failed.push_back("access_key_check_digit");
    std::string seq = PadLeft(ChildText(inf, "nSeqEvento"), 2);
    if (Attr(inf, "Id") != "ID" + v.event_type + v.access_key + seq) v.failed.push_back("event_id_mismatch");
    // Cancellation and correction letters are the issuer's own acts.
    std::string author = ChildText(inf, "CNPJ");
    if (author.empty()) author = PadLeft(ChildText(inf, "CPF"), 14);
    if ((v.event_type == "110111" || v.event_type == "110110") && author != key->cnpj) {
      v.failed.push_back("event_author_mismatch");
    }
  }
  CheckSignature(evento, Attr(inf, "Id"), v);
  const xmlNode* ret = Child(Child(root, "retEvento"), "infEvento");
  const std::string status = ChildText(ret, "cStat");
  // 135/136 registered (and linked or not to the invoice); 155 cancellation out of time.
  if (status != "135" && status != "136" && status != "155") v.failed.push_back("event_not_registered");
}

// Finds the NFS-e access key: the national layout's Id="NFS" + 50 digits on
// infNFSe. Municipal (ABRASF) layouts carry no key: nothing to check.
void VerifyNfse(const xmlNode* root, Verification& v) {
  std::vector<const xmlNode*> stack{root};
  while (!stack.empty()) {
    const xmlNode* n = stack.back();
    stack.pop_back();
    if (IsElement(n, "infNFSe")) {
      const std::string id = Attr(n, "Id");
      if (id.rfind("NFS", 0) == 0 && id.size() == 53 && AllDigits(std::string_view(id).substr(3))) {
        v.access_key = id.substr(3);
        if (Mod11CheckDigit(std::string_view(v.access_key).substr(0, 49)) != v.access_key[49] - '0') {
          v.failed.push_back("access_key_check_digit");
        }
      } else if (!id.empty()) {
        v.failed.push_back("access_key_format");
      }
      return;
    }
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type == XML_ELEMENT_NODE) stack.push_back(c);
    }
  }
}

bool LooksLikeNfse(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("nfse") != std::string::npos || lower == "dps";
}

void InitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

}  // namespace

std::string_view KindName(DocumentKind kind) {
  switch (kind) {
    case DocumentKind::kEmpty: return "empty";
    case DocumentKind::kMalformed: return "malformed";
    case DocumentKind::kNfeProc: return "nfeProc";
    case DocumentKind::kNfe: return "NFe";
    case DocumentKind::kEvent: return "event";
    case DocumentKind::kNfse: return "nfse";
    case DocumentKind::kUnknown: return "unknown";
  }
  return "unknown";
}

Verification VerifyDocument(std::string_view bytes) {
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
  InitOnce();
  std::unique_ptr<xmlParserCtxt, decltype(&xmlFreeParserCtxt)> ctxt(xmlNewParserCtxt(),
                                                                     xmlFreeParserCtxt);
  if (!ctxt) {
    v.kind = DocumentKind::kMalformed;
    v.failed.push_back("well_formed");
    v.detail = "out of memory";
    return v;
  }
  // No network, no entity substitution, no DTD loading; errors are
  // collected, not printed.
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)> doc(
      xmlCtxtReadMemory(ctxt.get(), bytes.data(), static_cast<int>(bytes.size()), nullptr, nullptr,
                        options),
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
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  // Unwrap a SOAP envelope or a web-service message (nfeDadosMsg, ...).
  for (int depth = 0; root != nullptr && depth < 4; ++depth) {
    if (IsElement(root, "Envelope") || IsElement(root, "Body") || IsElement(root, "nfeDadosMsg") ||
        IsElement(root, "nfeResultMsg")) {
      root = FirstElement(root);
    } else {
      break;
    }
  }
  if (root == nullptr) {
    v.kind = DocumentKind::kUnknown;
    v.failed.push_back("unknown_document");
    return v;
  }
  const std::string name(reinterpret_cast<const char*>(root->name));
  if (name == "nfeProc") {
    v.kind = DocumentKind::kNfeProc;
    const xmlNode* nfe = Child(root, "NFe");
    if (nfe == nullptr) {
      v.failed.push_back("infNFe_missing");
      return v;
    }
    VerifyNfe(nfe, Child(root, "protNFe"), true, v);
  } else if (name == "NFe") {
    v.kind = DocumentKind::kNfe;
    VerifyNfe(root, nullptr, false, v);
  } else if (name == "procEventoNFe" || name == "envEvento" || name == "evento") {
    v.kind = DocumentKind::kEvent;
    VerifyEvent(root, v);
  } else if (LooksLikeNfse(name)) {
    v.kind = DocumentKind::kNfse;
    VerifyNfse(root, v);
  } else {
    v.kind = DocumentKind::kUnknown;
    v.failed.push_back("unknown_document:" + name);
  }
  return v;
}

}  // namespace fila::nfe
