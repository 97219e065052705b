// Dependencies and children from handlers, through real PostgreSQL,
// RabbitMQ, fila-scheduler and fila-worker.
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "workflow_fixture.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;
using Workflow = WorkflowTest;

TEST_F(Workflow, ThreeLevelFanOutAndFanInRunsEveryJoinAfterItsChildren) {
  auto scheduler = Scheduler();
  auto w1 = Worker("wf-a", 4);
  auto w2 = Worker("wf-b", 4);
  // root -> 3 fanouts (+ join) -> 3 fanouts each (+ join): 1 + 4 + 12 tasks.
  const std::string root = Enqueue("fanout", R"({"width": 3, "depth": 2})");
  ASSERT_TRUE(WaitFor([&] { return db_->Count("SELECT count(*) FROM tasks") == 17; }, 30s));
  ASSERT_TRUE(WaitAllTerminal(60s));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE state = 'succeeded'"), 17);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE type = 'noop'"), 4);
  // Every join started after each of its dependencies finished.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_deps d JOIN tasks c ON c.id = d.task_id "
                       "JOIN tasks p ON p.id = d.parent_id WHERE c.started_at < p.finished_at"),
            0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_deps"), 12);
  // Exactly one recorded attempt per task.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts"), 17);

  std::string tree = Fila({"get", root, "--tree"});
  std::istringstream lines(tree);
  int count = 0;
  int grandchildren = 0;
  for (std::string line; std::getline(lines, line);) {
    ++count;
    if (line.rfind("    ", 0) == 0 && line[4] != ' ') ++grandchildren;
  }
  EXPECT_EQ(count, 17) << tree;
  EXPECT_EQ(grandchildren, 12) << tree;
  EXPECT_EQ(tree.rfind(root, 0), 0u) << tree;
}

TEST_F(Workflow, ChildrenOfAFailedAttemptAreNeverCreated) {
  auto scheduler = Scheduler();
  auto worker = Worker("wf-fail", 2);
  const std::string root = Enqueue("fanout", R"({"width": 5, "depth": 1, "fail": true})");
  ASSERT_TRUE(WaitAllTerminal(30s));
  EXPECT_EQ(State(root), "failed");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 1);
}

TEST_F(Workflow, DeadParentCancelsItsDependentsWithTheReason) {
  auto scheduler = Scheduler();
  auto worker = Worker("wf-dead", 2);
  const std::string parent =
      Enqueue("flaky", R"({"fail_times": 10})", {"--max-attempts", "1"});
  const std::string child = Enqueue("noop", "{}", {"--depends-on", parent});
  const std::string grandchild = Enqueue("noop", "{}", {"--depends-on", child});
  ASSERT_TRUE(WaitAllTerminal(30s));
  EXPECT_EQ(State(parent), "dead");
  EXPECT_EQ(State(child), "cancelled");
  EXPECT_EQ(State(grandchild), "cancelled");
  EXPECT_EQ(db_->Scalar("SELECT last_error FROM tasks WHERE id = '" + child + "'"),
            "dependency " + parent + " ended dead");
  EXPECT_EQ(db_->Scalar("SELECT last_error FROM tasks WHERE id = '" + grandchild + "'"),
            "dependency " + child + " ended cancelled");
  // Neither ever ran.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts WHERE task_id IN ('" + child + "', '" +
                       grandchild + "')"),
            0);
}

TEST_F(Workflow, DependenciesAreSettledWhenTheTaskIsEnqueued) {
  auto scheduler = Scheduler();
  auto worker = Worker("wf-late", 2);
  const std::string done = Enqueue("noop", "{}");
  ASSERT_TRUE(WaitAllTerminal(30s));
  // Its parent already succeeded: queued at once, and runs.
  const std::string after = Enqueue("noop", "{}", {"--depends-on", done});
  ASSERT_TRUE(WaitAllTerminal(30s));
  EXPECT_EQ(State(after), "succeeded");
  // A parent that already ended otherwise cancels it at once.
  db_->Exec("UPDATE tasks SET state = 'dead' WHERE id = '" + done + "'");
  const std::string doomed = Enqueue("noop", "{}", {"--depends-on", done});
  EXPECT_EQ(State(doomed), "cancelled");
  // An unknown parent is a clear error, and nothing is written.
  RunResult bad = RunFila("fila", {"enqueue", "noop", "--queue", queue_, "--depends-on",
                                   "00000000-0000-4000-8000-000000000000"},
                          env_);
  EXPECT_EQ(bad.ExitCode(), 2);
  EXPECT_NE(bad.err.find("depends_on: no task"), std::string::npos) << bad.err;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 3);
}

TEST_F(Workflow, ATaskWaitsBlockedUntilEveryParentSucceeds) {
  // No worker for the parents' queue yet: the child must stay blocked.
  auto scheduler = Scheduler();
  const std::string a = Enqueue("noop", "{}");
  const std::string b = Enqueue("sleep", R"({"ms": 300})");
  const std::string child = Enqueue("noop", "{}", {"--depends-on", a + "," + b});
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(State(child), "blocked");
  auto worker = Worker("wf-blocked", 1);
  ASSERT_TRUE(WaitAllTerminal(30s));
  EXPECT_EQ(State(child), "succeeded");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks t, tasks p WHERE t.id = '" + child +
                       "' AND p.id IN ('" + a + "', '" + b + "') AND t.started_at < p.finished_at"),
            0);
}

}  // namespace
}  // namespace fila::test
