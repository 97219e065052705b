// Fault: RabbitMQ or PostgreSQL stopped and restarted in the middle of a
// 10,000-task run through two workers and a scheduler.
//
// RabbitMQ (`scripts/stack stop-rmq`, 3 s down, `start-rmq`): workers lose
// their consumers and acks, the relay its publisher; 2,000 of the tasks are
// enqueued while the broker is down, so they wait in the outbox. Messages
// are durable and persistent, so nothing the broker confirmed is lost;
// unacked deliveries come back after the restart and are dropped as
// duplicates where their finish had already committed.
//
// PostgreSQL (`stop-pg`, 3 s down, `start-pg`): claims, finishes and
// heartbeats fail for a while; the processes must ride it out, reconnect and
// finish every task.
//
// Either way every process keeps running, every task ends succeeded, and
// the invariants hold (one recorded success per task, nothing lost).
//
// PostgreSQL down for 20 s under running tasks (one attempt each, longer
// than the outage): no worker heartbeats meanwhile and every lease runs
// out, yet every worker is alive. None of their tasks may be judged lost:
// the reaper waits a full worker timeout once it reaches the database again.
#include <signal.h>

#include <cstdio>
#include <thread>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

class Outage : public FaultTest {
 protected:
  static constexpr int kTasks = 10000;
  static constexpr int kStopAfter = 1000;  // succeeded tasks before the outage

  int64_t Succeeded() const { return CountOrMinusOne("SELECT count(*) FROM tasks WHERE state = 'succeeded'"); }

  // Waits for the whole run and checks the processes survived the outage.
  void FinishAndCheck(std::vector<test::Process*> processes, int64_t succeeded_after_outage) {
    std::printf("  %lld of %d tasks succeeded when the outage ended\n",
                static_cast<long long>(succeeded_after_outage), kTasks);
    // The outage really hit the middle of the run.
    EXPECT_GE(succeeded_after_outage, 0);
    EXPECT_LT(succeeded_after_outage, kTasks - 1000);
    ASSERT_TRUE(WaitAllTerminal(240s))
        << ::testing::PrintToString(db_->Rows("SELECT state, count(*) FROM tasks GROUP BY 1")) << "\n"
        << Logs();
    for (auto* p : processes) EXPECT_TRUE(p->Running()) << "a process died during the outage\n" << Logs();
    EXPECT_EQ(CountState("succeeded"), kTasks);
    ExpectInvariants(kTasks);
    std::printf("  attempts by outcome: %s; tasks that needed more than one attempt: %lld\n",
                ::testing::PrintToString(
                    db_->Rows("SELECT outcome, count(*) FROM task_attempts GROUP BY 1 ORDER BY 1"))
                    .c_str(),
                static_cast<long long>(Count("SELECT count(*) FROM tasks WHERE attempt > 1")));
    // Every process still stops cleanly.
    for (auto* p : processes) p->Signal(SIGTERM);
    for (auto* p : processes) EXPECT_EQ(p->Wait(60s), 0) << Logs();
    for (const std::string id : {"w1", "w2"}) {
      const auto counters = ExitCounters(Logs(1000), id);
      std::printf("  %s: claimed=%lld finished=%lld duplicates=%lld stale=%lld\n", id.c_str(),
                  static_cast<long long>(counters.count("claimed") ? counters.at("claimed") : -1),
                  static_cast<long long>(counters.count("finished") ? counters.at("finished") : -1),
                  static_cast<long long>(counters.count("duplicates") ? counters.at("duplicates") : -1),
                  static_cast<long long>(counters.count("stale") ? counters.at("stale") : -1));
    }
  }
};

TEST_F(Outage, RabbitMqStoppedAndRestartedMidRun) {
  StackOutage outage("rmq");
  const TaskOptions options{.max_attempts = 5};
  Enqueue("sleep", R"({"ms": 10})", kTasks - 2000, options);
  auto& scheduler = StartScheduler();
  auto& w1 = StartWorker("w1", 4);
  auto& w2 = StartWorker("w2", 4);
  ASSERT_TRUE(test::WaitFor([&] { return Succeeded() >= kStopAfter; }, 120s)) << Logs();

  const auto t0 = std::chrono::steady_clock::now();
  outage.Stop();
  // Enqueued while the broker is down: they can only wait in the outbox.
  Enqueue("sleep", R"({"ms": 10})", 2000, options);
  std::this_thread::sleep_for(3s);  // the outage itself
  outage.Start();
  const double down_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  RabbitMQ stopped and restarted in %.1f s\n", down_s);
  const int64_t after = Succeeded();
  FinishAndCheck({&scheduler, &w1, &w2}, after);
}

TEST_F(Outage, PostgresStoppedAndRestartedMidRun) {
  StackOutage outage("pg");
  Enqueue("sleep", R"({"ms": 10})", kTasks, {.max_attempts = 5});
  auto& scheduler = StartScheduler();
  auto& w1 = StartWorker("w1", 4);
  auto& w2 = StartWorker("w2", 4);
  ASSERT_TRUE(test::WaitFor([&] { return Succeeded() >= kStopAfter; }, 120s)) << Logs();

  const auto t0 = std::chrono::steady_clock::now();
  outage.Stop();
  std::this_thread::sleep_for(3s);  // the outage itself
  outage.Start();
  const double down_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  PostgreSQL stopped and restarted in %.1f s\n", down_s);
  const int64_t after = Succeeded();
  FinishAndCheck({&scheduler, &w1, &w2}, after);
}

TEST_F(Outage, PostgresDownLongerThanTheWorkerTimeoutKillsNoLiveWorkersTask) {
  constexpr int kRunning = 20;
  StackOutage outage("pg");
  // Worker timeout 6 s: the outage is more than three. Leases are 10 s (the
  // worker's minimum), so they run out during the outage too.
  auto& scheduler = StartScheduler({"--worker-timeout-ms", "6000", "--reap-interval-ms", "200"});
  auto& w1 = StartWorker("w1", 10, {"--heartbeat-interval-ms", "500"});
  auto& w2 = StartWorker("w2", 10, {"--heartbeat-interval-ms", "500"});
  // 35 s each (they outlive the outage and the reaper's wait after it), one
  // attempt: a task judged lost dies, one run twice shows.
  Enqueue("sleep", R"({"ms": 35000})", kRunning, {.max_attempts = 1});
  ASSERT_TRUE(test::WaitFor([&] { return CountState("running") == kRunning; }, 30s)) << Logs();

  outage.Stop();
  std::this_thread::sleep_for(18s);
  // The workers come back to the database later than the scheduler (a
  // slower reconnect): frozen for the outage's last 2 s and 3.5 s after it,
  // longer than the relay's retries are apart (3 s at most). They are alive
  // all the same, and beat again within a worker timeout.
  w1.Signal(SIGSTOP);
  w2.Signal(SIGSTOP);
  std::this_thread::sleep_for(2s);
  const auto restart = std::chrono::steady_clock::now();
  outage.Start();
  const double restart_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - restart).count();
  std::this_thread::sleep_for(3500ms);
  w1.Signal(SIGCONT);
  w2.Signal(SIGCONT);
  std::printf("  PostgreSQL down 20 s, up after %.1f s of restart; workers frozen until 3.5 s later\n",
              restart_s);

  ASSERT_TRUE(WaitAllTerminal(60s))
      << ::testing::PrintToString(db_->Rows("SELECT state, count(*) FROM tasks GROUP BY 1")) << "\n"
      << Logs();
  const int64_t lost = Count("SELECT count(*) FROM task_attempts WHERE outcome = 'lost'");
  const int64_t twice = Count("SELECT count(*) FROM tasks WHERE attempt > 1");
  const int64_t dead = CountState("dead");
  const int64_t reaped_lines = Occurrences(scheduler.Stderr(), "reaped task");
  std::printf("[ metric ] PostgreSQL down 20 s under %d running one-attempt tasks: %lld dead, "
              "%lld lost attempts, %lld run twice, %lld reaped (scheduler log)\n",
              kRunning, static_cast<long long>(dead), static_cast<long long>(lost),
              static_cast<long long>(twice), static_cast<long long>(reaped_lines));
  EXPECT_EQ(CountState("succeeded"), kRunning) << Logs();
  EXPECT_EQ(dead, 0);
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(reaped_lines, 0);
  ExpectInvariants(kRunning);
  for (auto* p : {&scheduler, &w1, &w2}) EXPECT_TRUE(p->Running()) << Logs();
}

}  // namespace
}  // namespace fila::fault
