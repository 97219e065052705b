// The chaos run's history checker must fail: a valid history written by
// hand passes, and each corruption of it (a duplicated success, a gap in
// the attempts, a lost enqueue, a late finish accepted, ...) is reported
// under its kind. Real PostgreSQL (a fresh migrated database per test).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "history_check.h"
#include "support/harness.h"

namespace fila::chaos {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;

// Fixed ids, so that each test can corrupt a named task.
constexpr const char* kRetried = "00000000-0000-4000-8000-000000000001";   // lost, then succeeded
constexpr const char* kDead = "00000000-0000-4000-8000-000000000002";      // failed 3 times
constexpr const char* kLater = "00000000-0000-4000-8000-000000000003";     // retry due in an hour
constexpr const char* kBlocked = "00000000-0000-4000-8000-000000000004";   // waits for kParent
constexpr const char* kParent = "00000000-0000-4000-8000-000000000005";    // delayed an hour
constexpr const char* kFanout = "00000000-0000-4000-8000-000000000006";    // width 2, depth 1
constexpr const char* kChildA = "00000000-0000-4000-8000-000000000007";
constexpr const char* kChildB = "00000000-0000-4000-8000-000000000008";
constexpr const char* kJoin = "00000000-0000-4000-8000-000000000009";
constexpr const char* kUnknown = "00000000-0000-4000-8000-0000000000ff";
constexpr const char* kOrphan = "00000000-0000-4000-8000-0000000000fe";

class HistoryCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<test::TestDatabase>();
    // FanoutPayload{width: 2, depth: 1}: fields 1 and 2, varints.
    const std::string fanout_payload = "\\x08021001";
    Task(kRetried, "sleep", "succeeded", 2);
    Attempt(kRetried, 1, "w1", "lost");
    Attempt(kRetried, 2, "w2", "succeeded");
    Task(kDead, "flaky", "dead", 3);
    for (int a = 1; a <= 3; ++a) Attempt(kDead, a, "w2", "failed");
    Task(kLater, "flaky", "scheduled", 1, "now() + interval '1 hour'");
    Attempt(kLater, 1, "w1", "failed");
    Task(kParent, "noop", "scheduled", 0, "now() + interval '1 hour'");
    Task(kBlocked, "noop", "blocked", 0);
    db_->Exec(std::string("INSERT INTO task_deps (task_id, parent_id) VALUES ('") + kBlocked + "', '" + kParent + "')");
    Task(kFanout, "fanout", "succeeded", 1, "now()", "", fanout_payload);
    Attempt(kFanout, 1, "w1", "succeeded");
    for (const char* child : {kChildA, kChildB, kJoin}) {
      Task(child, child == kJoin ? "noop" : "fanout", "succeeded", 1, "now()", kFanout);
      Attempt(child, 1, "w2", "succeeded");
    }
    for (const char* id : {kRetried, kDead, kLater, kParent, kBlocked, kFanout}) {
      input_.enqueued.push_back({id, std::string("key-") + id, "t", "http"});
    }
    // w1 finished kRetried's first attempt after it had been reaped.
    input_.workers.push_back({"w1", {{"w1", kRetried, 1}}, 1});
    input_.workers.push_back({"w2", {}, -1});
    input_.database_url = db_->url();
  }

  void Task(const std::string& id, const std::string& type, const std::string& state, int attempt,
            const std::string& run_at = "now()", const std::string& parent = "", const std::string& payload = "") {
    db_->Exec("INSERT INTO tasks (id, type, queue, priority, state, attempt, max_attempts, timeout_ms, run_at, "
              "parent_id, payload, has_dependents) VALUES ('" + id + "', '" + type + "', 'chaos', 0, '" + state +
              "', " + std::to_string(attempt) + ", 5, 60000, " + run_at + ", " +
              (parent.empty() ? "NULL" : "'" + parent + "'") + ", '" + payload + "'::bytea, false)");
  }

  void Attempt(const std::string& id, int attempt, const std::string& worker, const std::string& outcome) {
    db_->Exec("INSERT INTO task_attempts (task_id, attempt, worker, outcome) VALUES ('" + id + "', " +
              std::to_string(attempt) + ", '" + worker + "', '" + outcome + "')");
  }

  std::multiset<std::string> Kinds() {
    Report report;
    CheckHistory(input_, report);
    std::multiset<std::string> kinds;
    for (const auto& v : report.violations) kinds.insert(v.kind);
    return kinds;
  }

  std::unique_ptr<test::TestDatabase> db_;
  CheckInput input_;
};

TEST_F(HistoryCheck, ValidHistoryPasses) {
  Report report;
  CheckHistory(input_, report);
  EXPECT_THAT(report.violations, IsEmpty()) << report.violations.front().kind << ": "
                                            << report.violations.front().detail;
  EXPECT_EQ(report.counts["tasks acknowledged to producers"], 6);
  EXPECT_EQ(report.counts["late finishes refused (workers' logs)"], 1);
  EXPECT_EQ(report.counts["tasks succeeded"], 5);
}

TEST_F(HistoryCheck, DuplicatedSuccessIsReported) {
  db_->Exec(std::string("UPDATE task_attempts SET outcome = 'succeeded' WHERE task_id = '") + kRetried +
            "' AND attempt = 1");
  // The superseded attempt's finish was accepted: two successes, one of
  // them below the final attempt.
  EXPECT_EQ(Kinds(), (std::multiset<std::string>{"double-success", "stale-success"}));
}

TEST_F(HistoryCheck, GapInAttemptsIsReported) {
  db_->Exec(std::string("DELETE FROM task_attempts WHERE task_id = '") + kDead + "' AND attempt = 2");
  EXPECT_EQ(Kinds(), std::multiset<std::string>{"attempt-gap"});
}

TEST_F(HistoryCheck, MissingSuccessIsReported) {
  db_->Exec(std::string("DELETE FROM task_attempts WHERE task_id = '") + kRetried + "' AND attempt = 2");
  EXPECT_EQ(Kinds(), (std::multiset<std::string>{"attempt-gap", "missing-success"}));
}

TEST_F(HistoryCheck, LostEnqueueIsReported) {
  input_.enqueued.push_back({kUnknown, "key-unknown", "noop", "cli"});
  EXPECT_EQ(Kinds(), std::multiset<std::string>{"lost"});
}

TEST_F(HistoryCheck, StuckTasksAreReported) {
  db_->Exec(std::string("UPDATE tasks SET run_at = now() - interval '1 minute' WHERE id = '") + kLater + "'");
  db_->Exec(std::string("UPDATE tasks SET state = 'cancelled' WHERE id = '") + kParent + "'");
  // A due retry never released, and a dependent left blocked after its
  // parent ended.
  EXPECT_EQ(Kinds(), (std::multiset<std::string>{"stuck", "stuck"}));
}

TEST_F(HistoryCheck, AcceptedLateFinishIsReported) {
  // w1 says its finish of attempt 2 was refused, but attempt 2 was not
  // reaped: it is recorded as w2's success.
  input_.workers[0].refusals.push_back({"w1", kRetried, 2});
  input_.workers[0].exit_stale = 2;
  EXPECT_EQ(Kinds(), std::multiset<std::string>{"fence"});
}

TEST_F(HistoryCheck, RefusalCounterDisagreeingWithLogIsReported) {
  input_.workers[0].exit_stale = 3;
  EXPECT_EQ(Kinds(), std::multiset<std::string>{"refused-count"});
}

TEST_F(HistoryCheck, WorkflowViolationsAreReported) {
  Task(kUnknown, "noop", "succeeded", 1, "now()", kFanout);  // a third child of a width-2 fanout
  Attempt(kUnknown, 1, "w2", "succeeded");
  Task(kOrphan, "noop", "succeeded", 1, "now()", kDead);  // a child of a task that did not succeed
  Attempt(kOrphan, 1, "w2", "succeeded");
  db_->Exec(std::string("UPDATE tasks SET state = 'running', attempt = 1 WHERE id = '") + kBlocked + "'");
  const auto kinds = Kinds();
  EXPECT_THAT(kinds, Contains("children"));
  EXPECT_THAT(kinds, Contains("orphan-child"));
  EXPECT_THAT(kinds, Contains("dependency"));    // started before its parent succeeded
}

TEST_F(HistoryCheck, OneKeyTwoIdsIsReported) {
  input_.enqueued.push_back({kDead, std::string("key-") + kRetried, "t", "cli"});
  EXPECT_EQ(Kinds(), std::multiset<std::string>{"idempotency"});
}

TEST(HistoryLogs, ParsesProducerAndWorkerLogs) {
  Report report;
  const auto enqueued = ParseEnqueueLog(std::string("# producer 1\n") + kRetried + " k1 sleep http\ngarbage\n", report);
  ASSERT_EQ(enqueued.size(), 1u);
  EXPECT_EQ(enqueued[0].key, "k1");
  ASSERT_EQ(report.violations.size(), 1u);
  EXPECT_EQ(report.violations[0].kind, "malformed");

  const auto log = ParseWorkerLog(
      "w1", std::string("... info finish of task ") + kRetried + " attempt 4 was fenced out (no longer current)\n" +
                R"({"level":"info","msg":"finish of task )" + kDead + R"( attempt 1 was fenced out"})" + "\n" +
                "... worker w1 stopped: claimed=9 finished=7 stale=2 duplicates=0\n");
  ASSERT_EQ(log.refusals.size(), 2u);
  EXPECT_EQ(log.refusals[0].task_id, kRetried);
  EXPECT_EQ(log.refusals[0].attempt, 4);
  EXPECT_EQ(log.refusals[1].task_id, kDead);
  EXPECT_EQ(log.exit_stale, 2);
}

}  // namespace
}  // namespace fila::chaos
