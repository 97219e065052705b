// NF-e / NFC-e, their events and SEFAZ's responses.
#include <string>
#include <vector>

#include "fila/nfe/access_key.h"
#include "verify_kinds.h"
#include "xml_signature.h"
#include "xml_tree.h"

namespace fila::nfe {
namespace {

using namespace xml;  // NOLINT(google-build-using-namespace): the tree helpers

// The key of <infNFe Id>: "NFe" + 44 digits. A key without the prefix is
// still compared with <ide>, and reported as access_key_format.
std::string KeyOfId(const std::string& id, Verification& v) {
  if (id.empty()) {
    AddFailure(v, "access_key_missing");
    return {};
  }
  const bool prefixed = id.rfind("NFe", 0) == 0;
  const std::string digits = prefixed ? id.substr(3) : id;
  if (!prefixed || !SplitAccessKey(digits)) AddFailure(v, "access_key_format");
  if (!SplitAccessKey(digits)) {
    v.access_key = id;
    return {};
  }
  return digits;
}

void CompareKeyWithIde(const AccessKeyFields& key, const xmlNode* ide, const std::string& emitter, Verification& v) {
  // Emission month: dhEmi (layout 3.10/4.00) or dEmi (2.00), YYYY-MM-DD...
  std::string emitted = ChildText(ide, "dhEmi");
  if (emitted.empty()) emitted = ChildText(ide, "dEmi");
  const std::string aamm = emitted.size() >= 7 ? emitted.substr(2, 2) + emitted.substr(5, 2) : std::string();
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
    if (f.in_key != f.in_xml) AddFailure(v, std::string("key_vs_ide:") + f.name);
  }
}

// A 44-digit key found in a response or an event: format and check digit.
void CheckBareKey(const std::string& key, Verification& v) {
  if (key.empty()) {
    AddFailure(v, "access_key_missing");
  } else if (!SplitAccessKey(key)) {
    AddFailure(v, "access_key_format");
  } else {
    if (v.issuer_cnpj.empty()) v.issuer_cnpj = SplitAccessKey(key)->cnpj;
    if (v.model.empty()) v.model = SplitAccessKey(key)->mod;
    if (!AccessKeyValid(key)) AddFailure(v, "access_key_check_digit");
  }
}

void CheckProtocol(VerifyContext& c, xmlNode* prot, const std::string& key) {
  xmlNode* inf = Child(prot, "infProt");
  if (inf == nullptr) {
    AddFailure(c.v, "protocol_missing");
    return;
  }
  const std::string status = ChildText(inf, "cStat");
  // 100 authorised; 150 authorised after the deadline (still valid).
  if (status != "100" && status != "150") AddFailure(c.v, "protocol_status:" + status);
  if (!key.empty() && ChildText(inf, "chNFe") != key) AddFailure(c.v, "protocol_key_mismatch");
  // SEFAZ may sign its protocol (infProt Id="ID..."): checked when it did.
  CheckSignature(c, prot, inf, false, ParseXmlDateTime(ChildText(inf, "dhRecbto")));
}

}  // namespace

void VerifyNfe(VerifyContext& c, xmlNode* nfe, xmlNode* prot, bool wrapped) {
  Verification& v = c.v;
  xmlNode* inf = Child(nfe, "infNFe");
  if (inf == nullptr) {
    AddFailure(v, "infNFe_missing");
    return;
  }
  const xmlNode* ide = Child(inf, "ide");
  const xmlNode* emit = Child(inf, "emit");
  v.environment = Environment(ChildText(ide, "tpAmb"));
  v.model = ChildText(ide, "mod");
  std::string emitter = ChildText(emit, "CNPJ");
  if (emitter.empty() && !ChildText(emit, "CPF").empty()) emitter = PadLeft(ChildText(emit, "CPF"), 14);
  v.issuer_cnpj = emitter;

  const std::string key = KeyOfId(Attr(inf, "Id"), v);
  if (!key.empty()) {
    v.access_key = key;
    const auto fields = *SplitAccessKey(key);
    v.issuer_cnpj = fields.cnpj;
    v.model = fields.mod;
    if (!AccessKeyValid(key)) AddFailure(v, "access_key_check_digit");
    CompareKeyWithIde(fields, ide, emitter, v);
  }
  std::string emitted = ChildText(ide, "dhEmi");
  CheckSignature(c, nfe, inf, true, ParseXmlDateTime(emitted.empty() ? ChildText(ide, "dEmi") : emitted));
  if (!wrapped) {
    AddFailure(v, "protocol_missing");
    return;
  }
  CheckProtocol(c, prot, key);
  // The protocol names the digest SEFAZ authorised: another signed
  // invoice under the same protocol has another digest.
  const std::string authorised = ChildText(Child(prot, "infProt"), "digVal");
  const std::string signed_digest =
      ChildText(Child(Child(Child(nfe, "Signature"), "SignedInfo"), "Reference"), "DigestValue");
  if (!authorised.empty() && !signed_digest.empty() && authorised != signed_digest) {
    AddFailure(v, "protocol_digest_mismatch");
  }
}

void VerifyEvent(VerifyContext& c, xmlNode* root) {
  Verification& v = c.v;
  AddFailure(v, "not_an_invoice");
  // procEventoNFe = evento + retEvento; envEvento = idLote + evento... (a
  // request, never registered); evento alone likewise.
  xmlNode* evento = IsElement(root, "evento") ? root : Child(root, "evento");
  xmlNode* inf = Child(evento, "infEvento");
  if (inf == nullptr) {
    AddFailure(v, "infEvento_missing");
    return;
  }
  v.environment = Environment(ChildText(inf, "tpAmb"));
  v.event_type = ChildText(inf, "tpEvento");
  v.access_key = ChildText(inf, "chNFe");
  CheckBareKey(v.access_key, v);
  if (const auto key = SplitAccessKey(v.access_key)) {
    v.issuer_cnpj = key->cnpj;
    const std::string seq = PadLeft(ChildText(inf, "nSeqEvento"), 2);
    if (Attr(inf, "Id") != "ID" + v.event_type + v.access_key + seq) AddFailure(v, "event_id_mismatch");
    // Cancellation and correction letters are the issuer's own acts.
    std::string author = ChildText(inf, "CNPJ");
    if (author.empty()) author = PadLeft(ChildText(inf, "CPF"), 14);
    if ((v.event_type == "110111" || v.event_type == "110110") && author != key->cnpj) {
      AddFailure(v, "event_author_mismatch");
    }
  }
  CheckSignature(c, evento, inf, true, ParseXmlDateTime(ChildText(inf, "dhEvento")));
  xmlNode* ret = Child(root, "retEvento");
  xmlNode* ret_inf = Child(ret, "infEvento");
  const std::string status = ChildText(ret_inf, "cStat");
  // 135/136 registered (and linked or not to the invoice); 155 cancellation out of time.
  if (status != "135" && status != "136" && status != "155") AddFailure(v, "event_not_registered");
  if (ret_inf != nullptr && !v.access_key.empty() && ChildText(ret_inf, "chNFe") != v.access_key) {
    AddFailure(v, "protocol_key_mismatch");
  }
  if (ret_inf != nullptr) CheckSignature(c, ret, ret_inf, false, ParseXmlDateTime(ChildText(ret_inf, "dhRegEvento")));
}

// retEnviNFe (synchronous authorisation: one protNFe), retConsReciNFe (a
// batch's protocols) and retConsSitNFe (one key's situation): every key
// they name is checked, and so is every protocol's status.
void VerifyResponse(VerifyContext& c, xmlNode* root) {
  Verification& v = c.v;
  AddFailure(v, "not_an_invoice");
  v.environment = Environment(ChildText(root, "tpAmb"));
  const std::string asked = ChildText(root, "chNFe");  // retConsSitNFe
  if (!asked.empty()) {
    v.access_key = asked;
    CheckBareKey(asked, v);
  }
  int protocols = 0;
  for (xmlNode* n = root->children; n != nullptr; n = n->next) {
    if (!IsElement(n, "protNFe")) continue;
    ++protocols;
    const std::string key = ChildText(Child(n, "infProt"), "chNFe");
    if (v.access_key.empty()) v.access_key = key;
    CheckBareKey(key, v);
    CheckProtocol(c, n, asked);
  }
  if (protocols == 0) AddFailure(v, "protocol_missing");
}

}  // namespace fila::nfe
