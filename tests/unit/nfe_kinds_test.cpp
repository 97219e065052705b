// One test per document kind users meet: each is named and checked as far
// as its layout allows (real samples of tests/fixtures/nfe; synthetic ones
// of tests/fixtures/nfe/synthetic, signed with a TEST key).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "fila/nfe/access_key.h"
#include "fila/nfe/verifier.h"
#include "nfe_fixtures.h"

namespace fila::nfe {
namespace {

using namespace fila::nfe::testing;

std::string Between(const std::string& text, const std::string& open, const std::string& close) {
  const size_t from = text.find(open);
  const size_t to = text.find(close, from);
  EXPECT_NE(from, std::string::npos) << open;
  return text.substr(from, to + close.size() - from);
}

std::set<std::string> Statuses(const Verification& v) {
  std::set<std::string> s;
  for (const auto& sig : v.signatures) s.insert(sig.status);
  return s;
}

const std::string kEvent10 = "10_event_cancel_110111_signed_envEvento.xml";

TEST(NfeKinds, NfeProcAndBareNfe) {
  Verification v = VerifyDocument(Fixture("02_procNFe_hom_signed_VALID_41170706117473000150550010000463201612756527.xml"));
  EXPECT_EQ(v.kind, DocumentKind::kNfeProc);
  EXPECT_EQ(v.model, "55");
  EXPECT_TRUE(v.Valid());
  v = VerifyDocument(Fixture("synthetic/s1_NFe_rsa-sha256_TEST_KEY.xml"));
  EXPECT_EQ(v.kind, DocumentKind::kNfe);
  EXPECT_EQ(Failed(v), Checks({"protocol_missing"}));
}

TEST(NfeKinds, NfceIsModel65) {
  const Verification v = VerifyDocument(Fixture("09_NFCe_mod65_signed_VALID_original_bytes.xml"));
  EXPECT_EQ(v.kind, DocumentKind::kNfe);
  EXPECT_EQ(v.model, "65");
  EXPECT_EQ(Statuses(v), std::set<std::string>{"valid"});
  EXPECT_EQ(Failed(v), Checks({"protocol_missing"}));
}

TEST(NfeKinds, NfeProcWhoseIdLacksThePrefixIsStillComparedWithIde) {
  const std::string base = Fixture("02_procNFe_hom_signed_VALID_41170706117473000150550010000463201612756527.xml");
  std::string xml = Replace(base, "Id=\"NFe4117", "Id=\"4117");
  xml = Replace(xml, "<nNF>46320</nNF>", "<nNF>46321</nNF>");
  const Verification v = VerifyDocument(xml);
  EXPECT_EQ(v.access_key, "41170706117473000150550010000463201612756527");
  EXPECT_TRUE(Failed(v).count("access_key_format")) << ::testing::PrintToString(v.failed);
  EXPECT_TRUE(Failed(v).count("key_vs_ide:nNF")) << ::testing::PrintToString(v.failed);
}

TEST(NfeKinds, EventRequestEnvEvento) {
  const Verification v = VerifyDocument(Fixture(kEvent10));
  EXPECT_EQ(v.kind, DocumentKind::kEvent);
  EXPECT_EQ(v.root, "envEvento");
  EXPECT_EQ(v.event_type, "110111");
  EXPECT_EQ(Statuses(v), std::set<std::string>{"valid"});
}

TEST(NfeKinds, ProcEventoNfeIsARegisteredEvent) {
  // Synthetic: the real signed <evento> of sample 10 with a retEvento
  // (cStat 135) written here, as a procEventoNFe is assembled.
  const std::string evento = Between(Fixture(kEvent10), "<evento", "</evento>");
  const std::string ret =
      "<retEvento versao=\"1.00\"><infEvento><tpAmb>2</tpAmb><cStat>135</cStat>"
      "<chNFe>35150300822602000124550010009923461099234656</chNFe><tpEvento>110111</tpEvento></infEvento></retEvento>";
  const std::string proc = "<procEventoNFe xmlns=\"http://www.portalfiscal.inf.br/nfe\" versao=\"1.00\">" + evento +
                           ret + "</procEventoNFe>";
  Verification v = VerifyDocument(proc);
  EXPECT_EQ(v.kind, DocumentKind::kEvent);
  EXPECT_EQ(v.root, "procEventoNFe");
  EXPECT_EQ(Statuses(v), std::set<std::string>{"valid"});
  EXPECT_EQ(Failed(v), Checks({"not_an_invoice", "event_author_mismatch"}));
  v = VerifyDocument(Replace(proc, "<cStat>135</cStat>", "<cStat>573</cStat>"));
  EXPECT_TRUE(Failed(v).count("event_not_registered"));
}

TEST(NfeKinds, Soap12EnvelopeIsReadAtTheBodyNotTheHeader) {
  // The real request has a Header; its event verifies only as the Body's
  // payload detached from the envelope's namespace declarations.
  const Verification v = VerifyDocument(Fixture("11_soap12_envEvento_cancel_110111_signed.xml"));
  EXPECT_EQ(v.envelope, "soap1.2");
  EXPECT_EQ(v.kind, DocumentKind::kEvent);
  EXPECT_EQ(v.event_type, "110111");
  EXPECT_EQ(Statuses(v), std::set<std::string>{"valid"});
}

TEST(NfeKinds, Soap11EnvelopeWithAHeader) {
  // Synthetic envelope around the real request of sample 10; the Header
  // carries an element named like the payload to catch a wrong unwrap.
  std::string inner = Fixture(kEvent10);
  inner = inner.substr(inner.find("<nfeDadosMsg"));
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\""
      " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soap:Header><nfeCabecMsg "
      "xmlns=\"http://www.portalfiscal.inf.br/nfe/wsdl/NFeRecepcaoEvento4\"><envEvento/></nfeCabecMsg></soap:Header>"
      "<soap:Body>" + inner + "</soap:Body></soap:Envelope>";
  const Verification v = VerifyDocument(xml);
  EXPECT_EQ(v.envelope, "soap1.1");
  EXPECT_EQ(v.access_key, "35150300822602000124550010009923461099234656");
  EXPECT_EQ(Statuses(v), std::set<std::string>{"valid"});
  EXPECT_EQ(Failed(v), Checks({"not_an_invoice", "event_author_mismatch", "event_not_registered"}));
}

TEST(NfeKinds, EnvelopeWithoutBody) {
  const Verification v = VerifyDocument(
      "<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Header/></soap:Envelope>");
  EXPECT_EQ(Failed(v), Checks({"soap_body_missing"}));
}

TEST(NfeKinds, RetEnviNfeKeysAndStatusAreChecked) {
  for (const std::string name : {"12_retEnviNFe_authorised.xml", "13_soap12_retEnviNFe_authorised.xml"}) {
    const std::string xml = Fixture(name);
    Verification v = VerifyDocument(xml);
    EXPECT_EQ(v.kind, DocumentKind::kResponse) << name;
    EXPECT_EQ(v.root, "retEnviNFe");
    EXPECT_EQ(v.model, "65");
    // The published key's digit is wrong; fixed, only not_an_invoice stays.
    const std::string fixed = Replace(xml, "43211105730928000145650010000002401717268120",
                                      "43211105730928000145650010000002401717268129");
    EXPECT_EQ(Failed(VerifyDocument(fixed)), Checks({"not_an_invoice"})) << name;
    EXPECT_TRUE(VerifyDocument(fixed).SoundButNotAnInvoice());
    EXPECT_EQ(Failed(VerifyDocument(Replace(fixed, "<cStat>100</cStat>", "<cStat>539</cStat>"))),
              Checks({"not_an_invoice", "protocol_status:539"}));
  }
}

TEST(NfeKinds, RetConsSitNfeComparesTheAskedKeyWithItsProtocol) {
  // Synthetic: the layout of retConsSitNFe 4.00 around the real protocol of sample 02.
  const std::string prot =
      Between(Fixture("02_procNFe_hom_signed_VALID_41170706117473000150550010000463201612756527.xml"), "<protNFe",
              "</protNFe>");
  const std::string xml =
      "<retConsSitNFe xmlns=\"http://www.portalfiscal.inf.br/nfe\" versao=\"4.00\"><tpAmb>2</tpAmb><cStat>100</cStat>"
      "<cUF>41</cUF><chNFe>41170706117473000150550010000463201612756527</chNFe>" + prot + "</retConsSitNFe>";
  Verification v = VerifyDocument(xml);
  EXPECT_EQ(v.kind, DocumentKind::kResponse);
  EXPECT_EQ(v.access_key, "41170706117473000150550010000463201612756527");
  EXPECT_EQ(Failed(v), Checks({"not_an_invoice"}));
  v = VerifyDocument(Replace(xml, "<chNFe>41170706117473000150550010000463201612756527</chNFe><protNFe",
                             "<chNFe>41170706117473000150550010000463201612756519</chNFe><protNFe"));
  EXPECT_EQ(Failed(v), Checks({"not_an_invoice", "protocol_key_mismatch"}));
}

TEST(NfeKinds, NationalNfseKeyAndBothSignatures) {
  Verification v = VerifyDocument(Fixture("synthetic/s2_NFSe_nacional_TEST_KEY.xml"));
  EXPECT_EQ(v.kind, DocumentKind::kNfse);
  EXPECT_EQ(v.access_key.size(), 50u);
  EXPECT_EQ(v.issuer_cnpj, "01761135000132");
  ASSERT_EQ(v.signatures.size(), 2u);
  EXPECT_EQ(Statuses(v), std::set<std::string>{"valid"});
  EXPECT_TRUE(v.Valid()) << ::testing::PrintToString(v.failed);
  // The published sample: same key, two signatures broken by reformatting.
  v = VerifyDocument(Fixture("20_NFSe_nacional_signed_reformatted.xml"));
  EXPECT_EQ(v.signatures.size(), 2u);
  EXPECT_EQ(Failed(v), Checks({"signature_invalid:digest"}));
  // The provider's CNPJ against the key (the DPS's signature still holds).
  const std::string edited = Replace(Fixture("synthetic/s2_NFSe_nacional_TEST_KEY.xml"),
                                     "<emit>\n\t\t\t<CNPJ>01761135000132", "<emit>\n\t\t\t<CNPJ>01761135000133");
  EXPECT_EQ(Failed(VerifyDocument(edited)), Checks({"key_vs_nfse:CNPJ", "signature_invalid:digest"}));
}

TEST(NfeKinds, DpsIsARequestNotAnInvoice) {
  const std::string xml = Fixture("synthetic/s3_DPS_TEST_KEY.xml");
  Verification v = VerifyDocument(xml);
  EXPECT_EQ(v.kind, DocumentKind::kDps);
  EXPECT_FALSE(v.Valid());
  EXPECT_EQ(Failed(v), Checks({"not_an_invoice"}));
  EXPECT_TRUE(v.SoundButNotAnInvoice());
  v = VerifyDocument(Replace(xml, "<nDPS>6</nDPS>", "<nDPS>7</nDPS>"));
  EXPECT_EQ(Failed(v), Checks({"not_an_invoice", "dps_id_mismatch:nDPS", "signature_invalid:digest"}));
}

TEST(NfeKinds, NfseEventRequest) {
  const std::string xml = Fixture("synthetic/s4_pedRegEvento_TEST_KEY.xml");
  Verification v = VerifyDocument(xml);
  EXPECT_EQ(v.kind, DocumentKind::kEvent);
  EXPECT_EQ(v.root, "pedRegEvento");
  EXPECT_EQ(v.event_type, "101101");
  EXPECT_EQ(v.access_key, "14001591201761135000132000000000000022096100197260");
  EXPECT_EQ(Statuses(v), std::set<std::string>{"valid"});
  EXPECT_EQ(Failed(v), Checks({"not_an_invoice", "event_not_registered"}));
  v = VerifyDocument(Replace(xml, "<CNPJAutor>01761135000132", "<CNPJAutor>01761135000133"));
  EXPECT_EQ(Failed(v), Checks({"not_an_invoice", "event_not_registered", "event_author_mismatch",
                               "signature_invalid:digest"}));
}

}  // namespace
}  // namespace fila::nfe
