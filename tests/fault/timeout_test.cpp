// Fault: handlers that run past their timeout.
//
// Cooperative (`sleep` 5,000 ms, timeout 300 ms, 3 attempts): at the
// deadline the handler's cancel flag is set and it stops; each attempt is
// recorded timed_out (error_kind timeout) well within timeout + 1 s, is
// retried after a short backoff, and the task ends dead with 3 attempts.
//
// Uncooperative (`ignore_cancel`: the handler sleeps on regardless; worker
// --abandon-grace-ms 500): the worker abandons the handler, records the
// attempt timed_out within timeout + grace + 1 s and replaces the slot, so it
// keeps running other tasks while the abandoned handlers still sleep.
//
// Too many abandoned slots (--max-abandoned 1): the worker stops consuming,
// drains and exits with code 3, for its supervisor to restart it.
#include <signal.h>
#include <sys/wait.h>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

class Timeout : public FaultTest {
 protected:
  // Per attempt: attempt, outcome, error_kind, run time in ms, retry_at set.
  std::vector<std::vector<std::string>> Attempts(const std::string& id) const {
    return db_->Rows(
        "SELECT attempt, outcome, error_kind, "
        "       round(extract(epoch FROM finished_at - started_at) * 1000), retry_at IS NOT NULL "
        "FROM task_attempts WHERE task_id = '" + id + "' ORDER BY attempt");
  }
};

TEST_F(Timeout, CooperativeHandlerIsInterruptedAtItsDeadlineUntilDead) {
  constexpr int kTimeoutMs = 300;
  const auto id = Enqueue("sleep", R"({"ms": 5000})", 1,
                          {.max_attempts = 3, .timeout_ms = kTimeoutMs, .retry_base_ms = 50, .retry_cap_ms = 100})
                      .at(0);
  StartScheduler({"--sweep-interval-ms", "50"});
  StartWorker("w1", 2);
  ASSERT_TRUE(WaitAllTerminal(30s)) << Logs();

  EXPECT_EQ(State(id), "dead");
  EXPECT_EQ(db_->Scalar("SELECT attempt FROM tasks WHERE id = '" + id + "'"), "3");
  const auto rows = Attempts(id);
  ASSERT_EQ(rows.size(), 3u) << ::testing::PrintToString(rows);
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE("attempt " + rows[i][0]);
    EXPECT_EQ(rows[i][0], std::to_string(i + 1));
    EXPECT_EQ(rows[i][1], "timed_out");
    EXPECT_EQ(rows[i][2], "timeout");
    const double ran_ms = rows[i][3].empty() ? -1 : std::stod(rows[i][3]);
    EXPECT_GE(ran_ms, kTimeoutMs - 50) << "stopped before its deadline";
    EXPECT_LT(ran_ms, kTimeoutMs + 1000) << "not interrupted within a second of its deadline";
    // Retried after the first two, not after the last.
    EXPECT_EQ(rows[i][4], i + 1 < rows.size() ? "t" : "f");
  }
  ExpectInvariants(1);
}

TEST_F(Timeout, UncooperativeHandlerIsAbandonedAndTheWorkerCarriesOn) {
  constexpr int kTimeoutMs = 300;
  constexpr int kGraceMs = 500;
  constexpr int kSleepMs = 8000;
  const auto stuck = Enqueue("sleep", "{\"ms\": " + std::to_string(kSleepMs) + ", \"ignore_cancel\": true}", 1,
                             {.max_attempts = 2, .timeout_ms = kTimeoutMs, .retry_base_ms = 50, .retry_cap_ms = 100})
                         .at(0);
  StartScheduler({"--sweep-interval-ms", "50"});
  // Two slots, both taken in turn by a handler that never returns in time.
  auto& worker = StartWorker("w1", 2, {"--abandon-grace-ms", std::to_string(kGraceMs), "--max-abandoned", "10"});
  ASSERT_TRUE(test::WaitFor([&] { return State(stuck) == "dead"; }, 30s)) << Logs();

  const auto rows = Attempts(stuck);
  ASSERT_EQ(rows.size(), 2u) << ::testing::PrintToString(rows);
  for (const auto& row : rows) {
    SCOPED_TRACE("attempt " + row[0]);
    EXPECT_EQ(row[1], "timed_out");
    EXPECT_EQ(row[2], "timeout");
    const double ran_ms = row[3].empty() ? -1 : std::stod(row[3]);
    EXPECT_GE(ran_ms, kTimeoutMs - 50);
    EXPECT_LT(ran_ms, kTimeoutMs + kGraceMs + 1000) << "not abandoned in time";
  }

  // The worker keeps going, on fresh slots, while both abandoned handlers
  // still sleep: with 2 slots and no replacement, the other tasks could not
  // start before the first abandoned handler returns, kSleepMs after its start.
  constexpr int kMore = 50;
  Enqueue("noop", "", kMore);
  ASSERT_TRUE(WaitAllTerminal(30s)) << Logs();
  EXPECT_EQ(CountState("succeeded"), kMore);
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE outcome = 'succeeded' AND worker = 'w1'"), kMore);
  const double margin_ms = std::stod(db_->Scalar(
      "SELECT extract(epoch FROM (SELECT min(started_at) FROM task_attempts WHERE task_id = '" + stuck + "') "
      "  + interval '" + std::to_string(kSleepMs) + " milliseconds' "
      "  - (SELECT max(finished_at) FROM tasks WHERE type = 'noop')) * 1000"));
  EXPECT_GT(margin_ms, 0) << "the other tasks waited for the abandoned handlers to return";
  EXPECT_TRUE(worker.Running()) << Logs();

  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(30s), 0) << Logs();
  const auto counters = ExitCounters(worker.Stderr(), "w1");
  ASSERT_FALSE(counters.empty()) << "no exit line\n" << Logs();
  EXPECT_EQ(counters.at("abandoned"), 2);
  ExpectInvariants(1 + kMore);
}

TEST_F(Timeout, TooManyAbandonedSlotsStopTheWorkerWithExitCodeThree) {
  Enqueue("sleep", R"({"ms": 8000, "ignore_cancel": true})", 2, {.max_attempts = 1, .timeout_ms = 300});
  StartScheduler({"--worker-timeout-ms", "3000", "--reap-interval-ms", "200"});
  auto& worker = StartWorker("w1", 2, {"--abandon-grace-ms", "300", "--max-abandoned", "1"});
  const int status = worker.Wait(30s);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "\n" << Logs();
  EXPECT_EQ(WEXITSTATUS(status), 3) << Logs();
  const auto counters = ExitCounters(worker.Stderr(), "w1");
  ASSERT_FALSE(counters.empty()) << "no exit line\n" << Logs();
  EXPECT_GE(counters.at("abandoned"), 1);

  ASSERT_TRUE(WaitAllTerminal(30s)) << Logs();
  EXPECT_EQ(CountState("dead"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE outcome = 'timed_out'"), counters.at("abandoned"));
  ExpectInvariants(2);
}

}  // namespace
}  // namespace fila::fault
