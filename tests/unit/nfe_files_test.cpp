// nfe.download's files: atomic writes, the per-document store stage, the
// zip with its manifest and the upload to a folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "file_store.h"
#include "stages.h"
#include "uploader.h"
#include "nfe_fixtures.h"
#include "zip_batch.h"

#include "fila/test_support/scripted_server.h"

namespace fila::nfe {
namespace {

namespace fs = std::filesystem;

using testing::Fixture;

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/nfe_" + name + "_" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

class KeyedStore final : public DocumentStore {
 public:
  void Upsert(const DocumentRow& row) override {
    std::lock_guard lock(mutex_);
    rows[row.doc_key] = row;
    ++calls;
  }
  std::map<std::string, DocumentRow> rows;
  int calls = 0;

 private:
  std::mutex mutex_;
};

TEST(NfeFiles, Sha256OfKnownInput) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(NfeFiles, AtomicWriteReplacesAndLeavesNoTemporary) {
  const std::string dir = FreshDir("atomic");
  const std::string path = dir + "/a/b/doc.xml";
  WriteFileAtomically(path, "first");
  WriteFileAtomically(path, "second");
  EXPECT_EQ(ReadFile(path), "second");
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir + "/a/b")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(NfeFiles, SafeRelativePaths) {
  EXPECT_TRUE(SafeRelativePath("acme"));
  EXPECT_TRUE(SafeRelativePath("clientes/acme"));
  for (const char* bad : {"", "/etc", "../x", "a/../b", "a//b", "./a", "a/"}) {
    EXPECT_FALSE(SafeRelativePath(bad)) << bad;
  }
}

TEST(NfeFiles, StoreWritesBytesUnchangedUnderCnpjAndMonthAndIsIdempotent) {
  const std::string root = FreshDir("store");
  KeyedStore rows;
  StoreContext c{root, "acme", "acme", "task-1", ParsePeriod("2018-08"), &rows};
  const std::string bytes = Fixture("synthetic/s5_procNFe_prod_resigned_TEST_KEY.xml");
  const Verification v = VerifyDocument(bytes);
  StoredDocument d = StoreDocument(c, {"99", "", "", std::nullopt}, bytes, v);
  EXPECT_EQ(d.relative_path, "acme/34128745000152/2018-08/35180834128745000152550010000476051695511860.xml");
  EXPECT_EQ(ReadFile(root + "/" + d.relative_path), bytes);
  EXPECT_EQ(d.sha256, Sha256Hex(bytes));
  const auto mtime = fs::last_write_time(root + "/" + d.relative_path);
  StoredDocument again = StoreDocument(c, {"99", "", "", std::nullopt}, bytes, v);
  EXPECT_EQ(again.relative_path, d.relative_path);
  EXPECT_EQ(fs::last_write_time(root + "/" + d.relative_path), mtime);
  ASSERT_EQ(rows.rows.size(), 1u);
  const DocumentRow& row = rows.rows.begin()->second;
  EXPECT_EQ(row.doc_key, "35180834128745000152550010000476051695511860");
  EXPECT_TRUE(row.valid);
  EXPECT_EQ(row.size_bytes, static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(row.kind, "nfeProc");
}

TEST(NfeFiles, InvalidAndKeylessDocumentsAreStoredWithTheirChecks) {
  const std::string root = FreshDir("invalid");
  KeyedStore rows;
  StoreContext c{root, "acme", "acme", "task-1", ParsePeriod("2021-07"), &rows};
  const std::string unsigned_doc =
      Fixture("04_procNFe_prod_NO_SIGNATURE_42210775277525000178550030000266631762885493.xml");
  StoreDocument(c, {"1", "", "", std::nullopt}, unsigned_doc, VerifyDocument(unsigned_doc));
  const std::string broken = "<nfeProc><NFe>";
  StoredDocument d = StoreDocument(c, {"2", "", "", std::nullopt}, broken, VerifyDocument(broken));
  EXPECT_EQ(d.relative_path, "acme/sem-cnpj/2021-07/omie-2.xml");
  EXPECT_EQ(ReadFile(root + "/" + d.relative_path), broken);
  ASSERT_EQ(rows.rows.size(), 2u);
  EXPECT_EQ(rows.rows["42210775277525000178550030000266631762885493"].failed_checks,
            std::vector<std::string>{"signature_missing"});
  EXPECT_EQ(rows.rows["omie:2"].failed_checks, std::vector<std::string>{"well_formed"});
}

TEST(NfeFiles, ZipHoldsEveryFileAndTheManifest) {
  const std::string dir = FreshDir("zip");
  WriteFileAtomically(dir + "/a.xml", "<a/>");
  WriteFileAtomically(dir + "/b.xml", "<b/>");
  const std::string zip = dir + "/out/batch.zip";
  WriteZip(zip, {{"X/2026-01/a.xml", dir + "/a.xml"}, {"X/2026-01/b.xml", dir + "/b.xml"}}, R"({"n":2})");
  auto names = ZipNames(zip);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"X/2026-01/a.xml", "X/2026-01/b.xml", "manifest.json"}));
  EXPECT_EQ(ZipRead(zip, "X/2026-01/b.xml"), "<b/>");
  EXPECT_EQ(ZipRead(zip, "manifest.json"), R"({"n":2})");
  EXPECT_FALSE(fs::exists(zip + ".tmp"));
  EXPECT_THROW(WriteZip(dir + "/bad.zip", {{"c.xml", dir + "/missing.xml"}}, "{}"), TransientError);
}

TEST(NfeFiles, UploadToAFolderUnderTheRoot) {
  const std::string root = FreshDir("upload");
  WriteFileAtomically(root + "/z.zip", "PK-bytes");
  auto http = MakeHttpClient();
  UploadResult r = UploadZip(*http, root + "/z.zip", "acme_2026-01.zip", "entregas/acme", root, "",
                             DeadlineIn(std::chrono::seconds(5)), nullptr);
  EXPECT_EQ(ReadFile(root + "/entregas/acme/acme_2026-01.zip"), "PK-bytes");
  EXPECT_EQ(r.target, "entregas/acme/acme_2026-01.zip");
  EXPECT_THROW(UploadZip(*http, root + "/z.zip", "x.zip", "../elsewhere", root, "",
                         DeadlineIn(std::chrono::seconds(5)), nullptr),
               PermanentError);
}

TEST(NfeFiles, UploadsKeepTheZipAndTheTokenAtTheBoundOrigin) {
  const std::string root = FreshDir("upload_http");
  WriteFileAtomically(root + "/z.zip", "PK-bytes");
  test::ScriptedServer elsewhere([](const std::string&) { return test::Answer(201, ""); });
  test::ScriptedServer dav([&](const std::string&) { return test::RedirectTo(elsewhere.Base() + "/x.zip", 307); });
  auto upload = [&](HttpClient& http) {
    try {
      UploadZip(http, root + "/z.zip", "x.zip", dav.Base() + "/dav", root, "upload-token",
                DeadlineIn(std::chrono::seconds(5)), nullptr);
    } catch (const PermanentError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // The target lies under an upload target an operator bound to the
  // tenant (the handler checks that first): its origin is reachable with
  // no allow entry, like the operator's Omie URL. It redirects the PUT
  // elsewhere: neither the zip nor the token follows, allowed or not.
  auto strict = MakeHttpClient(EgressPolicy());
  EXPECT_NE(upload(*strict).find("not resent elsewhere"), std::string::npos) << upload(*strict);
  ASSERT_EQ(dav.Requests().size(), 1u);
  EXPECT_EQ(test::HeaderOf(dav.Requests()[0], "authorization"), "Bearer upload-token");
  auto allowed = MakeHttpClient(EgressPolicy::Parse("127.0.0.1:" + std::to_string(dav.port()) + ",127.0.0.1:" +
                                                    std::to_string(elsewhere.port())));
  EXPECT_NE(upload(*allowed).find("not resent elsewhere"), std::string::npos) << upload(*allowed);
  EXPECT_TRUE(elsewhere.Requests().empty());
}

}  // namespace
}  // namespace fila::nfe
