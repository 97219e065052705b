// nfe.download through the real queue (PostgreSQL, RabbitMQ, fila-scheduler,
// fila-worker) against the fake Omie server of tests/fake_omie.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "fila/core/task_types.h"
#include "fila/extensions/extensions.h"
#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/tenant_store_pg.h"
#include "file_store.h"
#include "support/harness.h"
#include "zip_batch.h"


namespace fila {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// The fake Omie server as a child process (/usr/bin/python3).
class FakeOmie final {
 public:
  explicit FakeOmie(std::vector<std::string> args) {
    args.insert(args.begin(), test::SourceDir() + "/tests/fake_omie/fake_omie.py");
    process_ = std::make_unique<test::Process>("/usr/bin/python3", args);
    test::WaitFor([&] { return !Url().empty(); }, 10s);
  }
  // "http://127.0.0.1:PORT", "" until it listens.
  std::string Url() const {
    std::istringstream in(process_->Stdout());
    std::string line;
    const std::string prefix = "fake-omie listening on ";
    while (std::getline(in, line)) {
      if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    }
    return {};
  }
  json Get(const std::string& path) const {
    auto r = test::Http("GET", Url() + path);
    EXPECT_EQ(r.status, 200) << path;
    return json::parse(r.body, nullptr, false);
  }
  // What it printed (stdout and stderr).
  std::string Log() const { return process_->Stdout() + process_->Stderr(); }

 private:
  std::unique_ptr<test::Process> process_;
};

class NfeDownload : public ::testing::Test {
 protected:
  void SetUp() override {
    InstallExtensions(BuiltinExtensions());  // nfe.download's payload, to enqueue
    db_ = std::make_unique<test::TestDatabase>();
    queue_ = test::RandomName("nfe");
    root_ = ::testing::TempDir() + "/" + test::RandomName("nferoot");
    fs::create_directories(root_ + "/secrets");
    // One account's secret from a file, the other's from the environment.
    std::ofstream(root_ + "/secrets/FILA_OMIE_ACME_APP_SECRET") << "acme-secret\n";
    // What an operator binds: the accounts each tenant may export.
    Bind("default", "omie_account", "acme");
    Bind("default", "omie_account", "nobody");
    Bind("escritorio", "omie_account", "beta");
  }
  void Bind(const std::string& tenant, const std::string& kind, const std::string& value) {
    MakePostgresTenantStore(db_->url())->Bind(tenant, kind, value);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(root_);
  }

  std::map<std::string, std::string> Env(const FakeOmie& omie, std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env = {{"FILA_DATABASE_URL", db_->url()},
                                              {"FILA_AMQP_URL", test::Stack().amqp_url},
                                              {"FILA_NFE_ROOT", root_},
                                              {"FILA_SECRETS_DIR", root_ + "/secrets"},
                                              {"FILA_OMIE_API_URL", omie.Url() + "/api/v1"},
                                              {"FILA_OMIE_ACME_APP_KEY", "acme-key"},
                                              {"FILA_OMIE_BETA_APP_KEY", "beta-key"},
                                              {"FILA_OMIE_BETA_APP_SECRET", "beta-secret"},
                                              {"FILA_OMIE_TIMEOUT_MS", "1000"},
                                              // The fake's WebDAV is a payload's upload target: allowed
                                              // as an external host would be (the API is the operator's).
                                              {"FILA_EGRESS_ALLOW", omie.Url().substr(std::string("http://").size())}};
    for (auto& [k, v] : extra) env[k] = v;
    return env;
  }

  // A scheduler and `workers` worker processes of `slots` slots each.
  void Start(const std::map<std::string, std::string>& env, int slots = 4, int workers = 1) {
    scheduler_ = std::make_unique<test::Process>("fila-scheduler", std::vector<std::string>{}, env);
    for (int w = 0; w < workers; ++w) {
      workers_.push_back(std::make_unique<test::Process>(
          "fila-worker",
          std::vector<std::string>{"--queues", queue_, "--concurrency", std::to_string(slots), "--worker-id",
                                   "w" + std::to_string(w)},
          env));
    }
    worker_ = workers_.front().get();
  }

  std::string Enqueue(const json& payload, const std::string& tenant = "default") {
    PostgresStore store(db_->url());
    TaskTypes types = TaskTypes::Builtin();
    NewTask t;
    t.type = "nfe.download";
    t.queue = queue_;
    t.max_attempts = 3;
    t.timeout_ms = 180000;
    t.tenant = tenant;
    t.payload = types.PayloadFromJson("nfe.download", payload.dump());
    return store.Enqueue(std::vector<NewTask>{t}).at(0).id;
  }

  std::string State(const std::string& id) {
    return db_->Scalar("SELECT state FROM tasks WHERE id = '" + id + "'");
  }
  bool WaitTerminal(const std::string& id, std::chrono::milliseconds timeout) {
    return test::WaitFor([&] {
      auto s = State(id);
      return s == "succeeded" || s == "failed" || s == "dead" || s == "cancelled";
    }, timeout);
  }
  json Report(const std::string& id) {
    return json::parse(db_->Scalar("SELECT convert_from(result, 'UTF8') FROM tasks WHERE id = '" + id + "'"),
                       nullptr, false);
  }
  std::string Diagnostics(const std::string& id, const FakeOmie& omie) {
    return "state " + State(id) + ", last_error " +
           db_->Scalar("SELECT coalesce(last_error, '') FROM tasks WHERE id = '" + id + "'") + "\n" +
           [&] {
             std::string logs;
             for (const auto& w : workers_) logs += "worker:\n" + w->Stderr().substr(0, 10000) + "\n";
             return logs;
           }() +
           "fake:\n" + omie.Log().substr(0, 4000);
  }
  int CountXmlFiles(const std::string& folder) {
    int n = 0;
    if (!fs::exists(folder)) return 0;
    for (const auto& e : fs::recursive_directory_iterator(folder)) {
      if (e.is_regular_file() && e.path().extension() == ".xml") ++n;
    }
    return n;
  }

  std::unique_ptr<test::TestDatabase> db_;
  std::string queue_;
  std::string root_;
  std::unique_ptr<test::Process> scheduler_;
  std::vector<std::unique_ptr<test::Process>> workers_;
  test::Process* worker_ = nullptr;
};

TEST_F(NfeDownload, TwoHundredInvoicesWithFaultsAreStoredOnceZippedUploadedAndReported) {
  // Pages capped at 50 (100 asked), every fault kind on a schedule, a stall
  // past the 1 s client timeout, a 2 s outage after 120 requests. Two months
  // of one account run at once on two worker processes: each task would
  // send 4 requests at once, the account allows 3 in all (the limiter is
  // shared by the workers).
  FakeOmie omie({"--account", "acme:acme-key:acme-secret", "--invoices", "200", "--period", "2026-10",
                 "--period", "2026-11", "--page-cap", "50", "--faults", "--latency-ms", "5", "--stall-ms",
                 "1500", "--outage-after", "120", "--outage-seconds", "2", "--max-concurrent", "3"});
  ASSERT_FALSE(omie.Url().empty()) << omie.Log();
  Start(Env(omie, {{"FILA_OMIE_MAX_CONCURRENT", "3"}, {"FILA_OMIE_REQUESTS_PER_MINUTE", "60000"}}), 1, 2);
  Bind("default", "upload_target", omie.Url() + "/dav");
  const json payload = {{"account", "acme"}, {"period", "2026-10"}, {"page_size", 100},
                        {"destination", "clientes/acme"}, {"upload", omie.Url() + "/dav"}};
  json november = payload;
  november["period"] = "2026-11";
  const std::string id = Enqueue(payload);
  const std::string other = Enqueue(november);
  ASSERT_TRUE(WaitTerminal(id, 150s)) << Diagnostics(id, omie);
  ASSERT_EQ(State(id), "succeeded") << Diagnostics(id, omie);
  ASSERT_TRUE(WaitTerminal(other, 60s)) << Diagnostics(other, omie);
  ASSERT_EQ(State(other), "succeeded") << Diagnostics(other, omie);
  // The two months really ran side by side, on both workers.
  EXPECT_EQ(db_->Count("SELECT count(DISTINCT worker) FROM tasks WHERE id IN ('" + id + "', '" + other + "')"), 2);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks a JOIN tasks b ON a.id = '" + id + "' AND b.id = '" + other +
                       "' WHERE a.started_at < b.finished_at AND b.started_at < a.finished_at"),
            1);

  const json report = Report(id);
  ASSERT_TRUE(report.is_object()) << Diagnostics(id, omie);
  EXPECT_EQ(report["listed"], 200) << report.dump(2);
  EXPECT_EQ(report["downloaded"], 200);
  EXPECT_EQ(report["valid"], 200);
  EXPECT_EQ(report["invalid_count"], 0) << report["invalid"].dump(2);
  EXPECT_EQ(report["empty_count"], 0);
  EXPECT_EQ(report["missing_count"], 0) << report["missing"].dump(2);
  EXPECT_EQ(Report(other)["valid"], 200) << Report(other).dump(2);
  // The faults really happened and were ridden out.
  const json stats = omie.Get("/_stats");
  for (const char* fault : {"redundant", "rate", "html502", "inflight", "stall", "outage"}) {
    EXPECT_GT(stats["faults"].value(fault, 0), 0) << fault << " never injected: " << stats.dump();
  }
  EXPECT_GT(report["requests"]["waits"].get<int>() + Report(other)["requests"]["waits"].get<int>(), 0);
  EXPECT_GT(report["requests"]["retries"].get<int>() + Report(other)["requests"]["retries"].get<int>(), 0);
  // The account's limit held across both workers, and requests did overlap up to it.
  EXPECT_EQ(stats["violations"], 0) << stats.dump();
  EXPECT_LE(stats["max_concurrent"]["acme"].get<int>(), 3) << stats.dump();
  EXPECT_GE(stats["max_concurrent"]["acme"].get<int>(), 2) << stats.dump();
  EXPECT_GE(stats["by_method"]["ObterNfe"].get<int>(), 400);

  // Stored once: 200 rows and 200 files a month, each file's digest the row's.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM nfe_documents WHERE account = 'acme' AND period = '2026-10'"), 200);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM nfe_documents WHERE account = 'acme' AND period = '2026-10' AND valid "
                       "AND failed_checks = '{}' AND tenant = 'default' AND task_id = '" + id + "'"),
            200);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM nfe_documents WHERE account = 'acme' AND period = '2026-11'"), 200);
  EXPECT_EQ(db_->Count("SELECT count(DISTINCT sha256) FROM nfe_documents WHERE account = 'acme'"), 400);
  // Every file of the tenant lives under its own folder.
  const std::string tenant_root = root_ + "/default";
  EXPECT_EQ(CountXmlFiles(tenant_root + "/clientes/acme/34128745000152/2026-10"), 200);
  EXPECT_EQ(CountXmlFiles(root_ + "/clientes"), 0);
  EXPECT_EQ(CountXmlFiles(tenant_root + "/clientes/acme"), 400);
  for (const auto& row : db_->Rows("SELECT path, sha256, size_bytes, doc_key, period FROM nfe_documents "
                                   "WHERE account = 'acme' ORDER BY doc_key LIMIT 20")) {
    const std::string bytes = nfe::ReadFile(tenant_root + "/" + row[0]);
    EXPECT_EQ(nfe::Sha256Hex(bytes), row[1]) << row[0];
    EXPECT_EQ(std::to_string(bytes.size()), row[2]);
    EXPECT_EQ(row[0], "clientes/acme/34128745000152/" + row[4] + "/" + row[3] + ".xml");
  }

  // The zip: every XML plus the manifest, and the same bytes were uploaded
  // (after one 503: the upload retried).
  const std::string zip = tenant_root + "/" + report["zip"]["path"].get<std::string>();
  auto names = nfe::ZipNames(zip);
  EXPECT_EQ(names.size(), 201u);
  const json manifest = json::parse(nfe::ZipRead(zip, "manifest.json"));
  EXPECT_EQ(manifest["documents"].size(), 200u);
  EXPECT_EQ(manifest["summary"]["valid"], 200);
  std::map<std::string, json> uploads;
  for (const json& u : omie.Get("/_uploads")) uploads[u["name"]] = u;
  ASSERT_EQ(uploads.size(), 2u);
  ASSERT_TRUE(uploads.count("acme_2026-10.zip"));
  EXPECT_EQ(uploads["acme_2026-10.zip"]["sha256"], nfe::Sha256Hex(nfe::ReadFile(zip)));
  EXPECT_EQ(uploads["acme_2026-10.zip"]["attempts"], 2);
  EXPECT_EQ(uploads["acme_2026-11.zip"]["attempts"], 2);
  EXPECT_EQ(report["upload"]["status"], 201);

  // A re-run of the month changes nothing: same rows, same files.
  const std::string first_path = db_->Scalar(
      "SELECT path FROM nfe_documents WHERE period = '2026-10' ORDER BY doc_key LIMIT 1");
  const auto mtime = fs::last_write_time(tenant_root + "/" + first_path);
  const std::string again = Enqueue(payload);
  ASSERT_TRUE(WaitTerminal(again, 150s)) << Diagnostics(again, omie);
  ASSERT_EQ(State(again), "succeeded") << Diagnostics(again, omie);
  EXPECT_EQ(Report(again)["valid"], 200);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM nfe_documents WHERE account = 'acme'"), 400);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM nfe_documents WHERE task_id = '" + again + "'"), 200);
  EXPECT_EQ(CountXmlFiles(tenant_root + "/clientes/acme"), 400);
  EXPECT_EQ(fs::last_write_time(tenant_root + "/" + first_path), mtime);
  EXPECT_EQ(omie.Get("/_stats")["violations"], 0);
  // No secret in any log line.
  for (const auto& w : workers_) {
    for (const char* secret : {"acme-secret", "acme-key"}) {
      EXPECT_EQ(w->Stderr().find(secret), std::string::npos) << secret << " logged";
      EXPECT_EQ(scheduler_->Stderr().find(secret), std::string::npos) << secret << " logged";
    }
  }
}

TEST_F(NfeDownload, ReportNamesInvalidEmptyAndMissingDocuments) {
  // Through ListarDocumentos (XML inline; ObterNfe when cXml is empty),
  // without nTotPaginas: the pages are counted from nTotRegistros.
  FakeOmie omie({"--account", "beta:beta-key:beta-secret", "--invoices", "5", "--period", "2026-10",
                 "--extras", "--page-cap", "3", "--omit-total-pages"});
  ASSERT_FALSE(omie.Url().empty()) << omie.Log();
  Start(Env(omie));
  const std::string id = Enqueue({{"account", "beta"}, {"period", "2026-10"}, {"page_size", 3},
                                  {"destination", "beta"}, {"listing", "ListarDocumentos"}, {"upload", "entregas"}},
                                 "escritorio");
  ASSERT_TRUE(WaitTerminal(id, 60s)) << Diagnostics(id, omie);
  ASSERT_EQ(State(id), "succeeded") << Diagnostics(id, omie);
  const json r = Report(id);
  EXPECT_EQ(r["listed"], 10) << r.dump(2);
  EXPECT_EQ(r["downloaded"], 9);
  EXPECT_EQ(r["valid"], 5);
  EXPECT_EQ(r["empty_count"], 1);
  EXPECT_EQ(r["empty"][0]["omie_id"], "5900010");
  EXPECT_EQ(r["missing_count"], 1);
  EXPECT_EQ(r["missing"][0]["omie_id"], "5900011");
  EXPECT_NE(r["missing"][0]["reason"].get<std::string>().find("não encontrado"), std::string::npos);
  ASSERT_EQ(r["invalid_count"], 3);
  std::map<std::string, std::set<std::string>> reasons;
  for (const json& bad : r["invalid"]) {
    reasons[bad["omie_id"]] = bad["reasons"].get<std::set<std::string>>();
  }
  EXPECT_EQ(reasons["5900000"], (std::set<std::string>{"signature_missing"}));
  // Sample 08 as published: reformatted after signing, so its digest fails too.
  EXPECT_EQ(reasons["5900001"],
            (std::set<std::string>{"access_key_check_digit", "protocol_missing", "signature_invalid:digest"}));
  EXPECT_EQ(reasons["5900002"], (std::set<std::string>{"not_an_invoice", "event_author_mismatch", "event_not_registered"}));
  // Invalid documents are kept, with their failed checks recorded.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM nfe_documents"), 8);
  // Rows belong to the tenant of the task that stored them.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM nfe_documents WHERE tenant = 'escritorio'"), 8);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM nfe_documents WHERE NOT valid"), 3);
  EXPECT_EQ(db_->Scalar("SELECT array_to_string(failed_checks, ',') FROM nfe_documents "
                        "WHERE doc_key = '42210775277525000178550030000266631762885493'"),
            "signature_missing");
  EXPECT_EQ(nfe::ZipNames(root_ + "/escritorio/beta/lotes/beta_2026-10.zip").size(), 9u);
  EXPECT_EQ(nfe::ReadFile(root_ + "/escritorio/entregas/beta_2026-10.zip"),
            nfe::ReadFile(root_ + "/escritorio/beta/lotes/beta_2026-10.zip"));
  EXPECT_GE(omie.Get("/_stats")["by_method"]["ListarDocumentos"].get<int>(), 4);
}

TEST_F(NfeDownload, BadKeyFailsAtOnceWithAClearMessage) {
  FakeOmie omie({"--account", "acme:the-real-key:acme-secret", "--invoices", "3"});
  ASSERT_FALSE(omie.Url().empty()) << omie.Log();
  Start(Env(omie));
  const std::string id = Enqueue({{"account", "acme"}, {"period", "2026-10"}, {"destination", "acme"}});
  ASSERT_TRUE(WaitTerminal(id, 60s)) << Diagnostics(id, omie);
  EXPECT_NE(State(id), "succeeded");
  EXPECT_EQ(db_->Scalar("SELECT attempt FROM tasks WHERE id = '" + id + "'"), "1");
  const std::string error = db_->Scalar("SELECT last_error FROM tasks WHERE id = '" + id + "'");
  EXPECT_NE(error.find("rejected the app key"), std::string::npos) << error;
  EXPECT_EQ(error.find("acme-key"), std::string::npos) << error;
  EXPECT_EQ(error.find("acme-secret"), std::string::npos) << error;
  // Missing credentials: also permanent, without naming where the worker
  // keeps its secrets.
  const std::string nobody = Enqueue({{"account", "nobody"}, {"period", "2026-10"}, {"destination", "x"}});
  ASSERT_TRUE(WaitTerminal(nobody, 60s));
  const std::string nobody_error = db_->Scalar("SELECT last_error FROM tasks WHERE id = '" + nobody + "'");
  EXPECT_NE(nobody_error.find("has no credentials"), std::string::npos) << nobody_error;
  EXPECT_EQ(nobody_error.find("FILA_"), std::string::npos) << nobody_error;
  // An account not bound to the tenant is refused by the worker too.
  const std::string unbound = Enqueue({{"account", "beta"}, {"period", "2026-10"}, {"destination", "x"}});
  ASSERT_TRUE(WaitTerminal(unbound, 60s));
  EXPECT_NE(db_->Scalar("SELECT last_error FROM tasks WHERE id = '" + unbound + "'").find("not bound"),
            std::string::npos);
  // A destination outside the root is refused before any request.
  const std::string escape = Enqueue({{"account", "acme"}, {"period", "2026-10"}, {"destination", "../x"}});
  ASSERT_TRUE(WaitTerminal(escape, 60s));
  EXPECT_NE(db_->Scalar("SELECT last_error FROM tasks WHERE id = '" + escape + "'").find("destination"),
            std::string::npos);
}

// Figure for the notes: invoices/s end to end (enqueue to succeeded) with
// 50 ms per call, the account allowing 4 concurrent requests and no rate
// limit (Omie's real 240 requests/minute would bound it at 4/s).
TEST_F(NfeDownload, ThroughputWithFiftyMillisecondsPerCall) {
  FakeOmie omie({"--account", "acme:acme-key:acme-secret", "--invoices", "200", "--latency-ms", "50",
                 "--page-cap", "100", "--max-concurrent", "4"});
  ASSERT_FALSE(omie.Url().empty()) << omie.Log();
  Start(Env(omie, {{"FILA_OMIE_REQUESTS_PER_MINUTE", "1000000"}, {"FILA_OMIE_MAX_CONCURRENT", "4"}}));
  ASSERT_TRUE(test::WaitFor([&] { return worker_->Stderr().find("consuming") != std::string::npos; }, 30s));
  const auto start = std::chrono::steady_clock::now();
  const std::string id = Enqueue({{"account", "acme"}, {"period", "2026-10"}, {"page_size", 100},
                                  {"destination", "acme"}, {"upload", "entregas"}});
  ASSERT_TRUE(WaitTerminal(id, 120s)) << Diagnostics(id, omie);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(State(id), "succeeded") << Diagnostics(id, omie);
  const json r = Report(id);
  EXPECT_EQ(r["valid"], 200);
  EXPECT_EQ(omie.Get("/_stats")["violations"], 0);
  std::printf("[ metric ] nfe.download, 200 invoices, 50 ms per call, 4 concurrent: %.2f s enqueue to "
              "succeeded (%.1f invoices/s); handler %.2f s (%.1f invoices/s); %d requests\n",
              seconds, 200 / seconds, r["seconds"].get<double>(), 200 / r["seconds"].get<double>(),
              r["requests"]["total"].get<int>());
}

}  // namespace
}  // namespace fila
