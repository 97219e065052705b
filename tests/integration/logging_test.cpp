// The daemons' logs: one JSON object per line on stderr, task lines carry
// the task's fields, and no secret (a password in a URL, an API token)
// reaches a log line or a metric.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <sstream>

#include "support/harness.h"

namespace fila {
namespace {

using namespace std::chrono_literals;
using test::Process;

// Every line of `text` as a JSON object; a line that is not one fails.
std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
    if (!j.is_object()) continue;
    for (const char* key : {"ts", "level", "proc", "msg"}) {
      EXPECT_TRUE(j.contains(key)) << key << " missing in " << line;
    }
    lines.push_back(std::move(j));
  }
  return lines;
}

// `url` with `password` put in as the user's password (trust auth ignores it).
std::string WithPassword(const std::string& url, const std::string& password) {
  const auto scheme = url.find("://") + 3;
  const auto at = url.find('@', scheme);
  if (at == std::string::npos) return url.substr(0, scheme) + "fila:" + password + "@" + url.substr(scheme);
  const auto colon = url.find(':', scheme);
  const auto user_end = colon != std::string::npos && colon < at ? colon : at;
  return url.substr(0, user_end) + ":" + password + url.substr(at);
}

TEST(Logging, StartupFailureLogsJsonWithoutThePasswords) {
  const std::string pg_secret = "pg-Secret-4711";
  const std::string amqp_secret = "amqp-Secret-4712";
  const auto port = std::to_string(test::FreePort());  // nothing listens there
  auto r = test::RunFila(
      "fila-worker", {"--startup-timeout", "1"},
      {{"FILA_DATABASE_URL", "postgresql://fila:" + pg_secret + "@127.0.0.1:" + port + "/x"},
       {"FILA_AMQP_URL", "amqp://fila:" + amqp_secret + "@127.0.0.1:" + port + "/"}});
  EXPECT_EQ(r.ExitCode(), 1) << r.err;
  const auto lines = JsonLines(r.err);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["level"], "error") << r.err;
  EXPECT_EQ(lines.back()["proc"], "fila-worker");
  EXPECT_EQ(r.err.find(pg_secret), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(amqp_secret), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("***"), std::string::npos) << "the URL is shown, masked: " << r.err;
}

TEST(Logging, BadLevelOrFormatIsAUsageError) {
  EXPECT_EQ(test::RunFila("fila-worker", {"--log-level", "loud"}).ExitCode(), 2);
  EXPECT_EQ(test::RunFila("fila-scheduler", {"--log-format", "xml"}).ExitCode(), 2);
}

TEST(Logging, TaskLinesCarryTaskFieldsAndNoSecretReachesLogsOrMetrics) {
  test::TestDatabase db;
  const std::string pg_secret = "pg-Secret-4713";
  const std::string queue = test::RandomName("log");
  std::map<std::string, std::string> env{
      {"FILA_DATABASE_URL", WithPassword(db.url(), pg_secret)},
      {"FILA_AMQP_URL", test::Stack().amqp_url},
      {"FILA_LOG_LEVEL", "debug"}};
  auto token_run = test::RunFila("fila", {"tokens", "create", "--tenant", "acme", "--role", "producer"},
                                 {{"FILA_DATABASE_URL", db.url()}});
  ASSERT_EQ(token_run.ExitCode(), 0) << token_run.err;
  const std::string token = token_run.out.substr(0, token_run.out.find('\n'));
  // Producers use their types' default queues and the ones bound to them.
  ASSERT_EQ(test::RunFila("fila", {"tenants", "bind", "acme", "queue", queue}, {{"FILA_DATABASE_URL", db.url()}})
                .ExitCode(),
            0);
  const int api_port = test::FreePort();
  auto scheduler_env = env;
  scheduler_env["FILA_API_LISTEN"] = "127.0.0.1:" + std::to_string(api_port);
  Process scheduler("fila-scheduler", {}, scheduler_env);
  Process worker("fila-worker", {"--queues", queue, "--worker-id", "logw", "--concurrency", "1"}, env);
  const std::string base = "http://127.0.0.1:" + std::to_string(api_port);
  ASSERT_TRUE(test::WaitFor([&] { return test::Http("GET", base + "/v1/queues").status != 0; }, 20s))
      << scheduler.Stderr();

  // Through the API, with the token; a wrong token too (logged at debug).
  const std::string body =
      R"({"type": "flaky", "queue": ")" + queue + R"(", "max_attempts": 2, "args": {"fail_times": 1}})";
  auto created = test::Http("POST", base + "/v1/tasks",
                            {"Content-Type: application/json", "Authorization: Bearer " + token}, body);
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = nlohmann::json::parse(created.body)["id"].get<std::string>();
  EXPECT_EQ(test::Http("GET", base + "/v1/tasks/" + id, {"Authorization: Bearer " + token + "x"}).status,
            401);
  ASSERT_TRUE(test::WaitFor([&] { return db.Scalar("SELECT state FROM tasks WHERE id = '" + id + "'") == "succeeded"; },
                            30s))
      << worker.Stderr();

  // The failed first attempt is logged from the slot with the task's fields.
  bool seen = false;
  for (const auto& line : JsonLines(worker.Stderr())) {
    if (line.value("task_id", "") != id || line.value("attempt", "") != "1") continue;
    if (line["msg"].get<std::string>().find("attempt failed") == std::string::npos) continue;
    seen = true;
    EXPECT_EQ(line.value("type", ""), "flaky");
    EXPECT_EQ(line.value("queue", ""), queue);
    EXPECT_EQ(line.value("worker", ""), "logw");
    EXPECT_EQ(line.value("level", ""), "info");
  }
  EXPECT_TRUE(seen) << "no 'attempt failed' line with task fields:\n" << worker.Stderr();

  for (Process* p : {&scheduler, &worker}) {
    const auto metrics = test::Http("GET", "http://" + test::MetricsAddress(*p) + "/metrics");
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("fila_build_info"), std::string::npos);
    EXPECT_EQ(metrics.body.find(pg_secret), std::string::npos);
    EXPECT_EQ(metrics.body.find(token.substr(5)), std::string::npos);
    EXPECT_EQ(metrics.body.find(id), std::string::npos) << "a task id is not a label";
  }
  scheduler.Signal(SIGTERM);
  worker.Signal(SIGTERM);
  EXPECT_EQ(scheduler.Wait(30s), 0);
  EXPECT_EQ(worker.Wait(30s), 0);
  for (Process* p : {&scheduler, &worker}) {
    const std::string err = p->Stderr();
    JsonLines(err);
    EXPECT_EQ(err.find(pg_secret), std::string::npos) << err;
    EXPECT_EQ(err.find(token.substr(5)), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace fila
