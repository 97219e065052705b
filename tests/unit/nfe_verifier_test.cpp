// The NF-e verifier on every sample in tests/fixtures/nfe (real files) and
// on edits of them, each with the verdict it must get.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "fila/nfe/access_key.h"
#include "fila/nfe/verifier.h"

namespace fila::nfe {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(FILA_NFE_FIXTURES) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

using Checks = std::set<std::string>;
Checks Failed(const Verification& v) { return Checks(v.failed.begin(), v.failed.end()); }

struct Expected {
  DocumentKind kind;
  std::string key;
  Checks failed;  // empty: valid
  std::string environment;
};

// Verdicts decided by reading each file and the mod-11 notes.
const std::map<std::string, Expected>& SampleVerdicts() {
  static const std::map<std::string, Expected> kVerdicts = {
      // Authorised (cStat 100), signed, key consistent; homologation.
      {"01_procNFe_hom_signed_sped-nfe_layout4_com_prot.xml",
       {DocumentKind::kNfeProc, "43180906929383000163550010000000261000010301", {}, "homologation"}},
      // Authorised in production, signed, key consistent.
      {"03_procNFe_prod_signed_35180834128745000152550010000476051695511860.xml",
       {DocumentKind::kNfeProc, "35180834128745000152550010000476051695511860", {}, "production"}},
      // Authorised, key fine, but the <Signature> was removed.
      {"04_procNFe_prod_NO_SIGNATURE_42210775277525000178550030000266631762885493.xml",
       {DocumentKind::kNfeProc, "42210775277525000178550030000266631762885493", {"signature_missing"}, "production"}},
      // Bare NFC-e (no protocol); the key's digit says 9, mod 11 gives 8.
      {"08_EDGE_NFCe_mod65_signed_BAD_check_digit.xml",
       {DocumentKind::kNfe, "29181033657677000156650010001654399001654399",
        {"access_key_check_digit", "protocol_missing"}, "homologation"}},
      // A cancellation request (envEvento in nfeDadosMsg): not an invoice,
      // never registered (no retEvento), and its author (93623057000128) is
      // not the issuer the key names (00822602000124). Its key's digit is right.
      {"10_event_cancel_110111_signed_envEvento.xml",
       {DocumentKind::kEvent, "35150300822602000124550010009923461099234656",
        {"not_an_invoice", "event_author_mismatch", "event_not_registered"}, "homologation"}},
  };
  return kVerdicts;
}

TEST(NfeVerifier, EverySampleFileGetsItsVerdict) {
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(FILA_NFE_FIXTURES)) {
    if (entry.path().extension() != ".xml") continue;
    const std::string name = entry.path().filename().string();
    auto it = SampleVerdicts().find(name);
    ASSERT_NE(it, SampleVerdicts().end()) << "no expected verdict for sample " << name;
    const Verification v = VerifyDocument(Fixture(name));
    EXPECT_EQ(v.kind, it->second.kind) << name << ": " << KindName(v.kind);
    EXPECT_EQ(v.access_key, it->second.key) << name;
    EXPECT_EQ(Failed(v), it->second.failed) << name;
    EXPECT_EQ(v.Valid(), it->second.failed.empty()) << name;
    EXPECT_EQ(v.environment, it->second.environment) << name;
    ++seen;
  }
  EXPECT_EQ(seen, static_cast<int>(SampleVerdicts().size()));
}

TEST(NfeVerifier, IssuerComesFromTheKey) {
  EXPECT_EQ(VerifyDocument(Fixture("01_procNFe_hom_signed_sped-nfe_layout4_com_prot.xml")).issuer_cnpj,
            "06929383000163");
  EXPECT_EQ(VerifyDocument(Fixture("10_event_cancel_110111_signed_envEvento.xml")).event_type, "110111");
}

TEST(NfeVerifier, EmptyAndBlankAreEmpty) {
  for (std::string bytes : {std::string(), std::string(" \r\n\t")}) {
    const Verification v = VerifyDocument(bytes);
    EXPECT_EQ(v.kind, DocumentKind::kEmpty);
    EXPECT_EQ(Failed(v), Checks({"empty"}));
  }
}

TEST(NfeVerifier, TruncatedDocumentIsNotWellFormed) {
  const std::string xml = Fixture("03_procNFe_prod_signed_35180834128745000152550010000476051695511860.xml");
  const Verification v = VerifyDocument(std::string_view(xml).substr(0, xml.size() / 2));
  EXPECT_EQ(v.kind, DocumentKind::kMalformed);
  EXPECT_EQ(Failed(v), Checks({"well_formed"}));
  EXPECT_NE(v.detail.find("line"), std::string::npos) << v.detail;
}

TEST(NfeVerifier, InvalidUtf8IsNotWellFormed) {
  std::string xml = Fixture("03_procNFe_prod_signed_35180834128745000152550010000476051695511860.xml");
  xml = Replace(xml, "Bonifica", "Bonifi\xff\xfe");
  EXPECT_EQ(VerifyDocument(xml).kind, DocumentKind::kMalformed);
}

TEST(NfeVerifier, MismatchedTagIsNotWellFormed) {
  std::string xml = Fixture("01_procNFe_hom_signed_sped-nfe_layout4_com_prot.xml");
  xml = Replace(xml, "</ide>", "</idee>");
  EXPECT_EQ(VerifyDocument(xml).kind, DocumentKind::kMalformed);
}

TEST(NfeVerifier, DoctypeIsRefusedAndEntitiesAreNotExpanded) {
  const std::string inner =
      "<NFe xmlns=\"http://www.portalfiscal.inf.br/nfe\"><infNFe Id=\"NFe43180906929383000163550010000000261000010301\"/></NFe>";
  Verification v = VerifyDocument("<?xml version=\"1.0\"?><!DOCTYPE NFe>" + inner);
  EXPECT_TRUE(Failed(v).count("doctype")) << ::testing::PrintToString(v.failed);
  // An external entity is never fetched: the document is refused.
  v = VerifyDocument(
      "<?xml version=\"1.0\"?><!DOCTYPE NFe [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
      "<NFe xmlns=\"http://www.portalfiscal.inf.br/nfe\"><infNFe Id=\"NFe&x;\"/></NFe>");
  EXPECT_FALSE(v.Valid());
  EXPECT_EQ(v.access_key.find("root"), std::string::npos);
}

TEST(NfeVerifier, KeyEditedAfterSigningFailsConsistencyAndReference) {
  // tpEmis 1 -> 6 in the key and its check digit recomputed: the digit is
  // fine, but <ide> disagrees and the signature points at the old Id.
  const std::string old_key = "35180834128745000152550010000476051695511860";
  std::string edited = old_key.substr(0, 34) + "6" + old_key.substr(35, 8);
  edited += static_cast<char>('0' + Mod11CheckDigit(edited));
  std::string xml = Fixture("03_procNFe_prod_signed_35180834128745000152550010000476051695511860.xml");
  xml = Replace(xml, "Id=\"NFe" + old_key, "Id=\"NFe" + edited);
  const Verification v = VerifyDocument(xml);
  EXPECT_EQ(v.access_key, edited);
  EXPECT_EQ(Failed(v), Checks({"key_vs_ide:tpEmis", "key_vs_ide:cDV", "signature_reference",
                               "protocol_key_mismatch"}));
}

TEST(NfeVerifier, EachIdeFieldIsComparedWithTheKey) {
  const std::string base = Fixture("01_procNFe_hom_signed_sped-nfe_layout4_com_prot.xml");
  const std::map<std::string, std::pair<std::string, std::string>> edits = {
      {"key_vs_ide:cUF", {"<cUF>43</cUF>", "<cUF>35</cUF>"}},
      {"key_vs_ide:nNF", {"<nNF>26</nNF>", "<nNF>27</nNF>"}},
      {"key_vs_ide:serie", {"<serie>1</serie>", "<serie>2</serie>"}},
      {"key_vs_ide:dhEmi", {"<dhEmi>2018-09-25", "<dhEmi>2018-10-25"}},
      {"key_vs_ide:cNF", {"<cNF>00001030</cNF>", "<cNF>00001031</cNF>"}},
      {"key_vs_ide:mod", {"<mod>55</mod>", "<mod>65</mod>"}},
      {"key_vs_ide:CNPJ", {"<CNPJ>06929383000163</CNPJ>", "<CNPJ>06929383000164</CNPJ>"}},
  };
  for (const auto& [check, edit] : edits) {
    const Verification v = VerifyDocument(Replace(base, edit.first, edit.second));
    EXPECT_EQ(Failed(v), Checks({check})) << check << ": " << ::testing::PrintToString(v.failed);
  }
}

TEST(NfeVerifier, ProtocolStatusAndKeyAreChecked) {
  const std::string base = Fixture("01_procNFe_hom_signed_sped-nfe_layout4_com_prot.xml");
  EXPECT_EQ(Failed(VerifyDocument(Replace(base, "<cStat>100</cStat>", "<cStat>110</cStat>"))),
            Checks({"protocol_status:110"}));
  EXPECT_TRUE(VerifyDocument(Replace(base, "<cStat>100</cStat>", "<cStat>150</cStat>")).Valid());
  EXPECT_EQ(Failed(VerifyDocument(Replace(base, "<chNFe>43180906929383000163550010000000261000010301",
                                          "<chNFe>43180906929383000163550010000000261000010302"))),
            Checks({"protocol_key_mismatch"}));
}

TEST(NfeVerifier, KeyThatIsNotFortyFourDigits) {
  const std::string base = Fixture("01_procNFe_hom_signed_sped-nfe_layout4_com_prot.xml");
  const Verification v = VerifyDocument(Replace(base, "Id=\"NFe4318", "Id=\"NFe43X8"));
  EXPECT_TRUE(Failed(v).count("access_key_format")) << ::testing::PrintToString(v.failed);
}

TEST(NfeVerifier, NationalNfseKeyUsesTheSameCheckDigit) {
  std::string key49 = "1400159" "2" "1" "34128745000152" "00000000000000" "2" "2209" "123456" "00";
  key49 = key49.substr(0, 49);
  const std::string key = key49 + static_cast<char>('0' + Mod11CheckDigit(key49));
  const std::string good = "<NFSe xmlns=\"http://www.sped.fazenda.gov.br/nfse\"><infNFSe Id=\"NFS" + key +
                           "\"><nNFSe>2</nNFSe></infNFSe></NFSe>";
  Verification v = VerifyDocument(good);
  EXPECT_EQ(v.kind, DocumentKind::kNfse);
  EXPECT_EQ(v.access_key, key);
  EXPECT_TRUE(v.Valid()) << ::testing::PrintToString(v.failed);
  std::string bad = good;
  bad[bad.find(key) + 49] = key[49] == '9' ? '0' : static_cast<char>(key[49] + 1);
  EXPECT_EQ(Failed(VerifyDocument(bad)), Checks({"access_key_check_digit"}));
}

TEST(NfeVerifier, OtherXmlIsUnknown) {
  const Verification v = VerifyDocument("<?xml version=\"1.0\"?><html><body>blocked</body></html>");
  EXPECT_EQ(v.kind, DocumentKind::kUnknown);
  EXPECT_EQ(Failed(v), Checks({"unknown_document:html"}));
}

TEST(NfeAccessKey, WorkedExampleAndCounterExample) {
  EXPECT_EQ(Mod11CheckDigit("4318090692938300016355001000000026100001030"), 1);
  EXPECT_EQ(Mod11CheckDigit("2918103365767700015665001000165439900165439"), 8);
  EXPECT_TRUE(AccessKeyValid("43180906929383000163550010000000261000010301"));
  EXPECT_FALSE(AccessKeyValid("29181033657677000156650010001654399001654399"));
  EXPECT_FALSE(AccessKeyValid("4318090692938300016355001000000026100001030"));   // 43 digits
  EXPECT_FALSE(AccessKeyValid("4318090692938300016355001000000026100001030a"));  // a letter
  EXPECT_EQ(Mod11CheckDigit(""), -1);
  EXPECT_EQ(Mod11CheckDigit("12a"), -1);
  // Remainders 0 and 1 give 0.
  for (int n = 0; n < 2000; ++n) {
    std::string digits = std::to_string(1000000 + n);
    int sum = 0, w = 2;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
      sum += (*it - '0') * w;
      w = w == 9 ? 2 : w + 1;
    }
    const int expected = sum % 11 < 2 ? 0 : 11 - sum % 11;
    ASSERT_EQ(Mod11CheckDigit(digits), expected) << digits;
  }
  auto fields = SplitAccessKey("43180906929383000163550010000000261000010301");
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->cuf, "43");
  EXPECT_EQ(fields->aamm, "1809");
  EXPECT_EQ(fields->cnpj, "06929383000163");
  EXPECT_EQ(fields->mod, "55");
  EXPECT_EQ(fields->serie, "001");
  EXPECT_EQ(fields->nnf, "000000026");
  EXPECT_EQ(fields->tpemis, "1");
  EXPECT_EQ(fields->cnf, "00001030");
  EXPECT_EQ(fields->cdv, "1");
}

}  // namespace
}  // namespace fila::nfe
