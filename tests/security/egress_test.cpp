// Finding 2, server-side request forgery: a producer names a URL that points
// behind the workers (their own metrics, the broker's management API, an
// external host that redirects inward) and reads the answer back as its
// document or in an error. Every case runs against a real scheduler and
// worker; each must be refused with nothing stored and no byte of the
// internal answer in any error (docs/security/egress.md).
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <sstream>

#include "security_fixture.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;

// Bytes the internal services answer with: none may reach the database.
const std::vector<std::string> kMetricsMarkers{"# HELP", "# TYPE", "fila_build_info"};
const std::vector<std::string> kRabbitMarkers{"rabbitmq_version", "management_version", "cluster_name"};

// The RabbitMQ management port of the stack, or 0 when it is disabled
// (scripts/stack up with FILA_STACK_MGMT=0).
int ManagementPort() {
  std::string text;
  if (const char* v = std::getenv("FILA_STACK_MGMT_PORT"); v != nullptr && *v != '\0') {
    text = std::string("FILA_STACK_MGMT_PORT=") + v;
  } else {
    text = StackOutput("env");
  }
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(R"(FILA_STACK_MGMT_PORT=['"]?(\d+))"))) return 0;
  return std::stoi(m[1].str());
}

// A loopback server standing in for an external host: every request gets a
// redirect to `target` (tests/security/redirect_server.py).
class Redirector final {
 public:
  explicit Redirector(const std::string& target) {
    process_ = std::make_unique<Process>(
        "/usr/bin/python3",
        std::vector<std::string>{SourceDir() + "/tests/security/redirect_server.py", target});
    WaitFor([&] { return Port() > 0; }, 10s);
  }
  int Port() const {
    std::istringstream in(process_->Stdout());
    std::string listening, on;
    int port = 0;
    in >> listening >> on >> port;
    return port;
  }
  // How many requests reached it.
  int Requests() const {
    const std::string out = process_->Stdout();
    int n = 0;
    for (size_t p = 0; (p = out.find("request ", p)) != std::string::npos; ++p) ++n;
    return n;
  }

 private:
  std::unique_ptr<Process> process_;
};

class Egress : public SecurityTest {
 protected:
  void SetUp() override {
    SecurityTest::SetUp();
    producer_ = Token("acme", "producer");
    metrics_port_ = FreePort();
    metrics_ = "http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics";
  }

  // A worker on document and diario whose metrics serve on metrics_port_.
  void StartEgressWorker(std::map<std::string, std::string> env = {}) {
    env.emplace("FILA_LOG_LEVEL", "warn");
    Process& w = StartWorker({"--queues", "document,diario", "--concurrency", "4", "--metrics-listen",
                              "127.0.0.1:" + std::to_string(metrics_port_)},
                             env);
    ASSERT_TRUE(WaitFor([&] { return Http("GET", metrics_).status == 200; }, 20s)) << w.Stderr();
    // The internal service really holds the marker the attacks look for.
    ASSERT_NE(Http("GET", metrics_).body.find("fila_build_info"), std::string::npos);
  }

  std::string Ingest(const std::string& url, const std::string& document_id) {
    return Enqueue(producer_, R"({"type":"document.ingest","queue":"document","max_attempts":1,)"
                              R"("args":{"url":")" + url + R"(","owner":"mallory","document_id":")" +
                                  document_id + R"("}})");
  }

  std::string LastError(const std::string& id) const {
    return db_->Scalar("SELECT coalesce(last_error, '') FROM tasks WHERE id = '" + id + "'");
  }
  std::string AttemptErrors(const std::string& id) const {
    return db_->Scalar("SELECT coalesce(string_agg(coalesce(error, ''), ' | '), '') FROM task_attempts "
                       "WHERE task_id = '" + id + "'");
  }

  void WaitAll(const std::vector<std::string>& ids) {
    ASSERT_TRUE(WaitTerminal(*db_, ids, 60s)) << (workers_.empty() ? "" : workers_.back()->Stderr());
  }

  // Refused for good, by the policy, with no byte of the answer kept.
  void ExpectBlocked(const std::string& id, const std::string& what,
                     const std::vector<std::string>& markers) {
    const std::string error = LastError(id);
    EXPECT_EQ(State(id), "failed") << what << ": " << error;
    EXPECT_NE(error.find("blocked by the egress policy"), std::string::npos) << what << ": " << error;
    const std::string all = error + " " + AttemptErrors(id) +
                            db_->Scalar("SELECT coalesce(convert_from(result, 'UTF8'), '') FROM tasks "
                                        "WHERE id = '" + id + "'");
    for (const auto& marker : markers) {
      EXPECT_EQ(all.find(marker), std::string::npos) << what << " leaked \"" << marker << "\": " << all;
    }
  }

  // No document row, and the knowledge base finds nothing.
  void ExpectNothingStored(const std::vector<std::string>& markers) {
    EXPECT_EQ(db_->Count("SELECT count(*) FROM documents"), 0);
    EXPECT_EQ(db_->Count("SELECT count(*) FROM document_chunks"), 0);
    for (const auto& marker : markers) {
      auto r = Fila({"search", marker, "--json", "--tenant", "acme"});
      EXPECT_EQ(r.ExitCode(), 0) << r.err;
      EXPECT_EQ(r.out.find(marker), std::string::npos) << r.out;
      EXPECT_EQ(r.out.find("\"text\""), std::string::npos) << r.out;
    }
  }

  std::string producer_;
  int metrics_port_ = 0;
  std::string metrics_;
};

TEST_F(Egress, IngestOfTheWorkersOwnMetricsIsRefusedInEveryAddressForm) {
  StartEgressWorker();
  const std::string port = std::to_string(metrics_port_);
  const std::vector<std::pair<std::string, std::string>> forms{
      {"ipv4", "http://127.0.0.1:" + port + "/metrics"},
      {"name", "http://localhost:" + port + "/metrics"},
      {"unspecified", "http://0.0.0.0:" + port + "/metrics"},
      {"v4-mapped", "http://[::ffff:127.0.0.1]:" + port + "/metrics"},
      {"decimal", "http://2130706433:" + port + "/metrics"},
  };
  std::vector<std::string> ids;
  for (const auto& [name, url] : forms) ids.push_back(Ingest(url, "metrics-" + name));
  WaitAll(ids);
  for (size_t i = 0; i < ids.size(); ++i) ExpectBlocked(ids[i], forms[i].second, kMetricsMarkers);
  ExpectNothingStored({"fila_build_info"});
}

TEST_F(Egress, IngestOfTheRabbitMqManagementApiIsRefused) {
  const int port = ManagementPort();
  if (port == 0) GTEST_SKIP() << "the stack runs without the RabbitMQ management API (FILA_STACK_MGMT=0)";
  const std::string url = "http://guest:guest@127.0.0.1:" + std::to_string(port) + "/api/overview";
  ASSERT_NE(Http("GET", url).body.find("rabbitmq_version"), std::string::npos) << "management API not up";
  StartEgressWorker();
  const std::string id = Ingest(url, "rabbit");
  WaitAll({id});
  ExpectBlocked(id, url, kRabbitMarkers);
  EXPECT_EQ(LastError(id).find("guest:guest"), std::string::npos) << LastError(id);
  ExpectNothingStored({"rabbitmq_version"});
}

TEST_F(Egress, ARedirectFromAnAllowedHostToLoopbackIsRefused) {
  Redirector outside(metrics_);
  ASSERT_GT(outside.Port(), 0) << "redirector did not start";
  const std::string allowed = "127.0.0.1:" + std::to_string(outside.Port());
  // The redirector is allowlisted as if it were an external host; the
  // metrics port is not.
  StartEgressWorker({{"FILA_EGRESS_ALLOW", allowed}});
  const std::string id = Ingest("http://" + allowed + "/report.txt", "bounced");
  WaitAll({id});
  EXPECT_EQ(outside.Requests(), 1);
  ExpectBlocked(id, "redirect to " + metrics_, kMetricsMarkers);
  ExpectNothingStored({"fila_build_info"});
}

TEST_F(Egress, ClosedAndOpenInternalPortsLookTheSame) {
  StartEgressWorker();
  const std::string closed = "http://127.0.0.1:" + std::to_string(FreePort()) + "/probe";
  const std::string open = "http://127.0.0.1:" + std::to_string(metrics_port_) + "/probe";
  const std::string a = Ingest(closed, "closed");
  const std::string b = Ingest(open, "open");
  WaitAll({a, b});
  std::string closed_error = LastError(a);
  std::string open_error = LastError(b);
  // The same text once each URL is taken out: no port-scan oracle.
  for (auto* e : {&closed_error, &open_error}) {
    for (const auto& url : {closed, open}) {
      for (size_t p; (p = e->find(url)) != std::string::npos;) e->replace(p, url.size(), "<url>");
    }
    *e = std::regex_replace(*e, std::regex(":[0-9]+"), ":<port>");
  }
  EXPECT_EQ(State(a), State(b));
  EXPECT_EQ(closed_error, open_error);
  ExpectBlocked(a, closed, {});
  ExpectBlocked(b, open, kMetricsMarkers);
}

TEST_F(Egress, DiarioUrlOfAnInternalServiceEchoesNothing) {
  StartEgressWorker();
  const std::string id = Enqueue(
      producer_, R"({"type":"diario.process","queue":"diario","max_attempts":1,)"
                 R"("args":{"tribunal":"tjro","url":")" + metrics_ + R"("}})");
  WaitAll({id});
  ExpectBlocked(id, metrics_, kMetricsMarkers);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_gazettes"), 0);
}

TEST_F(Egress, UrlsOver8KiBAreRefusedBeforeAnythingIsFetched) {
  Redirector outside(metrics_);
  ASSERT_GT(outside.Port(), 0) << "redirector did not start";
  const std::string allowed = "127.0.0.1:" + std::to_string(outside.Port());
  StartEgressWorker({{"FILA_EGRESS_ALLOW", allowed}});
  const std::string url = "http://" + allowed + "/" + std::string(9000, 'a');
  const std::string doc = Ingest(url, "long");
  const std::string gazette = Enqueue(
      producer_, R"({"type":"diario.process","queue":"diario","max_attempts":1,)"
                 R"("args":{"tribunal":"tjro","url":")" + url + R"("}})");
  WaitAll({doc, gazette});
  EXPECT_EQ(outside.Requests(), 0);
  for (const auto& id : {doc, gazette}) {
    const std::string error = LastError(id);
    EXPECT_EQ(State(id), "failed") << error;
    EXPECT_NE(error.find("8192"), std::string::npos) << error;
    EXPECT_LT(error.size(), 1024u) << "the error quotes the URL";
  }
}

}  // namespace
}  // namespace fila::test
