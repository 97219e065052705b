// The store contract, the console (ConsoleStore and the task list's
// filters): payload `where`, priority and states; counts; dead and failed
// tasks grouped by error; bulk jobs in batches; the audit log; worker drains.
#include "conformance_support.h"
#include "fila/core/errors.h"
#include "fila/core/task_filter.h"
#include "store_conformance.h"

namespace fila::test {
namespace {

NewTask WithArgs(const std::string& args_json, uint32_t priority = 0, std::string tenant = "default") {
  NewTask t = Noop({}, std::move(tenant));
  t.args_json = args_json;
  t.priority = priority;
  return t;
}

// Runs `id` to a permanent failure with `error`.
void FailTask(StateStore& store, const std::string& id, const std::string& error, TaskState state) {
  auto claim = ClaimIds(store, {id});
  ASSERT_EQ(claim.claimed.size(), 1u);
  FinishRecord r;
  r.id = id;
  r.attempt = claim.claimed[0].attempt;
  r.state = state;
  r.outcome = Outcome::kFailed;
  r.error = error;
  r.error_kind = "permanent";
  r.worker = "w1";
  ASSERT_TRUE(FinishOne(store, r));
}

std::vector<std::string> Ids(const std::vector<TaskView>& tasks) {
  std::vector<std::string> ids;
  for (const auto& t : tasks) ids.push_back(t.id);
  return ids;
}

TEST_P(StoreConformance, TheTaskListFiltersByAPayloadPathPriorityAndStates) {
  const std::string acme = EnqueueOne(store(), WithArgs(R"({"account":"acme","n":3,"meta":{"region":"br"}})", 5));
  const std::string other = EnqueueOne(store(), WithArgs(R"({"account":"other","n":4})", 1));
  const std::string none = EnqueueOne(store(), Noop());  // no args stored

  ListFilter f;
  f.where = ParseWhere(R"(args.account = "acme")");
  EXPECT_EQ(Ids(store().ListTasks(f)), std::vector<std::string>{acme});
  f.where = ParseWhere("args.n = 4");
  EXPECT_EQ(Ids(store().ListTasks(f)), std::vector<std::string>{other});
  f.where = ParseWhere(R"(args.meta.region = "br")");
  EXPECT_EQ(Ids(store().ListTasks(f)), std::vector<std::string>{acme});
  f.where = ParseWhere(R"(args.account != "acme")");
  auto not_acme = Ids(store().ListTasks(f));
  EXPECT_EQ(not_acme.size(), 2u);
  EXPECT_TRUE(Contains(not_acme, other) && Contains(not_acme, none));
  f.where = ParseWhere(R"(args.account = "nobody")");
  EXPECT_TRUE(store().ListTasks(f).empty());
  EXPECT_EQ(store().CountTasks(f), 0);

  ListFilter by_priority;
  by_priority.priority = 5;
  EXPECT_EQ(Ids(store().ListTasks(by_priority)), std::vector<std::string>{acme});

  ListFilter states;
  states.states = {TaskState::kDead, TaskState::kQueued};
  EXPECT_EQ(store().CountTasks(states), 3);
  states.states = {TaskState::kDead, TaskState::kFailed};
  EXPECT_EQ(store().CountTasks(states), 0);

  ListFilter tenant;
  tenant.tenant = "someone-else";
  EXPECT_EQ(store().CountTasks(tenant), 0);
}

TEST_P(StoreConformance, DeadAndFailedTasksGroupByErrorWithTheLatestAsSample) {
  std::vector<std::string> timeouts;
  for (int i = 0; i < 3; ++i) {
    timeouts.push_back(EnqueueOne(store()));
    FailTask(store(), timeouts.back(), "upstream timed out", TaskState::kDead);
    Advance(std::chrono::milliseconds(5));
  }
  const std::string bad = EnqueueOne(store());
  FailTask(store(), bad, "bad input: field x", TaskState::kFailed);
  EnqueueOne(store());  // queued: not in any group

  auto groups = store().ErrorGroups(ListFilter{}, 10);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].error, "upstream timed out");
  EXPECT_EQ(groups[0].count, 3);
  EXPECT_EQ(groups[0].sample_task_id, timeouts.back());
  EXPECT_GT(groups[0].last_at_ms, 0);
  EXPECT_EQ(groups[1].error, "bad input: field x");
  EXPECT_EQ(groups[1].count, 1);
  EXPECT_EQ(groups[1].sample_task_id, bad);

  ListFilter failed_only;
  failed_only.state = TaskState::kFailed;
  ASSERT_EQ(store().ErrorGroups(failed_only, 10).size(), 1u);
  EXPECT_EQ(store().ErrorGroups(ListFilter{}, 1).size(), 1u);  // the limit
}

TEST_P(StoreConformance, ABulkRetryRunsInBatchesAndRetriesEachMatchingTaskOnce) {
  std::vector<std::string> dead;
  for (int i = 0; i < 7; ++i) {
    dead.push_back(EnqueueOne(store(), WithArgs(R"({"account":"acme"})")));
    FailTask(store(), dead.back(), "boom", TaskState::kDead);
  }
  const std::string other_dead = EnqueueOne(store(), WithArgs(R"({"account":"other"})"));
  FailTask(store(), other_dead, "boom", TaskState::kDead);
  DrainOutbox(store());

  ListFilter f;
  f.state = TaskState::kDead;
  f.where = ParseWhere(R"(args.account = "acme")");
  ASSERT_EQ(store().CountTasks(f), 7);
  BulkJob job;
  job.action = BulkAction::kRetry;
  job.filter_json = R"({"state":"dead"})";
  job.total = 7;
  job.created_by = "token t1";
  AuditEntry audit{0, 0, "token t1", "operator", "default", "bulk.retry", "", R"({"state":"dead"})", 7};
  BulkJob created = store().CreateBulkJob(job, audit);
  EXPECT_FALSE(created.id.empty());
  EXPECT_EQ(created.state, "running");
  EXPECT_EQ(created.total, 7);

  auto leased = store().LeaseBulkJob(30000);
  ASSERT_TRUE(leased);
  EXPECT_EQ(leased->id, created.id);
  EXPECT_FALSE(store().LeaseBulkJob(30000));  // held

  BulkJob step = store().BulkStep(created.id, f, 3, 30000);
  EXPECT_EQ(step.state, "running");
  EXPECT_EQ(step.done, 3);
  step = store().BulkStep(created.id, f, 3, 30000);
  EXPECT_EQ(step.done, 6);
  step = store().BulkStep(created.id, f, 3, 30000);  // a short batch ends it
  EXPECT_EQ(step.state, "done");
  EXPECT_EQ(step.done, 7);
  EXPECT_EQ(step.skipped, 0);
  EXPECT_GT(step.finished_at_ms, 0);
  EXPECT_EQ(store().BulkStep(created.id, f, 3, 30000).done, 7);  // a done job stays as it is

  for (const auto& id : dead) {
    auto t = store().GetTask(id);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->state, TaskState::kQueued) << id;
  }
  EXPECT_EQ(store().GetTask(other_dead)->state, TaskState::kDead);
  EXPECT_EQ(DrainOutbox(store()), 7u);  // one publish each

  auto jobs = store().ListBulkJobs(10);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, "done");
  auto entries = store().ListAudit(10, 0);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].action, "bulk.retry");
  EXPECT_EQ(entries[0].target, created.id);
  EXPECT_EQ(entries[0].count, 7);
  EXPECT_EQ(entries[0].who, "token t1");
}

TEST_P(StoreConformance, ABulkCancelAndDeleteApplyOnlyWhereTheyMayAndCountTheRestSkipped) {
  const std::string queued = EnqueueOne(store());
  const std::string finished = EnqueueOne(store());
  FailTask(store(), finished, "x", TaskState::kFailed);
  BulkJob job;
  job.action = BulkAction::kCancel;
  job.filter_json = "{}";
  job.total = 2;
  job.created_by = "token t1";
  AuditEntry audit{0, 0, "token t1", "operator", "default", "bulk.cancel", "", "{}", 2};
  BulkJob cancel = store().CreateBulkJob(job, audit);
  BulkJob done = store().BulkStep(cancel.id, ListFilter{}, 100, 30000);
  EXPECT_EQ(done.state, "done");
  EXPECT_EQ(done.done, 1);
  EXPECT_EQ(done.skipped, 1);
  EXPECT_EQ(store().GetTask(queued)->state, TaskState::kCancelled);

  job.action = BulkAction::kDelete;
  BulkJob del = store().CreateBulkJob(job, audit);
  EXPECT_EQ(store().BulkStep(del.id, ListFilter{}, 100, 30000).done, 2);
  EXPECT_FALSE(store().GetTask(queued));
  EXPECT_FALSE(store().GetTask(finished));

  job.action = BulkAction::kRetry;
  BulkJob failing = store().CreateBulkJob(job, audit);
  store().FailBulkJob(failing.id, "stopped");
  auto got = store().GetBulkJob(failing.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, "failed");
  EXPECT_EQ(got->error, "stopped");
  EXPECT_FALSE(store().GetBulkJob("not-a-uuid"));
}

TEST_P(StoreConformance, TheAuditLogPagesNewestFirst) {
  for (int i = 0; i < 5; ++i) {
    store().AppendAudit({0, 0, "token t" + std::to_string(i), "operator", "default", "queue.pause", "q", "", 0});
  }
  auto first = store().ListAudit(2, 0);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].who, "token t4");
  EXPECT_EQ(first[1].who, "token t3");
  EXPECT_GT(first[0].at_ms, 0);
  auto next = store().ListAudit(10, first[1].id);
  ASSERT_EQ(next.size(), 3u);
  EXPECT_EQ(next[0].who, "token t2");
  EXPECT_EQ(next[2].who, "token t0");
}

TEST_P(StoreConformance, ADrainedWorkerReadsItInItsNextHeartbeatAndConsumesNothing) {
  WorkerInfo w;
  w.id = "w-drain";
  w.queues = {"default"};
  w.concurrency = 4;
  w.version = "9.9.9";
  EXPECT_FALSE(store().Heartbeat(w, 30000));
  EXPECT_FALSE(store().DrainWorker("no-such-worker"));
  EXPECT_TRUE(store().DrainWorker("w-drain"));
  EXPECT_TRUE(store().Heartbeat(w, 30000));
  EXPECT_TRUE(store().Heartbeat(w, 30000));  // stays drained
  auto snapshot = store().Monitor(10000);
  ASSERT_EQ(snapshot.workers.size(), 1u);
  EXPECT_TRUE(snapshot.workers[0].draining);
  EXPECT_EQ(snapshot.workers[0].version, "9.9.9");

  EnqueueOne(store(), WithArgs("{}", 3));
  auto details = store().QueueDetails("", 10000);
  ASSERT_EQ(details.size(), 1u);
  EXPECT_EQ(details[0].queue, "default");
  EXPECT_EQ(details[0].consumers, 0);  // draining: no consumer
  EXPECT_EQ(details[0].by_priority.at(3), 1);
}

TEST_P(StoreConformance, StatsCountFinishedAndFailedTasksPerBucketWithBacklogs) {
  const std::string ok = EnqueueOne(store());
  auto claim = ClaimIds(store(), {ok});
  ASSERT_EQ(claim.claimed.size(), 1u);
  FinishRecord r;
  r.id = ok;
  r.attempt = claim.claimed[0].attempt;
  r.worker = "w1";
  ASSERT_TRUE(FinishOne(store(), r));
  const std::string bad = EnqueueOne(store());
  FailTask(store(), bad, "x", TaskState::kDead);
  EnqueueOne(store());  // backlog

  auto points = store().Stats(0, 3600, "");
  int64_t finished = 0, failed = 0;
  for (const auto& p : points) {
    EXPECT_EQ(p.queue, "default");
    EXPECT_EQ(p.bucket_start_ms % 3600000, 0);
    finished += p.finished;
    failed += p.failed;
    EXPECT_GE(p.run_p95_ms, p.run_p50_ms);
  }
  EXPECT_EQ(finished, 2);
  EXPECT_EQ(failed, 1);
  EXPECT_TRUE(store().Stats(0, 3600, "someone-else").empty());
  auto backlogs = store().Backlogs("");
  ASSERT_EQ(backlogs.size(), 1u);
  EXPECT_EQ(backlogs[0].backlog, 1);
}

}  // namespace
}  // namespace fila::test
