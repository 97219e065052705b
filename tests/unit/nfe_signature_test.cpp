// XML-DSig verification of the NF-e verifier (xmlsec1): one byte changed
// in the signed content, one byte of the SignatureValue, the unchanged
// original, and the same bytes given to the xmlsec1 command.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "fila/nfe/verifier.h"
#include "nfe_fixtures.h"

namespace fila::nfe {
namespace {

using namespace fila::nfe::testing;

const std::string kValid = "02_procNFe_hom_signed_VALID_41170706117473000150550010000463201612756527.xml";
const std::string kSha256 = "synthetic/s1_NFe_rsa-sha256_TEST_KEY.xml";

bool HaveXmlsec1() { return std::system("xmlsec1 --version >/dev/null 2>&1") == 0; }

// What the xmlsec1 command says of these bytes: true when it verifies.
// Same-document references only, Id registered on the signed element,
// the embedded certificate trusted as is (as the verifier does without a
// bundle).
bool Xmlsec1Verifies(const std::string& bytes, const std::string& signed_element) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("fila_nfe_sig_" + std::to_string(::getpid()) + ".xml");
  {
    std::ofstream out(file, std::ios::binary);
    out << bytes;
  }
  const std::string command = "xmlsec1 --verify --enabled-reference-uris same-doc --id-attr:Id " + signed_element +
                              " --insecure '" + file.string() + "' >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  std::filesystem::remove(file);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(NfeSignature, UnchangedOriginalIsValidAndXmlsec1Agrees) {
  const std::string xml = Fixture(kValid);
  const Verification v = VerifyDocument(xml);
  EXPECT_TRUE(v.Valid()) << ::testing::PrintToString(v.failed);
  ASSERT_EQ(v.signatures.size(), 1u);
  EXPECT_EQ(v.signatures[0].status, "valid");
  EXPECT_EQ(v.signatures[0].algorithm, "rsa-sha1");
  EXPECT_EQ(v.signatures[0].element, "NFe41170706117473000150550010000463201612756527");
  EXPECT_NE(v.signatures[0].signer.find("UNIMAKE"), std::string::npos) << v.signatures[0].signer;
  EXPECT_EQ(v.signatures[0].chain, "not_checked");
  if (!HaveXmlsec1()) GTEST_SKIP() << "the xmlsec1 command is not installed (package xmlsec1)";
  EXPECT_TRUE(Xmlsec1Verifies(xml, "infNFe"));
}

TEST(NfeSignature, OneByteChangedInsideTheInvoiceIsADigestMismatch) {
  // One digit of the product's value: 84.90 -> 84.91.
  const std::string xml = Replace(Fixture(kValid), "<vProd>84.90</vProd>", "<vProd>84.91</vProd>");
  const Verification v = VerifyDocument(xml);
  EXPECT_EQ(Failed(v), std::set<std::string>{"signature_invalid:digest"});
  ASSERT_EQ(v.signatures.size(), 1u);
  EXPECT_NE(v.signatures[0].detail.find("changed after signing"), std::string::npos);
  if (!HaveXmlsec1()) GTEST_SKIP() << "the xmlsec1 command is not installed (package xmlsec1)";
  EXPECT_FALSE(Xmlsec1Verifies(xml, "infNFe"));
}

TEST(NfeSignature, OneByteOfTheSignatureValueIsAnInvalidSignature) {
  const std::string original = Fixture(kValid);
  const std::string tag = "<SignatureValue>";
  const size_t at = original.find(tag) + tag.size() + 10;
  std::string xml = original;
  xml[at] = xml[at] == 'A' ? 'B' : 'A';
  const Verification v = VerifyDocument(xml);
  EXPECT_EQ(Failed(v), std::set<std::string>{"signature_invalid:value"});
  if (!HaveXmlsec1()) GTEST_SKIP() << "the xmlsec1 command is not installed (package xmlsec1)";
  EXPECT_FALSE(Xmlsec1Verifies(xml, "infNFe"));
}

TEST(NfeSignature, ReformattedAfterSigningIsADigestMismatchForBoth) {
  // The published sample 03 went through xmllint --format after signing.
  const std::string xml = Fixture("03_procNFe_prod_signed_35180834128745000152550010000476051695511860.xml");
  EXPECT_EQ(Failed(VerifyDocument(xml)), std::set<std::string>{"signature_invalid:digest"});
  if (!HaveXmlsec1()) GTEST_SKIP() << "the xmlsec1 command is not installed (package xmlsec1)";
  EXPECT_FALSE(Xmlsec1Verifies(xml, "infNFe"));
}

TEST(NfeSignature, RsaSha256IsVerified) {
  const Verification v = VerifyDocument(Fixture(kSha256));
  EXPECT_EQ(Failed(v), std::set<std::string>{"protocol_missing"});
  ASSERT_EQ(v.signatures.size(), 1u);
  EXPECT_EQ(v.signatures[0].status, "valid");
  EXPECT_EQ(v.signatures[0].algorithm, "rsa-sha256");
  const std::string edited = Replace(Fixture(kSha256), "<vProd>84.90</vProd>", "<vProd>84.91</vProd>");
  EXPECT_EQ(Failed(VerifyDocument(edited)), (std::set<std::string>{"signature_invalid:digest", "protocol_missing"}));
}

TEST(NfeSignature, ChainIsCheckedAgainstTheOperatorsBundle) {
  VerifyOptions trusted{.trust_bundle = FixturePath("synthetic/test_ca_cert.pem")};
  Verification v = VerifyDocument(Fixture(kSha256), trusted);
  ASSERT_EQ(v.signatures.size(), 1u);
  EXPECT_EQ(v.signatures[0].chain, "trusted");
  EXPECT_EQ(Failed(v), std::set<std::string>{"protocol_missing"});

  VerifyOptions other{.trust_bundle = FixturePath("synthetic/other_ca_cert.pem")};
  v = VerifyDocument(Fixture(kSha256), other);
  EXPECT_EQ(v.signatures[0].status, "valid");
  EXPECT_EQ(v.signatures[0].chain.rfind("untrusted: ", 0), 0u) << v.signatures[0].chain;
  EXPECT_EQ(Failed(v), (std::set<std::string>{"protocol_missing", "certificate_untrusted"}));

  // A real ICP-Brasil signer is not under the test CA.
  v = VerifyDocument(Fixture(kValid), trusted);
  EXPECT_EQ(Failed(v), std::set<std::string>{"certificate_untrusted"});

  VerifyOptions missing{.trust_bundle = FixturePath("synthetic/no_such_bundle.pem")};
  v = VerifyDocument(Fixture(kSha256), missing);
  EXPECT_NE(v.signatures[0].chain.find("cannot load the trust bundle"), std::string::npos);
}

TEST(NfeSignature, OnlyTheSignedElementMayBeReferenced) {
  const std::string base = Fixture(kValid);
  const std::string uri = "URI=\"#NFe41170706117473000150550010000463201612756527\"";
  // A URL is never fetched: the reference is refused before xmlsec runs.
  for (const std::string& other : {std::string("URI=\"http://127.0.0.1:1/x.xml\""), std::string("URI=\"\""),
                                   std::string("URI=\"file:///etc/passwd\"")}) {
    const Verification v = VerifyDocument(Replace(base, uri, other));
    EXPECT_EQ(Failed(v), std::set<std::string>{"signature_reference"}) << other;
  }
  // Signature wrapping: a second element with the signed Id.
  const std::string wrapped =
      Replace(base, "</nfeProc>", "<x Id=\"NFe41170706117473000150550010000463201612756527\"/></nfeProc>");
  const Verification v = VerifyDocument(wrapped);
  EXPECT_EQ(Failed(v), std::set<std::string>{"signature_reference"});
  EXPECT_NE(v.signatures[0].detail.find("more than one"), std::string::npos);
}

TEST(NfeSignature, UnsupportedAlgorithmsAndMissingCertificateAreNamed) {
  const std::string base = Fixture(kValid);
  EXPECT_EQ(Failed(VerifyDocument(Replace(base, "xmldsig#rsa-sha1", "xmldsig#dsa-sha1"))),
            std::set<std::string>{"signature_unsupported:dsa-sha1"});
  // XSLT would run a producer's program inside the worker.
  const std::string c14n = "<CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"";
  const std::string xslt = "http://www.w3.org/TR/1999/REC-xslt-19991116";
  EXPECT_EQ(Failed(VerifyDocument(Replace(base, c14n, "<CanonicalizationMethod Algorithm=\"" + xslt + "\""))),
            std::set<std::string>{"signature_unsupported:" + xslt});
  const size_t from = base.find("<X509Data>");
  const size_t to = base.find("</X509Data>") + std::string("</X509Data>").size();
  ASSERT_NE(from, std::string::npos);
  std::string no_cert = base;
  no_cert.erase(from, to - from);
  EXPECT_EQ(Failed(VerifyDocument(no_cert)), std::set<std::string>{"signature_malformed:certificate"});
  std::string bad_cert = base;
  bad_cert.replace(base.find("<X509Certificate>") + 17, 8, "!!!!!!!!");
  EXPECT_EQ(Failed(VerifyDocument(bad_cert)), std::set<std::string>{"signature_malformed:certificate"});
}

}  // namespace
}  // namespace fila::nfe
