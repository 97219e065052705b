// The metrics server alone, on loopback: /healthz, /readyz following the
// readiness checks, /metrics in the Prometheus text format.
#include "fila/metrics/metrics_server.h"

#include <gtest/gtest.h>

#include <atomic>

#include "fila/core/errors.h"
#include "support/harness.h"

namespace fila {
namespace {

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    readiness_.Add("broker", [this]() -> std::optional<std::string> {
      if (broker_up_) return std::nullopt;
      return "connection lost";
    });
    server_ = std::make_unique<MetricsServer>("127.0.0.1:0", "worker", readiness_);
  }

  test::HttpResult Get(const std::string& path) {
    return test::Http("GET", "http://" + server_->Address() + path);
  }

  std::atomic<bool> broker_up_{true};
  Readiness readiness_;
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, PortZeroPicksAPortAndReportsIt) {
  EXPECT_GT(server_->Port(), 0);
  EXPECT_EQ(server_->Address(), "127.0.0.1:" + std::to_string(server_->Port()));
}

TEST_F(MetricsServerTest, ReadyzFollowsTheChecks) {
  auto ready = Get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\nbroker: ok\n");
  broker_up_ = false;
  auto not_ready = Get("/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.body, "not ready\nbroker: connection lost\n");
  EXPECT_EQ(Get("/healthz").status, 200) << "alive even when not ready";
  EXPECT_NE(Get("/metrics").body.find("fila_ready{check=\"broker\"} 0"), std::string::npos);
  broker_up_ = true;
  EXPECT_EQ(Get("/readyz").status, 200);
}

TEST_F(MetricsServerTest, MetricsHoldBuildInfoAndRecordedSeries) {
  auto& worker = server_->Worker();
  worker.TaskStarted("default", "noop", 0.002);
  worker.TaskFinished("default", "noop", Outcome::kSucceeded, TaskState::kSucceeded, 0.0004);
  worker.TaskFinished("default", "flaky", Outcome::kFailed, TaskState::kScheduled, 1.5);
  worker.Slots(3, 8);
  auto m = Get("/metrics");
  ASSERT_EQ(m.status, 200);
  for (const char* expected :
       {"fila_build_info{component=\"worker\",version=\"",
        "fila_tasks_finished_total{outcome=\"succeeded\",queue=\"default\",type=\"noop\"} 1",
        "fila_tasks_finished_total{outcome=\"failed\",queue=\"default\",type=\"flaky\"} 1",
        "fila_task_retries_total{queue=\"default\",type=\"flaky\"} 1",
        "fila_task_run_seconds_bucket{queue=\"default\",type=\"noop\",le=\"0.001\"} 1",
        "fila_task_run_seconds_bucket{queue=\"default\",type=\"flaky\",le=\"3600\"} 1",
        "fila_task_wait_seconds_count{queue=\"default\",type=\"noop\"} 1",
        "fila_worker_slots{state=\"busy\"} 3", "fila_worker_slots{state=\"idle\"} 5"}) {
    EXPECT_NE(m.body.find(expected), std::string::npos) << expected << "\n" << m.body;
  }
  EXPECT_EQ(Get("/nothing").status, 404);
}

TEST_F(MetricsServerTest, QueueThatEmptiedIsReportedAtZero) {
  auto& scheduler = server_->Scheduler();
  scheduler.Queues({{.queue = "pdf", .queued = 7, .oldest_queued_age_seconds = 12}});
  EXPECT_NE(Get("/metrics").body.find("fila_queue_depth{queue=\"pdf\",state=\"queued\"} 7"),
            std::string::npos);
  scheduler.Queues({});
  const auto body = Get("/metrics").body;
  EXPECT_NE(body.find("fila_queue_depth{queue=\"pdf\",state=\"queued\"} 0"), std::string::npos);
  EXPECT_NE(body.find("fila_queue_oldest_age_seconds{queue=\"pdf\"} 0"), std::string::npos);
}

TEST_F(MetricsServerTest, PreparedSeriesStartAtZeroAndTheReaperCountsLostAttempts) {
  server_->Worker().Prepare({"pdf"}, {"noop"});
  server_->Scheduler().LeaseExpired("worker_lost", "pdf", "noop", TaskState::kDead);
  const auto body = Get("/metrics").body;
  for (const char* expected :
       {"fila_tasks_started_total{queue=\"pdf\",type=\"noop\"} 0",
        "fila_task_retries_total{queue=\"pdf\",type=\"noop\"} 0",
        "fila_tasks_finished_total{outcome=\"timed_out\",queue=\"pdf\",type=\"noop\"} 0",
        "fila_tasks_finished_total{outcome=\"lost\",queue=\"pdf\",type=\"noop\"} 1",
        "fila_tasks_dead_total{queue=\"pdf\",type=\"noop\"} 1",
        "fila_lease_expiries_total{reason=\"worker_lost\"} 1",
        "fila_lease_expiries_total{reason=\"lease_expired\"} 0"}) {
    EXPECT_NE(body.find(expected), std::string::npos) << expected << "\n" << body;
  }
}

TEST(MetricsServer, BadAddressIsPermanentAndABusyPortTransient) {
  Readiness readiness;
  EXPECT_THROW(MetricsServer("localhost", "worker", readiness), PermanentError);
  EXPECT_THROW(MetricsServer("127.0.0.1:99999", "worker", readiness), PermanentError);
  MetricsServer first("127.0.0.1:0", "worker", readiness);
  EXPECT_THROW(MetricsServer(first.Address(), "worker", readiness), TransientError);
}

}  // namespace
}  // namespace fila
