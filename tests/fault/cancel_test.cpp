// Fault: tasks cancelled by an operator (`fila cancel ID`).
//
// Queued: the task is cancelled at once, its message is dropped when a
// worker receives it, and it never starts (started_at NULL, no attempt).
//
// Running (`sleep` 10,000 ms, cooperative): the worker sees the request and
// the handler's cancel flag stops it; the task ends cancelled, with a
// cancelled attempt, within 1.5 s of the command.
#include <signal.h>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

class Cancel : public FaultTest {};

TEST_F(Cancel, QueuedTaskIsCancelledAndNeverStarts) {
  const auto id = Enqueue("sleep", R"({"ms": 10})", 1).at(0);
  StartScheduler();
  // Published: its message waits in the broker.
  ASSERT_TRUE(test::WaitFor([&] { return Count("SELECT count(*) FROM outbox") == 0; }, 30s)) << Logs();

  const auto r = test::RunFila("fila", {"cancel", id}, env_);
  EXPECT_EQ(r.ExitCode(), 0) << r.out << r.err;
  EXPECT_EQ(State(id), "cancelled");  // at once, no worker involved

  // A marker published behind it; one slot, so once the marker ran the
  // worker had received the cancelled task's message first.
  const auto marker = Enqueue("noop", "", 1).at(0);
  auto& worker = StartWorker("w1", 1);
  ASSERT_TRUE(test::WaitFor([&] { return State(marker) == "succeeded"; }, 30s)) << Logs();

  EXPECT_EQ(State(id), "cancelled");
  EXPECT_EQ(db_->Scalar("SELECT started_at IS NULL FROM tasks WHERE id = '" + id + "'"), "t");
  EXPECT_EQ(db_->Scalar("SELECT attempt FROM tasks WHERE id = '" + id + "'"), "0");
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE task_id = '" + id + "'"), 0);
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(30s), 0) << Logs();
  const auto counters = ExitCounters(worker.Stderr(), "w1");
  ASSERT_FALSE(counters.empty()) << "no exit line\n" << Logs();
  EXPECT_EQ(counters.at("claimed"), 1) << "only the marker may be claimed";
  ExpectInvariants(2);
}

TEST_F(Cancel, RunningTaskEndsCancelledWithinASecondAndAHalf) {
  const auto id = Enqueue("sleep", R"({"ms": 10000})", 1).at(0);
  StartScheduler();
  auto& worker = StartWorker("w1", 2);
  ASSERT_TRUE(test::WaitFor([&] { return State(id) == "running"; }, 30s)) << Logs();

  const std::string requested_at = DbNow();
  const auto r = test::RunFila("fila", {"cancel", id}, env_);
  EXPECT_EQ(r.ExitCode(), 0) << r.out << r.err;
  ASSERT_TRUE(test::WaitFor([&] { return State(id) == "cancelled"; }, 10s)) << State(id) << "\n" << Logs();

  const double took_ms = std::stod(db_->Scalar("SELECT extract(epoch FROM finished_at - '" + requested_at +
                                               "'::timestamptz) * 1000 FROM tasks WHERE id = '" + id + "'"));
  std::printf("  running task cancelled %.0f ms after the command\n", took_ms);
  EXPECT_LE(took_ms, 1500.0);
  const auto rows = db_->Rows("SELECT attempt, outcome, worker FROM task_attempts WHERE task_id = '" + id + "'");
  ASSERT_EQ(rows.size(), 1u) << ::testing::PrintToString(rows);
  EXPECT_EQ(rows[0][1], "cancelled");
  EXPECT_EQ(rows[0][2], "w1");
  EXPECT_TRUE(worker.Running()) << Logs();
  ExpectInvariants(1);
}

}  // namespace
}  // namespace fila::fault
