// `fila nfe verify` as users run it: the fila binary on a folder of 200
// XMLs (copies of the real and synthetic fixtures, in nested folders), no
// database, broker or Omie; verdicts, exit status and speed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "support/harness.h"

namespace fila::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kFixtures = "/tests/fixtures/nfe/";

class NfeVerifyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fila_nfe_verify_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    // 150 valid invoices (two real-signed, one TEST-signed), 20 DPS whose
    // checks pass, 30 invalid: reformatted after signing, unsigned, garbage.
    Copy("02_procNFe_hom_signed_VALID_41170706117473000150550010000463201612756527.xml", "valid/a", 75);
    Copy("synthetic/s5_procNFe_prod_resigned_TEST_KEY.xml", "valid/b/c/d", 75);
    Copy("synthetic/s3_DPS_TEST_KEY.xml", "requests", 20);
    Copy("03_procNFe_prod_signed_35180834128745000152550010000476051695511860.xml", "bad/reformatted", 20);
    Copy("04_procNFe_prod_NO_SIGNATURE_42210775277525000178550030000266631762885493.xml", "bad/unsigned", 9);
    std::ofstream(dir_ / "bad" / "garbage.xml") << "\x89PNG not xml";
    std::ofstream(dir_ / "notes.txt") << "not an xml name: skipped";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Copy(const std::string& fixture, const std::string& sub, int n) {
    fs::create_directories(dir_ / sub);
    for (int i = 0; i < n; ++i) {
      fs::copy_file(SourceDir() + kFixtures + fixture, dir_ / sub / (std::to_string(i) + ".xml"));
    }
  }

  fs::path dir_;
};

TEST_F(NfeVerifyCli, FolderOf200XmlsGetsAVerdictEachAndFailsOnTheInvalid) {
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = RunFila("fila", {"nfe", "verify", "--json", dir_.string()});
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.Exited()) << r.err;
  EXPECT_EQ(r.ExitCode(), 1) << r.err;
  EXPECT_NE(r.err.find("30 of 200 files are invalid"), std::string::npos) << r.err;
  const json out = json::parse(r.out);
  const json& s = out["summary"];
  EXPECT_EQ(s["files"], 200);
  EXPECT_EQ(s["valid"], 150);
  EXPECT_EQ(s["not_an_invoice"], 20);
  EXPECT_EQ(s["invalid"], 30);
  EXPECT_EQ(s["unreadable"], 0);
  EXPECT_EQ(s["chain"], "not_checked");
  std::map<std::string, json> by_file;
  for (const json& f : out["files"]) by_file[f["file"]] = f;
  const json& reformatted = by_file.at((dir_ / "bad/reformatted/0.xml").string());
  EXPECT_EQ(reformatted["verdict"], "invalid");
  EXPECT_EQ(reformatted["failed"], json::array({"signature_invalid:digest"}));
  EXPECT_EQ(by_file.at((dir_ / "bad/unsigned/0.xml").string())["failed"], json::array({"signature_missing"}));
  EXPECT_EQ(by_file.at((dir_ / "bad/garbage.xml").string())["failed"], json::array({"well_formed"}));
  const json& valid = by_file.at((dir_ / "valid/b/c/d/3.xml").string());
  EXPECT_EQ(valid["verdict"], "valid");
  EXPECT_EQ(valid["signatures"][0]["status"], "valid");
  EXPECT_EQ(valid["signatures"][0]["chain"], "not_checked");
  EXPECT_EQ(by_file.at((dir_ / "requests/0.xml").string())["kind"], "dps");
  EXPECT_EQ(by_file.count((dir_ / "notes.txt").string()), 0u);
  const double verify_s = s["seconds"].get<double>();
  std::printf("[ metric ] fila nfe verify, 200 XMLs: %.3f s verifying (%.0f files/s), %.3f s for the whole "
              "process (%.0f files/s)\n",
              verify_s, 200 / verify_s, wall, 200 / wall);
}

TEST_F(NfeVerifyCli, TableAndExitZeroWhenNothingIsInvalid) {
  const RunResult r = RunFila("fila", {"nfe", "verify", (dir_ / "valid").string(), (dir_ / "requests/0.xml").string()});
  ASSERT_TRUE(r.Exited()) << r.err;
  EXPECT_EQ(r.ExitCode(), 0) << r.err << r.out;
  EXPECT_NE(r.out.find("VERDICT"), std::string::npos);
  EXPECT_NE(r.out.find("151 files: 150 valid, 1 not invoices"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("valid/rsa-sha1"), std::string::npos);
}

TEST_F(NfeVerifyCli, TrustBundleChecksTheChain) {
  const std::string bundle = SourceDir() + kFixtures + "synthetic/test_ca_cert.pem";
  const RunResult r =
      RunFila("fila", {"nfe", "verify", "--json", "--trust-bundle", bundle, (dir_ / "valid").string()});
  ASSERT_TRUE(r.Exited()) << r.err;
  // The TEST-signed copies chain to the TEST CA; the real ICP-Brasil ones do not.
  EXPECT_EQ(r.ExitCode(), 1);
  const json out = json::parse(r.out);
  EXPECT_EQ(out["summary"]["valid"], 75);
  EXPECT_EQ(out["summary"]["invalid"], 75);
  const RunResult missing = RunFila("fila", {"nfe", "verify", "--trust-bundle", "/nonexistent/b.pem", dir_.string()});
  EXPECT_EQ(missing.ExitCode(), 2) << missing.err;
}

TEST_F(NfeVerifyCli, MissingPathsAreReportedNotFatal) {
  const RunResult r = RunFila("fila", {"nfe", "verify", (dir_ / "nope.xml").string(), (dir_ / "valid/a/0.xml").string()});
  ASSERT_TRUE(r.Exited()) << r.err;
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_NE(r.out.find("unreadable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no such file or folder"), std::string::npos) << r.out;
  const RunResult none = RunFila("fila", {"nfe", "verify"});
  EXPECT_EQ(none.ExitCode(), 2) << none.err;
}

}  // namespace
}  // namespace fila::test
