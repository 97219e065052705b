#pragma once

// The fake tribunal (tests/fake_tribunal) and a diario.process fixture
// (database, scheduler, worker) shared by the diario integration tests.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/harness.h"

namespace fila::diario_test {

using namespace std::chrono_literals;
using test::Process;
using test::RunFila;
using test::TestDatabase;
using Json = nlohmann::json;

inline constexpr const char* kGazette = "tjro_dj_20250624_pages48-72.pdf";

inline std::string Fixtures() { return test::SourceDir() + "/tests/fixtures/diarios"; }

// tests/fake_tribunal/fake_tribunal.py on a port the OS picks.
class FakeTribunal final {
 public:
  explicit FakeTribunal(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{test::SourceDir() + "/tests/fake_tribunal/fake_tribunal.py",
                                  "--root", Fixtures(), "--date", std::string("2025-06-24=") + kGazette,
                                  "--blocked-page", Fixtures() + "/tjro_dj_20240720_blocked_html_saved_as.pdf",
                                  // DJEN: three real TJRJ publications, two written for the tests.
                                  "--djen", "TJRJ=2025-06-23=eval/dev/djen_tjrj_20250623-20250929.txt",
                                  "--djen", "TJXX=2025-06-24=djen_written_for_tests.txt"};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<test::Process>("/usr/bin/python3", args);
    test::WaitFor([&] { return ReadPort() > 0; }, 10s);
  }
  int port() const { return port_; }
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  Json Stats() const {
    auto r = test::Http("GET", Url("/stats"));
    return Json::parse(r.body.empty() ? "{}" : r.body);
  }

 private:
  // From its first line, "listening on <port>".
  int ReadPort() {
    std::istringstream in(process_->Stdout());
    std::string word;
    in >> word >> word >> port_;
    return port_;
  }
  std::unique_ptr<test::Process> process_;
  int port_ = 0;
};

class DiarioProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(tribunal_.port(), 0) << "fake tribunal did not start";
    db_ = std::make_unique<TestDatabase>();
    queue_ = test::RandomName("diario");
    archive_ = std::filesystem::temp_directory_path() / test::RandomName("diario_archive_");
    env_ = {{"FILA_DATABASE_URL", db_->url()},
            {"FILA_AMQP_URL", test::Stack().amqp_url},
            {"FILA_LOG_LEVEL", "info"},
            {"FILA_DIARIO_TJRO_URL", tribunal_.Url("/diario/{yyyymmdd}.pdf")},
            {"FILA_DIARIO_ARCHIVE", archive_.string()},
            {"FILA_DIARIO_MIN_INTERVAL_MS", "50"},
            // A block page or 429 pauses the host for every worker: briefly here.
            {"FILA_DIARIO_HOST_BACKOFF_MS", "100"},
            // Payload urls name the fake tribunal: allowed as the real one
            // (an external host) would be; the template is the operator's.
            {"FILA_EGRESS_ALLOW", "127.0.0.1:" + std::to_string(tribunal_.port())}};
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(archive_, ec);
  }

  void Start(int concurrency = 2, std::map<std::string, std::string> extra = {}) {
    auto env = env_;
    for (auto& [k, v] : extra) env[k] = v;
    scheduler_ = std::make_unique<Process>("fila-scheduler", std::vector<std::string>{}, env);
    worker_ = std::make_unique<Process>(
        "fila-worker", std::vector<std::string>{"--queues", queue_, "--concurrency", std::to_string(concurrency)},
        env);
  }

  std::string Enqueue(const Json& payload, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"enqueue", "diario.process", "--queue", queue_, "--payload-json", payload.dump(),
                                  "--retry-base-ms", "50", "--retry-cap-ms", "200"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = RunFila("fila", args, env_);
    EXPECT_EQ(r.ExitCode(), 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }

  std::string State(const std::string& id) { return db_->Scalar("SELECT state FROM tasks WHERE id = '" + id + "'"); }

  void WaitDone(const std::vector<std::string>& ids, std::chrono::milliseconds timeout = 90s) {
    ASSERT_TRUE(test::WaitTerminal(*db_, ids, timeout)) << (worker_ ? worker_->Stderr() : "");
  }

  Json Result(const std::string& id) {
    return Json::parse(db_->Scalar("SELECT convert_from(result, 'UTF8') FROM tasks WHERE id = '" + id + "'"));
  }
  std::string LastError(const std::string& id) {
    return db_->Scalar("SELECT coalesce(last_error, '') FROM tasks WHERE id = '" + id + "'");
  }
  std::string Outcome(const std::string& number) {
    return db_->Scalar("SELECT outcome FROM diario_decisions WHERE process_number = '" + number +
                       "' AND decision_text <> '' ORDER BY seq LIMIT 1");
  }

  FakeTribunal tribunal_;
  std::unique_ptr<TestDatabase> db_;
  std::string queue_;
  std::filesystem::path archive_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<Process> scheduler_;
  std::unique_ptr<Process> worker_;
};

}  // namespace fila::diario_test
