// Fault: /readyz of a worker and a scheduler while RabbitMQ, then
// PostgreSQL, is stopped and started again. Both must turn not-ready
// (503, naming the failed check; fila_ready{check} 0 on /metrics) while the
// server is down and ready (200) again once it is back, without a restart.
// /healthz stays 200 throughout: the processes are alive.
#include <signal.h>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

class Readiness : public FaultTest {
 protected:
  struct Probe {
    std::string name;
    std::string address;
  };

  std::vector<Probe> StartDaemons() {
    auto& scheduler = StartScheduler({"--sample-interval-ms", "300"});
    auto& worker = StartWorker("w1", 2);
    std::vector<Probe> probes{{"scheduler", test::MetricsAddress(scheduler)},
                              {"worker", test::MetricsAddress(worker)}};
    for (const auto& p : probes) EXPECT_FALSE(p.address.empty()) << p.name << "\n" << Logs();
    return probes;
  }

  static test::HttpResult Get(const Probe& p, const std::string& path) {
    return test::Http("GET", "http://" + p.address + path);
  }

  // Waits until /readyz of `p` answers `status` (and names `check` in its
  // body when not ready); returns whether it did within `timeout`.
  bool WaitReady(const Probe& p, long status, const std::string& check,
                 std::chrono::milliseconds timeout) {
    test::HttpResult last;
    bool ok = test::WaitFor(
        [&] {
          last = Get(p, "/readyz");
          if (last.status != status) return false;
          return status == 200 || last.body.find(check + ": ok") == std::string::npos;
        },
        timeout);
    if (!ok) ADD_FAILURE() << p.name << " /readyz: " << last.status << " " << last.body;
    return ok;
  }

  void OutageFlipsReadiness(const std::string& service, const std::string& check) {
    auto probes = StartDaemons();
    for (const auto& p : probes) ASSERT_TRUE(WaitReady(p, 200, check, 30s)) << Logs();

    StackOutage outage(service);
    outage.Stop();
    for (const auto& p : probes) {
      ASSERT_TRUE(WaitReady(p, 503, check, 30s)) << Logs();
      const auto ready = Get(p, "/readyz");
      EXPECT_NE(ready.body.find("not ready"), std::string::npos) << ready.body;
      EXPECT_EQ(ready.body.find(check + ": ok"), std::string::npos) << ready.body;
      EXPECT_NE(Get(p, "/metrics").body.find("fila_ready{check=\"" + check + "\"} 0"),
                std::string::npos)
          << p.name;
      EXPECT_EQ(Get(p, "/healthz").status, 200) << p.name << ": alive while not ready";
    }
    outage.Start();
    for (const auto& p : probes) ASSERT_TRUE(WaitReady(p, 200, check, 60s)) << Logs();
    for (const auto& p : probes) {
      EXPECT_NE(Get(p, "/metrics").body.find("fila_ready{check=\"" + check + "\"} 1"),
                std::string::npos)
          << p.name;
    }
  }
};

TEST_F(Readiness, BrokerStoppedMakesBothDaemonsNotReadyUntilItIsBack) {
  OutageFlipsReadiness("rmq", "broker");
}

TEST_F(Readiness, DatabaseStoppedMakesBothDaemonsNotReadyUntilItIsBack) {
  OutageFlipsReadiness("pg", "database");
}

TEST_F(Readiness, DrainingWorkerIsNotReady) {
  auto& worker = StartWorker("w1", 1, {"--drain-timeout", "20"});
  Probe p{"worker", test::MetricsAddress(worker)};
  ASSERT_TRUE(WaitReady(p, 200, "consuming", 30s)) << Logs();
  Enqueue("sleep", R"({"ms": 4000})", 1);
  StartScheduler();
  ASSERT_TRUE(test::WaitFor([&] { return CountState("running") == 1; }, 20s)) << Logs();
  worker.Signal(SIGTERM);
  ASSERT_TRUE(WaitReady(p, 503, "consuming", 5s)) << Logs();
  EXPECT_NE(Get(p, "/readyz").body.find("consuming: draining"), std::string::npos);
  EXPECT_EQ(worker.Wait(30s), 0) << Logs();
  EXPECT_EQ(CountState("succeeded"), 1);
}

}  // namespace
}  // namespace fila::fault
