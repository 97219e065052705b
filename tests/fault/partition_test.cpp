// Fault: a worker cut off for longer than its lease, while another works.
//
// Two ways to lose a worker without killing it: a network partition (the
// worker runs in its own network namespace, tests/support/netns.h, and
// its link goes down: it reaches neither PostgreSQL nor RabbitMQ) and
// SIGSTOP. Either way the "victim" holds three 4 s `sleep` tasks when it is
// cut off; the scheduler's reaper (--worker-timeout-ms 3000) must take them
// back and the "steady" worker run them. After 15 s (the victim's lease is
// 10 s) the victim comes back and its late finishes must all be refused
// (fenced by the attempt number): its log names each, its
// fila_stale_finishes_total and exit counters count them, and the database
// records one success per task, by the steady worker.
//
// Recovery = from the cut to the moment the last of the victim's tasks
// finished on the steady worker; printed as
//   [ metric ] <fault> recovery: ... X s
// A third case delays the namespace's link (tc netem) and expects nothing
// lost or refused; it is skipped where the kernel has no sch_netem.
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <functional>
#include <optional>
#include <thread>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

constexpr int kHeld = 3;               // the victim's slots, all busy at the cut
constexpr auto kIsolation = 15s;       // > the victim's 10 s lease
const std::vector<std::string> kHeartbeat{"--heartbeat-interval-ms", "500"};

// The value of an unlabelled counter in a /metrics page, or -1.
double MetricValue(const std::string& page, const std::string& name) {
  const auto at = page.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(page.substr(at + name.size() + 2));
}

class Isolation : public FaultTest {
 protected:
  void TearDown() override {
    FaultTest::TearDown();  // the processes first, then the namespace they ran in
    ns_.reset();
  }

  struct Victim {
    std::function<test::Process&()> start;
    std::function<void(test::Process&)> isolate;
    std::function<void(test::Process&)> restore;
  };

  // The scenario of the header, for one way of losing the victim.
  void CutOffAndComeBack(const std::string& fault, const Victim& how) {
    StartScheduler({"--worker-timeout-ms", "3000", "--reap-interval-ms", "200"});
    test::Process& victim = how.start();
    Enqueue("sleep", R"({"ms": 4000})", kHeld, {.max_attempts = 5});
    const auto running_on_victim = [&] {
      return Count("SELECT count(*) FROM tasks WHERE state = 'running' AND worker = 'victim'");
    };
    ASSERT_TRUE(test::WaitFor([&] { return running_on_victim() == kHeld; }, 30s)) << Logs();
    // Only now, so that the victim holds all of them.
    test::Process& steady = StartWorker("steady", kHeld, kHeartbeat);
    Enqueue("sleep", R"({"ms": 100})", 20, {.max_attempts = 5});
    const int64_t total = kHeld + 20;

    how.isolate(victim);
    const std::string cut_at = DbNow();
    std::this_thread::sleep_for(300ms);  // a finish already on its way lands or not
    const auto held = db_->Rows("SELECT id, attempt FROM tasks WHERE state = 'running' AND worker = 'victim'");
    ASSERT_EQ(held.size(), static_cast<size_t>(kHeld)) << Logs();

    // While the victim is away its tasks must run elsewhere.
    std::string in_list;
    for (const auto& row : held) in_list += (in_list.empty() ? "'" : ", '") + row[0] + "'";
    const auto done_elsewhere = [&] {
      return Count("SELECT count(*) FROM tasks WHERE id IN (" + in_list +
                   ") AND state = 'succeeded' AND worker = 'steady'");
    };
    const auto away_until = std::chrono::steady_clock::now() + kIsolation;
    EXPECT_TRUE(test::WaitFor([&] { return done_elsewhere() == kHeld; }, kIsolation))
        << fault << ": the victim's tasks did not finish elsewhere while it was away\n" << Logs();
    const double recovery = std::stod(db_->Scalar(
        "SELECT extract(epoch FROM max(finished_at) - '" + cut_at + "'::timestamptz) FROM tasks WHERE id IN (" +
        in_list + ")"));
    std::this_thread::sleep_until(away_until);
    EXPECT_TRUE(victim.Running()) << fault << ": the victim died while cut off\n" << Logs();

    how.restore(victim);
    const auto restored = std::chrono::steady_clock::now();
    // Every late finish of the victim must come back refused.
    const auto refused_in_log = [&] {
      int n = 0;
      const std::string err = victim.Stderr();
      for (const auto& row : held) {
        n += err.find("finish of task " + row[0] + " attempt " + row[1] + " was fenced out") != std::string::npos;
      }
      return n;
    };
    EXPECT_TRUE(test::WaitFor([&] { return refused_in_log() == kHeld; }, 90s))
        << fault << ": the victim's late finishes were not all refused\n" << Logs();
    const double refused_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - restored).count();
    const std::string metrics = test::MetricsAddress(victim);
    ASSERT_FALSE(metrics.empty()) << Logs();
    EXPECT_GE(MetricValue(test::Http("GET", "http://" + metrics + "/metrics").body, "fila_stale_finishes_total"),
              kHeld);

    ASSERT_TRUE(WaitAllTerminal(60s)) << Logs();
    victim.Signal(SIGTERM);
    steady.Signal(SIGTERM);
    const int status = victim.Wait(60s);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "victim status " << status << "\n" << Logs();
    steady.Wait(60s);
    EXPECT_EQ(ExitCounters(victim.Stderr(), "victim")["stale"], kHeld) << Logs();

    // Per task: the victim's attempt was reaped (recorded as lost, under
    // its name), the next one succeeded on the steady worker.
    for (const auto& row : held) {
      SCOPED_TRACE("task " + row[0] + " attempt " + row[1]);
      const auto attempts = db_->Rows("SELECT attempt, worker, outcome FROM task_attempts WHERE task_id = '" +
                                      row[0] + "' AND attempt >= " + row[1] + " ORDER BY attempt");
      ASSERT_EQ(attempts.size(), 2u) << ::testing::PrintToString(attempts);
      EXPECT_EQ(attempts[0], (std::vector<std::string>{row[1], "victim", "lost"}));
      EXPECT_EQ(attempts[1][1], "steady");
      EXPECT_EQ(attempts[1][2], "succeeded");
    }
    EXPECT_EQ(CountState("succeeded"), total);
    EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE outcome = 'succeeded' AND worker = 'victim'"), 0);
    ExpectInvariants(total);
    std::printf("[ metric ] %s recovery: the cut-off worker's %d tasks finished elsewhere %.2f s after the cut; "
                "its %d late finishes refused within %.1f s of its return\n",
                fault.c_str(), kHeld, recovery, kHeld, refused_after);
  }

  std::optional<test::NetNs> ns_;
};

TEST_F(Isolation, PartitionedWorkerIsFencedOut) {
  if (const std::string why = test::NetNs::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  ns_.emplace(test::NetNs::LoopbackPorts({db_->url(), test::Stack().amqp_url}));
  CutOffAndComeBack("partition", {
      .start = [&]() -> test::Process& { return StartWorkerIn(*ns_, "victim", kHeld, kHeartbeat); },
      .isolate = [&](test::Process&) { ns_->Cut(); },
      .restore = [&](test::Process&) { ns_->Heal(); },
  });
}

TEST_F(Isolation, StoppedWorkerIsFencedOut) {
  CutOffAndComeBack("SIGSTOP", {
      .start = [&]() -> test::Process& { return StartWorker("victim", kHeld, kHeartbeat); },
      .isolate = [](test::Process& p) { p.Signal(SIGSTOP); },
      .restore = [](test::Process& p) { p.Signal(SIGCONT); },
  });
}

// A defect the chaos run found: a query sent during the partition (the
// heartbeat) waits out TCP's retransmission backoff after the heal, while
// the worker's idle claim connection works at once. The worker claimed
// tasks, the reaper took them back (heartbeat silent), the attempts were
// burned and every finish refused. Now claims wait while the heartbeat is
// overdue.
TEST_F(Isolation, HealedWorkerClaimsNothingItCannotKeep) {
  if (const std::string why = test::NetNs::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  ns_.emplace(test::NetNs::LoopbackPorts({db_->url(), test::Stack().amqp_url}));
  StartScheduler({"--worker-timeout-ms", "3000", "--reap-interval-ms", "200"});
  StartWorkerIn(*ns_, "victim", kHeld, kHeartbeat);
  Enqueue("sleep", R"({"ms": 10})", 5);
  ASSERT_TRUE(WaitAllTerminal(30s)) << Logs();
  ns_->Cut();
  std::this_thread::sleep_for(kIsolation);
  ns_->Heal();
  constexpr int kAfter = 30;
  Enqueue("sleep", R"({"ms": 200})", kAfter, {.max_attempts = 10});
  ASSERT_TRUE(WaitAllTerminal(120s)) << Logs();
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE outcome = 'lost'"), 0)
      << "tasks claimed after the heal were reaped from the worker that claimed them";
  EXPECT_EQ(CountState("succeeded"), 5 + kAfter);
  ExpectInvariants(5 + kAfter);
}

TEST_F(Isolation, DelayedLinkLosesNothing) {
  if (const std::string why = test::NetNs::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  ns_.emplace(test::NetNs::LoopbackPorts({db_->url(), test::Stack().amqp_url}));
  if (!ns_->Delay(100)) GTEST_SKIP() << "the kernel has no sch_netem (tc netem): no delay to test";
  StartScheduler({"--worker-timeout-ms", "3000", "--reap-interval-ms", "200"});
  test::Process& worker = StartWorkerIn(*ns_, "delayed", 4, kHeartbeat);
  constexpr int kTasks = 40;
  Enqueue("sleep", R"({"ms": 50})", kTasks);
  ASSERT_TRUE(WaitAllTerminal(120s)) << Logs();
  worker.Signal(SIGTERM);
  worker.Wait(60s);
  EXPECT_EQ(ExitCounters(worker.Stderr(), "delayed")["stale"], 0) << Logs();
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE outcome <> 'succeeded'"), 0);
  EXPECT_EQ(CountState("succeeded"), kTasks);
  ExpectInvariants(kTasks);
}

}  // namespace
}  // namespace fila::fault
