// Every metric the dashboard queries is one the daemons really export: a
// metric renamed in the code (or mistyped in dashboards/fila.json) leaves a
// panel silently empty, and only a real scrape notices.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "observability_fixture.h"

namespace fila::obs {
namespace {

using namespace std::chrono_literals;

// The tokens of `tokens` that `families` does not export, each with why. A
// histogram is queried through its _bucket, _sum or _count series: the bare
// family name has no samples in Prometheus.
std::set<std::string> NotExported(const std::set<std::string>& tokens,
                                  const std::map<std::string, std::string>& families) {
  std::set<std::string> out;
  for (const auto& token : tokens) {
    std::string name = token;
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (!token.ends_with(suffix)) continue;
      const auto base = families.find(token.substr(0, token.size() - suffix.size()));
      if (base != families.end() && base->second == "histogram") name = base->first;
    }
    const auto family = families.find(name);
    if (family == families.end()) {
      out.insert(token);
    } else if (name == token && family->second == "histogram") {
      out.insert(token + " (a histogram: query " + token + "_bucket)");
    }
  }
  return out;
}

TEST(DashboardMetricNames, HistogramSeriesMapToTheirFamily) {
  const std::map<std::string, std::string> families{{"fila_task_run_seconds", "histogram"},
                                                    {"fila_workers", "gauge"}};
  EXPECT_EQ(NotExported({"fila_task_run_seconds_bucket", "fila_task_run_seconds_count", "fila_workers"},
                        families),
            std::set<std::string>{});
  EXPECT_EQ(NotExported({"fila_workers_count", "fila_task_run_seconds", "fila_worker"}, families),
            (std::set<std::string>{"fila_task_run_seconds (a histogram: query fila_task_run_seconds_bucket)",
                                   "fila_worker", "fila_workers_count"}));
}

class DashboardMetrics : public Observability {};

TEST_F(DashboardMetrics, EveryMetricInTheDashboardIsExported) {
  auto tokens = DashboardMetricTokens();
  ASSERT_GE(tokens.size(), 15u) << "dashboards/fila.json has hardly any queries";
  // The alert rules suggested next to it, too.
  tokens.merge(MetricTokens(ReadmeAlertRules()));
  RunEveryKindOfTask();
  if (HasFatalFailure()) return;

  // Series appear on their first event, and some events (the poison
  // message, the scheduler's next sample) land a moment after the tasks'
  // states: scrape until nothing is missing, or report what still is.
  std::map<std::string, std::string> families;
  std::set<std::string> missing;
  test::WaitFor(
      [&] {
        families = MetricFamilies(Scrape(*worker_));
        families.merge(MetricFamilies(Scrape(*scheduler_)));
        missing = NotExported(tokens, families);
        return missing.empty();
      },
      30s);
  std::string exported;
  for (const auto& [name, type] : families) exported += " " + name;
  EXPECT_TRUE(missing.empty()) << "queried by dashboards/fila.json or its README but not exported:\n  "
                               << ::testing::PrintToString(missing) << "\nexported:" << exported
                               << "\n" << Logs();
}

// A queue that emptied reads 0, not "no data", also on a scheduler that
// never saw a task in it (a restart, another replica) and with no live
// consumer: a registered worker's queue is known (docs/metrics.md, "Known
// queues"). The worker is SIGKILLed, so its row stays, stale.
TEST_F(DashboardMetrics, AnEmptiedQueueReadsZeroOnAFreshScheduler) {
  RunNoopTasks(3);
  if (HasFatalFailure()) return;
  worker_->Signal(SIGKILL);
  ASSERT_NE(worker_->Wait(10s), -1);
  scheduler_->Signal(SIGTERM);
  ASSERT_NE(scheduler_->Wait(30s), -1) << Logs();
  // Past the scheduler's --worker-timeout-ms (1.5 s): no live consumer
  // names the queue any more, only the stale row.
  std::this_thread::sleep_for(2500ms);
  scheduler_ = &StartScheduler();
  const std::string label = "{queue=\"" + queue_ + "\"";
  std::string body;
  const bool found = test::WaitFor(
      [&] {
        body = Scrape(*scheduler_);
        return body.find("fila_queue_depth" + label) != std::string::npos;
      },
      15s);
  ASSERT_TRUE(found) << "no fila_queue_depth series of " << queue_ << "\n" << body << "\n" << Logs();
  for (const char* state : {"blocked", "queued", "scheduled", "running"}) {
    const std::string series = "fila_queue_depth" + label + ",state=\"" + state + "\"} 0";
    EXPECT_NE(body.find(series), std::string::npos) << series << "\n" << body;
  }
  EXPECT_NE(body.find("fila_queue_oldest_age_seconds" + label + "} 0"), std::string::npos) << body;
  EXPECT_NE(body.find("fila_queue_consumers" + label + "} 0"), std::string::npos) << body;
}

}  // namespace
}  // namespace fila::obs
