// The national NFS-e (Sistema Nacional NFS-e): the invoice, the DPS (the
// provider's request) and event requests. Key layout (50 digits): cLocEmi
// (7) ambGer (1) tpInsc (1) inscFed (14) nNFSe (13) AAMM (4) cNum (9) DV (1).
#include <string>
#include <vector>

#include "fila/nfe/access_key.h"
#include "verify_kinds.h"
#include "xml_signature.h"
#include "xml_tree.h"

namespace fila::nfe {
namespace {

using namespace xml;  // NOLINT(google-build-using-namespace): the tree helpers

constexpr size_t kNfseKeyDigits = 50;

// The CNPJ, or the CPF padded to 14, of a party element (prest, emit).
std::string Inscription(const xmlNode* party) {
  std::string id = ChildText(party, "CNPJ");
  if (id.empty() && !ChildText(party, "CPF").empty()) id = PadLeft(ChildText(party, "CPF"), 14);
  return id;
}

// A 50-digit national NFS-e key: its format and mod-11 check digit (the
// NF-e routine over the first 49 digits). Returns whether it parsed.
bool CheckNfseKey(const std::string& key, Verification& v) {
  if (key.empty()) {
    AddFailure(v, "access_key_missing");
    return false;
  }
  if (key.size() != kNfseKeyDigits || !AllDigits(key)) {
    AddFailure(v, "access_key_format");
    return false;
  }
  v.issuer_cnpj = key.substr(9, 14);
  if (Mod11CheckDigit(std::string_view(key).substr(0, 49)) != key[49] - '0') AddFailure(v, "access_key_check_digit");
  return true;
}

// The national layout's <infNFSe Id="NFS" + key>, searched without
// recursion (a municipal response may wrap it).
xmlNode* FindInfNfse(xmlNode* root) {
  std::vector<xmlNode*> stack{root};
  while (!stack.empty()) {
    xmlNode* n = stack.back();
    stack.pop_back();
    if (IsElement(n, "infNFSe")) return n;
    for (xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type == XML_ELEMENT_NODE) stack.push_back(c);
    }
  }
  return nullptr;
}

// <infDPS Id="DPS" + cLocEmi(7) tpInsc(1) inscFed(14) serie(5) nDPS(15)>
// against its own fields. `prefix` names the checks ("dps_id").
void CheckDpsId(const xmlNode* inf, Verification& v) {
  const std::string id = Attr(inf, "Id");
  if (id.size() != 45 || id.rfind("DPS", 0) != 0 || !AllDigits(std::string_view(id).substr(3))) {
    AddFailure(v, "dps_id_format");
    return;
  }
  const xmlNode* prest = Child(inf, "prest");
  struct Field {
    const char* name;
    std::string in_id;
    std::string in_xml;
  };
  const Field fields[] = {
      {"cLocEmi", id.substr(3, 7), ChildText(inf, "cLocEmi")},
      {"inscFed", id.substr(11, 14), Inscription(prest)},
      {"serie", id.substr(25, 5), PadLeft(ChildText(inf, "serie"), 5)},
      {"nDPS", id.substr(30, 15), PadLeft(ChildText(inf, "nDPS"), 15)},
  };
  for (const Field& f : fields) {
    if (f.in_id != f.in_xml) AddFailure(v, std::string("dps_id_mismatch:") + f.name);
  }
}

// <infPedReg Id="PRE" + chNFSe(50) + tpEvento(6) + nPedRegEvento(3)>.
void CheckEventRequest(VerifyContext& c, xmlNode* ped, bool required_signature) {
  Verification& v = c.v;
  xmlNode* inf = Child(ped, "infPedReg");
  if (inf == nullptr) {
    AddFailure(v, "infPedReg_missing");
    return;
  }
  v.environment = Environment(ChildText(inf, "tpAmb"));
  v.access_key = ChildText(inf, "chNFSe");
  // The event's detail element is named e + its type: <e101101> cancels.
  for (xmlNode* n = inf->children; n != nullptr; n = n->next) {
    const std::string name = Name(n);
    if (n->type == XML_ELEMENT_NODE && name.size() == 7 && name[0] == 'e' && AllDigits(name.substr(1))) {
      v.event_type = name.substr(1);
    }
  }
  if (CheckNfseKey(v.access_key, v)) {
    const std::string expected = "PRE" + v.access_key + v.event_type + PadLeft(ChildText(inf, "nPedRegEvento"), 3);
    if (Attr(inf, "Id") != expected) AddFailure(v, "event_id_mismatch");
    std::string author = ChildText(inf, "CNPJAutor");
    if (author.empty() && !ChildText(inf, "CPFAutor").empty()) author = PadLeft(ChildText(inf, "CPFAutor"), 14);
    // A cancellation (101101) is the provider's own act.
    if (v.event_type == "101101" && author != v.access_key.substr(9, 14)) AddFailure(v, "event_author_mismatch");
  }
  CheckSignature(c, ped, inf, required_signature, ParseXmlDateTime(ChildText(inf, "dhEvento")));
}

}  // namespace

void VerifyNfse(VerifyContext& c, xmlNode* root) {
  Verification& v = c.v;
  xmlNode* inf = FindInfNfse(root);
  if (inf == nullptr) return;  // a municipal layout: no key, no national signature
  const std::string id = Attr(inf, "Id");
  if (id.rfind("NFS", 0) != 0) {
    AddFailure(v, id.empty() ? "access_key_missing" : "access_key_format");
    if (!id.empty()) v.access_key = id;
  } else {
    v.access_key = id.substr(3);
  }
  xmlNode* dps = Child(Child(inf, "DPS"), "infDPS");
  v.environment = Environment(ChildText(dps, "tpAmb"));
  if (id.rfind("NFS", 0) == 0 && CheckNfseKey(v.access_key, v)) {
    const std::string emitter = Inscription(Child(inf, "emit"));
    if (!emitter.empty() && emitter != v.access_key.substr(9, 14)) AddFailure(v, "key_vs_nfse:CNPJ");
    const std::string processed = ChildText(inf, "dhProc");
    const std::string aamm = processed.size() >= 7 ? processed.substr(2, 2) + processed.substr(5, 2) : "";
    if (aamm != v.access_key.substr(36, 4)) AddFailure(v, "key_vs_nfse:dhProc");
  }
  // The tax authority signs the NFS-e; the provider's DPS inside keeps its
  // own signature when it had one.
  CheckSignature(c, inf->parent, inf, true, ParseXmlDateTime(ChildText(inf, "dhProc")));
  if (dps != nullptr) {
    CheckDpsId(dps, v);
    CheckSignature(c, dps->parent, dps, false, ParseXmlDateTime(ChildText(dps, "dhEmi")));
  }
}

void VerifyDps(VerifyContext& c, xmlNode* root) {
  Verification& v = c.v;
  AddFailure(v, "not_an_invoice");
  xmlNode* inf = Child(root, "infDPS");
  if (inf == nullptr) {
    AddFailure(v, "infDPS_missing");
    return;
  }
  v.environment = Environment(ChildText(inf, "tpAmb"));
  v.issuer_cnpj = Inscription(Child(inf, "prest"));
  CheckDpsId(inf, v);
  CheckSignature(c, root, inf, true, ParseXmlDateTime(ChildText(inf, "dhEmi")));
}

// pedRegEvento (a request: never registered by itself), or the national
// `evento` that registers one (infEvento wraps the request, and the tax
// authority signs it).
void VerifyNfseEventRequest(VerifyContext& c, xmlNode* root) {
  Verification& v = c.v;
  AddFailure(v, "not_an_invoice");
  if (IsElement(root, "pedRegEvento")) {
    CheckEventRequest(c, root, true);
    AddFailure(v, "event_not_registered");
    return;
  }
  xmlNode* inf = Child(root, "infEvento");
  xmlNode* ped = Child(inf, "pedRegEvento");
  if (ped == nullptr) {
    AddFailure(v, "infPedReg_missing");
    return;
  }
  CheckEventRequest(c, ped, false);
  CheckSignature(c, root, inf, true, ParseXmlDateTime(ChildText(inf, "dhProc")));
}

}  // namespace fila::nfe
