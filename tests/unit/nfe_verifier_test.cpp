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
#include "nfe_fixtures.h"

namespace fila::nfe {
namespace {

using namespace fila::nfe::testing;


struct Expected {
  DocumentKind kind;
  std::string key;
  Checks failed;  // empty: valid
  std::string environment;
};

// Verdicts decided by reading each file, the mod-11 notes, and the xmlsec1
// command (xmlsec1 --verify on the same bytes; see the fixtures' README).
const std::map<std::string, Expected>& SampleVerdicts() {
  static const std::map<std::string, Expected> kVerdicts = {
      // Authorised (cStat 100), key consistent, homologation; its signature
      // no longer matches: the file was reformatted after signing.
      {"01_procNFe_hom_signed_sped-nfe_layout4_com_prot.xml",
       {DocumentKind::kNfeProc, "43180906929383000163550010000000261000010301", {"signature_invalid:digest"},
        "homologation"}},
      // Authorised, signed, the bytes as signed: valid.
      {"02_procNFe_hom_signed_VALID_41170706117473000150550010000463201612756527.xml",
       {DocumentKind::kNfeProc, "41170706117473000150550010000463201612756527", {}, "homologation"}},
      // Authorised in production, key consistent; reformatted after signing.
      {"03_procNFe_prod_signed_35180834128745000152550010000476051695511860.xml",
       {DocumentKind::kNfeProc, "35180834128745000152550010000476051695511860", {"signature_invalid:digest"},
        "production"}},
      // Authorised, key fine, but the <Signature> was removed.
      {"04_procNFe_prod_NO_SIGNATURE_42210775277525000178550030000266631762885493.xml",
       {DocumentKind::kNfeProc, "42210775277525000178550030000266631762885493", {"signature_missing"}, "production"}},
      // Bare NFC-e (no protocol); the key's digit says 9, mod 11 gives 8;
      // reformatted after signing.
      {"08_EDGE_NFCe_mod65_signed_BAD_check_digit.xml",
       {DocumentKind::kNfe, "29181033657677000156650010001654399001654399",
        {"access_key_check_digit", "signature_invalid:digest", "protocol_missing"}, "homologation"}},
      // Bare NFC-e as signed: only the protocol is missing.
      {"09_NFCe_mod65_signed_VALID_original_bytes.xml",
       {DocumentKind::kNfe, "53151158716523000119650010000001752000001754", {"protocol_missing"}, "homologation"}},
      // A cancellation request (envEvento in nfeDadosMsg): not an invoice,
      // never registered (no retEvento), and its author (93623057000128) is
      // not the issuer the key names (00822602000124). Its key's digit and
      // its signature are right.
      {"10_event_cancel_110111_signed_envEvento.xml",
       {DocumentKind::kEvent, "35150300822602000124550010009923461099234656",
        {"not_an_invoice", "event_author_mismatch", "event_not_registered"}, "homologation"}},
      // The same kind of request in a SOAP 1.2 envelope with a Header; its
      // key (model 65) has a wrong check digit, its signature is right.
      {"11_soap12_envEvento_cancel_110111_signed.xml",
       {DocumentKind::kEvent, "35150300822602000124650010009923461099234656",
        {"not_an_invoice", "access_key_check_digit", "event_author_mismatch", "event_not_registered"},
        "homologation"}},
      // SEFAZ's answer to a synchronous batch (cStat 104, protocol 100);
      // the key it names has a wrong check digit.
      {"12_retEnviNFe_authorised.xml",
       {DocumentKind::kResponse, "43211105730928000145650010000002401717268120",
        {"not_an_invoice", "access_key_check_digit"}, "homologation"}},
      {"13_soap12_retEnviNFe_authorised.xml",
       {DocumentKind::kResponse, "43211105730928000145650010000002401717268120",
        {"not_an_invoice", "access_key_check_digit"}, "homologation"}},
      // National NFS-e (50-digit key, right digit), both signatures broken
      // by the reformatting (tabs) of the published sample.
      {"20_NFSe_nacional_signed_reformatted.xml",
       {DocumentKind::kNfse, "14001591201761135000132000000000000022097781063609", {"signature_invalid:digest"},
        "homologation"}},
      {"21_DPS_unsigned.xml", {DocumentKind::kDps, "", {"not_an_invoice", "signature_missing"}, "homologation"}},
      {"22_pedRegEvento_cancel_unsigned.xml",
       {DocumentKind::kEvent, "14001591201761135000132000000000000022096100197260",
        {"not_an_invoice", "signature_missing", "event_not_registered"}, "homologation"}},
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
  // The reference check comes before the digest: the Id it names is gone.
  EXPECT_EQ(Failed(v), Checks({"key_vs_ide:tpEmis", "key_vs_ide:cDV", "signature_reference",
                               "protocol_key_mismatch"}));
}

TEST(NfeVerifier, EachIdeFieldIsComparedWithTheKey) {
  // Every edit inside <infNFe> also breaks the signature's digest.
  const std::string base = Fixture("02_procNFe_hom_signed_VALID_41170706117473000150550010000463201612756527.xml");
  const std::map<std::string, std::pair<std::string, std::string>> edits = {
      {"key_vs_ide:cUF", {"<cUF>41</cUF>", "<cUF>35</cUF>"}},
      {"key_vs_ide:nNF", {"<nNF>46320</nNF>", "<nNF>46321</nNF>"}},
      {"key_vs_ide:serie", {"<serie>1</serie>", "<serie>2</serie>"}},
      {"key_vs_ide:dhEmi", {"<dhEmi>2017-07-12", "<dhEmi>2017-08-12"}},
      {"key_vs_ide:cNF", {"<cNF>61275652</cNF>", "<cNF>61275653</cNF>"}},
      {"key_vs_ide:mod", {"<mod>55</mod>", "<mod>65</mod>"}},
      {"key_vs_ide:CNPJ", {"<CNPJ>06117473000150</CNPJ>", "<CNPJ>06117473000151</CNPJ>"}},
  };
  for (const auto& [check, edit] : edits) {
    const Verification v = VerifyDocument(Replace(base, edit.first, edit.second));
    EXPECT_EQ(Failed(v), Checks({check, "signature_invalid:digest"}))
        << check << ": " << ::testing::PrintToString(v.failed);
  }
}

TEST(NfeVerifier, ProtocolStatusAndKeyAreChecked) {
  // protNFe is outside the invoice's signature: edits there break no digest.
  const std::string base = Fixture("02_procNFe_hom_signed_VALID_41170706117473000150550010000463201612756527.xml");
  EXPECT_EQ(Failed(VerifyDocument(Replace(base, "<cStat>100</cStat>", "<cStat>110</cStat>"))),
            Checks({"protocol_status:110"}));
  EXPECT_TRUE(VerifyDocument(Replace(base, "<cStat>100</cStat>", "<cStat>150</cStat>")).Valid());
  EXPECT_EQ(Failed(VerifyDocument(Replace(base, "<chNFe>41170706117473000150550010000463201612756527",
                                          "<chNFe>41170706117473000150550010000463201612756528"))),
            Checks({"protocol_key_mismatch"}));
  // The protocol authorised another content than the one signed here.
  EXPECT_EQ(Failed(VerifyDocument(Replace(base, "<digVal>+GzukUqyGg3ksWFUU/e6HsguR0A=</digVal>",
                                          "<digVal>AAAAUqyGg3ksWFUU/e6HsguR0A=</digVal>"))),
            Checks({"protocol_digest_mismatch"}));
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
  // Unsigned and minimal: the key (its month matching dhProc) is checked.
  const std::string processed = "20" + key.substr(36, 2) + "-" + key.substr(38, 2) + "-01T10:00:00-03:00";
  const std::string good = "<NFSe xmlns=\"http://www.sped.fazenda.gov.br/nfse\"><infNFSe Id=\"NFS" + key +
                           "\"><nNFSe>2</nNFSe><dhProc>" + processed + "</dhProc></infNFSe></NFSe>";
  Verification v = VerifyDocument(good);
  EXPECT_EQ(v.kind, DocumentKind::kNfse);
  EXPECT_EQ(v.access_key, key);
  EXPECT_EQ(Failed(v), Checks({"signature_missing"}));
  std::string bad = good;
  bad[bad.find(key) + 49] = key[49] == '9' ? '0' : static_cast<char>(key[49] + 1);
  EXPECT_EQ(Failed(VerifyDocument(bad)), Checks({"access_key_check_digit", "signature_missing"}));
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
