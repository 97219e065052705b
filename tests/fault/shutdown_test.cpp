// Fault: a worker told to stop (SIGTERM) in the middle of a run.
//
// Within the drain budget: it stops consuming, lets its in-flight `sleep`
// tasks (200 ms, 4 slots) finish — they end succeeded, recorded by that
// worker — and exits 0 long before the budget; a second worker started
// afterwards does the rest. Nothing runs twice, nothing is lost.
//
// Past the drain budget (--drain-timeout 1, tasks of 8 s): it hands its
// tasks back (state scheduled, run now) and exits 0 after about a second;
// another worker then runs them to success.
#include <signal.h>
#include <sys/wait.h>

#include <set>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

class Shutdown : public FaultTest {
 protected:
  int64_t RunningOn(const std::string& worker) const {
    return Count("SELECT count(*) FROM tasks WHERE state = 'running' AND worker = '" + worker + "'");
  }
};

TEST_F(Shutdown, SigtermLetsInFlightTasksFinishAndExitsZero) {
  constexpr int kTasks = 60;
  Enqueue("sleep", R"({"ms": 200})", kTasks);
  StartScheduler();
  auto& drainer = StartWorker("drainer", 4, {"--drain-timeout", "20"});
  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") >= 8 && RunningOn("drainer") == 4; }, 60s))
      << Logs();

  // In flight at the signal: what runs just before it and just after it
  // (a claim may have been on its way).
  const std::string running_sql = "SELECT id, attempt FROM tasks WHERE state = 'running' AND worker = 'drainer'";
  std::set<std::vector<std::string>> in_flight;
  for (auto& row : db_->Rows(running_sql)) in_flight.insert(row);
  drainer.Signal(SIGTERM);
  const auto signalled = std::chrono::steady_clock::now();
  for (auto& row : db_->Rows(running_sql)) in_flight.insert(row);
  const int status = drainer.Wait(30s);
  const double exit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "\n" << Logs();
  EXPECT_EQ(WEXITSTATUS(status), 0) << Logs();
  std::printf("  drainer exited %.2f s after SIGTERM with %zu tasks in flight\n", exit_s, in_flight.size());
  EXPECT_LT(exit_s, 10.0) << "200 ms tasks should not need the 20 s drain budget";

  // Every task in flight at the signal finished, recorded by the drainer.
  EXPECT_GE(in_flight.size(), 4u);
  for (const auto& row : in_flight) {
    EXPECT_EQ(db_->Scalar("SELECT coalesce((SELECT outcome || ' by ' || worker FROM task_attempts "
                          "WHERE task_id = '" + row[0] + "' AND attempt = " + row[1] + "), 'no attempt row')"),
              "succeeded by drainer")
        << "task " << row[0] << " attempt " << row[1];
  }
  EXPECT_EQ(RunningOn("drainer"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE worker = 'drainer' AND outcome <> 'succeeded'"), 0);
  const auto counters = ExitCounters(drainer.Stderr(), "drainer");
  ASSERT_FALSE(counters.empty()) << "no exit line\n" << Logs();
  EXPECT_EQ(counters.at("claimed"), counters.at("finished"));
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE worker = 'drainer'"), counters.at("finished"));

  // It stopped consuming: the rest is left for someone else.
  const int64_t left = CountActive();
  ASSERT_GT(left, 0) << "the run finished before the signal; nothing left to hand over";
  StartWorker("taker", 4);
  ASSERT_TRUE(WaitAllTerminal(60s)) << Logs();
  EXPECT_EQ(CountState("succeeded"), kTasks);
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE worker = 'taker'"), left);
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts"), kTasks) << "a task ran twice";
  ExpectInvariants(kTasks);
}

TEST_F(Shutdown, SigtermPastTheDrainBudgetHandsTasksBack) {
  constexpr int kTasks = 4;
  Enqueue("sleep", R"({"ms": 8000})", kTasks);
  StartScheduler({"--sweep-interval-ms", "200"});
  auto& drainer = StartWorker("drainer", 4, {"--drain-timeout", "1"});
  ASSERT_TRUE(test::WaitFor([&] { return RunningOn("drainer") == kTasks; }, 60s)) << Logs();

  drainer.Signal(SIGTERM);
  const auto signalled = std::chrono::steady_clock::now();
  const int status = drainer.Wait(30s);
  const double exit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "\n" << Logs();
  EXPECT_EQ(WEXITSTATUS(status), 0) << Logs();
  std::printf("  drainer exited %.2f s after SIGTERM (drain budget 1 s)\n", exit_s);
  EXPECT_LT(exit_s, 5.0) << "it waited for its 8 s tasks instead of handing them back";
  const auto counters = ExitCounters(drainer.Stderr(), "drainer");
  ASSERT_FALSE(counters.empty()) << "no exit line\n" << Logs();
  EXPECT_EQ(counters.count("handed_back") ? counters.at("handed_back") : -1, kTasks) << Logs();
  // Handed back, not left running for the reaper.
  EXPECT_EQ(RunningOn("drainer"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM tasks WHERE state IN ('scheduled', 'queued')"), kTasks);

  StartWorker("taker", 4);
  ASSERT_TRUE(WaitAllTerminal(60s)) << Logs();
  EXPECT_EQ(CountState("succeeded"), kTasks);
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE outcome = 'succeeded' AND worker = 'taker'"), kTasks);
  ExpectInvariants(kTasks);
}

}  // namespace
}  // namespace fila::fault
