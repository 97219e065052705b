// A real Prometheus scrapes a real scheduler and worker: the exposition is
// ingested, and every query of dashboards/fila.json (variables filled in as
// Grafana would) is valid PromQL that finds data.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>

#include "observability_fixture.h"

namespace fila::obs {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The namespace label the scrape config gives both targets, as the
// Kubernetes service discovery would.
constexpr const char* kNamespace = "fila-it";

class PrometheusScrape : public Observability {
 protected:
  void SetUp() override {
    if (binary_.empty()) {
      GTEST_SKIP() << "prometheus is not installed (Debian package prometheus; scripts/install-deps "
                      "installs it and CI runs this test)";
    }
    Observability::SetUp();
  }

  void TearDown() override {
    if (server_) {
      server_->Signal(SIGTERM);
      if (server_->Wait(20s) == -1) ADD_FAILURE() << "prometheus ignored SIGTERM";
      server_.reset();
    }
    if (!binary_.empty()) Observability::TearDown();
  }

  // Starts Prometheus on a free loopback port, scraping scheduler_ and
  // worker_ every second.
  void StartPrometheus() {
    const std::string config = dir_ + "/prometheus.yml";
    std::ofstream(config) << "global:\n"
                             "  scrape_interval: 1s\n"
                             "  scrape_timeout: 1s\n"
                             "scrape_configs:\n"
                             "  - job_name: fila\n"
                             "    static_configs:\n"
                             "      - targets: ['" << MetricsAddress(*worker_) << "', '"
                          << MetricsAddress(*scheduler_) << "']\n"
                             "        labels:\n"
                             "          namespace: " << kNamespace << "\n";
    const std::string listen = "127.0.0.1:" + std::to_string(test::FreePort());
    url_ = "http://" + listen;
    server_ = std::make_unique<Tool>(
        binary_,
        std::vector<std::string>{"--config.file=" + config, "--storage.tsdb.path=" + dir_ + "/data",
                                 "--web.listen-address=" + listen},
        dir_);
    ASSERT_TRUE(test::WaitFor([&] { return test::Http("GET", url_ + "/-/ready").status == 200; }, 30s))
        << server_->Stderr();
  }

  // GET `path_and_query` of the Prometheus API; null when it did not answer JSON.
  json Api(const std::string& path_and_query) {
    return json::parse(test::Http("GET", url_ + path_and_query).body, nullptr, false);
  }

  json Query(const std::string& promql) { return Api("/api/v1/query?query=" + UrlEncode(promql)); }

  std::string binary_ = FindOnPath("prometheus");
  std::string url_;
  std::unique_ptr<Tool> server_;
};

TEST_F(PrometheusScrape, PrometheusSeesFinishedTasks) {
  scheduler_ = &StartScheduler();
  worker_ = &StartWorker("w1", 4);
  StartPrometheus();
  if (HasFatalFailure()) return;
  Enqueue({"noop", "--count", "20"});
  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") == 20; }, 60s)) << Logs();

  double finished = 0;
  json last;
  test::WaitFor(
      [&] {
        last = Query("sum(fila_tasks_finished_total)");
        const auto& result = last.value("/data/result"_json_pointer, json::array());
        if (result.empty()) return false;
        finished = std::stod(result[0].at("value").at(1).get<std::string>());
        return finished >= 20;
      },
      40s);
  EXPECT_EQ(finished, 20) << last.dump() << "\n" << server_->Stderr();
  // Both targets are scraped without errors (each on its own offset within
  // the interval, so the second may not have been scraped yet).
  json targets;
  const bool up = test::WaitFor(
      [&] {
        targets = Api("/api/v1/targets");
        const auto active = targets.value("/data/activeTargets"_json_pointer, json::array());
        return active.size() == 2 && std::all_of(active.begin(), active.end(), [](const json& t) {
                 return t.value("health", "") == "up";
               });
      },
      10s);
  EXPECT_TRUE(up) << targets.dump();
}

// Grafana's variables as the dashboard would send them for this test's fleet.
std::string FillVariables(std::string expr, const std::string& queue) {
  expr = std::regex_replace(expr, std::regex("\\$namespace"), kNamespace);
  expr = std::regex_replace(expr, std::regex("\\$queue"), queue);
  return std::regex_replace(expr, std::regex("\\$__rate_interval"), "10s");
}

TEST_F(PrometheusScrape, EveryDashboardQueryFindsData) {
  RunEveryKindOfTask();
  if (HasFatalFailure()) return;
  StartPrometheus();
  if (HasFatalFailure()) return;

  // rate() and increase() need two samples, so poll until every panel
  // query answers with data, or report those that never did.
  std::map<std::string, std::string> failing;  // expr -> Prometheus' answer
  test::WaitFor(
      [&] {
        failing.clear();
        for (const auto& expr : DashboardExprs()) {
          const json r = Query(FillVariables(expr, queue_));
          if (r.value("status", "") != "success" ||
              r.value("/data/result"_json_pointer, json::array()).empty()) {
            failing[expr] = r.is_discarded() ? "no JSON answer" : r.dump();
          }
        }
        return failing.empty();
      },
      40s);
  for (const auto& [expr, answer] : failing) ADD_FAILURE() << expr << "\n  -> " << answer;

  // The variables' label_values(selector, label) list this fleet.
  const std::map<std::string, std::string> expected{{"namespace", kNamespace}, {"queue", queue_}};
  static const std::regex kLabelValues(R"(label_values\((.*),\s*([a-z_]+)\))");
  for (const auto& [name, query] : DashboardVariableQueries()) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(query, m, kLabelValues)) << name << ": " << query;
    const json values = Api("/api/v1/label/" + m[2].str() + "/values?match[]=" +
                            UrlEncode(FillVariables(m[1], queue_)));
    const auto list = values.value("data", json::array());
    if (!expected.count(name)) continue;
    EXPECT_NE(std::find(list.begin(), list.end(), expected.at(name)), list.end())
        << "variable " << name << ": " << values.dump();
  }
}

}  // namespace
}  // namespace fila::obs
