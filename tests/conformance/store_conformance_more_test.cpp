// The store contract, part two: dependencies, children, per-key limits,
// tokens, schedules, lists and cursors, counts, tenancy of reads, the
// monitor view.
#include "conformance_support.h"
#include "fila/core/errors.h"
#include "fila/core/uuid.h"
#include "store_conformance.h"

namespace fila::test {
namespace {

using std::chrono::milliseconds;

NewTask WithId(NewTask t, std::vector<std::string> depends_on = {}) {
  t.id = NewUuid();
  t.depends_on = std::move(depends_on);
  return t;
}

bool Succeed(StateStore& store, const std::string& id, std::vector<NewTask> children = {},
             size_t max_tree_tasks = 0) {
  auto c = ClaimIds(store, {id});
  if (c.claimed.size() != 1) return false;
  return FinishOne(store, {.id = id,
                           .attempt = c.claimed[0].attempt,
                           .state = TaskState::kSucceeded,
                           .worker = "w1",
                           .children = std::move(children),
                           .max_tree_tasks = max_tree_tasks});
}

TEST_P(StoreConformance, DependentsWaitBlockedUntilEveryParentSucceeds) {
  NewTask a = WithId(Noop()), b = WithId(Noop());
  NewTask c = WithId(Noop(), {a.id, b.id});
  auto r = EnqueueAll(store(), {a, b, c});
  EXPECT_EQ(r[2].state, TaskState::kBlocked);
  DrainOutbox(store());
  EXPECT_EQ(store().GetTask(c.id)->depends_on, (std::vector<std::string>{std::min(a.id, b.id),
                                                                         std::max(a.id, b.id)}));
  EXPECT_EQ(ClaimIds(store(), {c.id}).not_claimable, std::vector<std::string>{c.id});
  ASSERT_TRUE(Succeed(store(), a.id));
  EXPECT_EQ(store().GetTask(c.id)->state, TaskState::kBlocked);
  ASSERT_TRUE(Succeed(store(), b.id));
  EXPECT_EQ(store().GetTask(c.id)->state, TaskState::kQueued);
  auto items = store().FetchOutbox(10);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].envelope.id, c.id);
  // A task enqueued after its parent succeeded is queued at once.
  EXPECT_EQ(EnqueueAll(store(), {WithId(Noop(), {a.id})})[0].state, TaskState::kQueued);
}

TEST_P(StoreConformance, AParentThatFailsCancelsItsWholeBlockedSubtree) {
  NewTask a = WithId(Noop());
  NewTask b = WithId(Noop(), {a.id});
  NewTask c = WithId(Noop(), {b.id});
  EnqueueAll(store(), {a, b, c});
  auto claim = ClaimIds(store(), {a.id});
  ASSERT_TRUE(FinishOne(store(), {.id = a.id, .attempt = 1, .state = TaskState::kDead,
                                  .outcome = Outcome::kFailed, .error = "boom"}));
  auto vb = store().GetTask(b.id);
  auto vc = store().GetTask(c.id);
  EXPECT_EQ(vb->state, TaskState::kCancelled);
  EXPECT_EQ(vb->last_error, "dependency " + a.id + " ended dead");
  EXPECT_EQ(vc->state, TaskState::kCancelled);
  EXPECT_EQ(vc->last_error, "dependency " + b.id + " ended cancelled");
  // Depending on an ended task that did not succeed: cancelled at once.
  auto late = EnqueueAll(store(), {WithId(Noop(), {a.id})});
  EXPECT_EQ(late[0].state, TaskState::kCancelled);
}

TEST_P(StoreConformance, BadDependenciesAreRefusedAndWriteNothing) {
  NewTask self = WithId(Noop());
  self.depends_on = {self.id};
  EXPECT_THROW(EnqueueAll(store(), {self}), PermanentError);
  NewTask x = WithId(Noop()), y = WithId(Noop());
  x.depends_on = {y.id};
  y.depends_on = {x.id};
  EXPECT_THROW(EnqueueAll(store(), {x, y}), PermanentError);
  EXPECT_THROW(EnqueueAll(store(), {Noop(), WithId(Noop(), {NewUuid()})}), PermanentError);
  const std::string other = EnqueueOne(store(), Noop("", "acme"));
  EXPECT_THROW(EnqueueAll(store(), {WithId(Noop(), {other})}), PermanentError);
  EXPECT_EQ(store().CountActive(), 1);  // only `other`
  EXPECT_EQ(DrainOutbox(store()), 1u);
}

TEST_P(StoreConformance, ChildrenAreInsertedWithASuccessfulFinishOnly) {
  const std::string parent = EnqueueOne(store());
  NewTask child = WithId(Noop());
  child.parent_id = parent;
  NewTask grandchild = WithId(Noop(), {child.id});
  grandchild.parent_id = parent;
  ASSERT_TRUE(Succeed(store(), parent, {child, grandchild}));
  EXPECT_EQ(store().GetTask(child.id)->state, TaskState::kQueued);
  EXPECT_EQ(store().GetTask(child.id)->parent_id, parent);
  EXPECT_EQ(store().GetTask(grandchild.id)->state, TaskState::kBlocked);
  auto tree = store().TaskTree(parent, 100);
  ASSERT_EQ(tree.size(), 3u);
  EXPECT_EQ(tree[0].id, parent);
  EXPECT_EQ(tree[0].depth, 0u);
  EXPECT_EQ(tree[1].depth, 1u);
  EXPECT_EQ(tree[2].depth, 1u);
  // Each node with the tasks it waits for (none for the parent).
  EXPECT_TRUE(tree[0].depends_on.empty());
  for (size_t i = 1; i < tree.size(); ++i) {
    const auto expected = tree[i].id == grandchild.id ? std::vector<std::string>{child.id}
                                                      : std::vector<std::string>{};
    EXPECT_EQ(tree[i].depends_on, expected) << tree[i].id;
  }
  EXPECT_EQ(store().TaskTree(parent, 2).size(), 2u);
  EXPECT_TRUE(store().TaskTree(NewUuid(), 10).empty());

  // A stale finish drops its children with it.
  const std::string other = EnqueueOne(store());
  ASSERT_EQ(ClaimIds(store(), {other}).claimed.size(), 1u);
  NewTask dropped = WithId(Noop());
  EXPECT_FALSE(FinishOne(store(), {.id = other, .attempt = 5, .state = TaskState::kSucceeded,
                                   .children = {dropped}}));
  EXPECT_FALSE(store().GetTask(dropped.id).has_value());
}

TEST_P(StoreConformance, RefusedChildrenFailTheirParent) {
  const std::string parent = EnqueueOne(store());
  NewTask child = WithId(Noop());
  child.parent_id = parent;
  NewTask second = WithId(Noop());
  second.parent_id = parent;
  // Over the tree cap (the parent plus two children > 2).
  ASSERT_TRUE(ClaimIds(store(), {parent}).claimed.size() == 1);
  std::vector<FinishRecord> f{{.id = parent, .attempt = 1, .state = TaskState::kSucceeded,
                               .children = {child, second}, .max_tree_tasks = 2}};
  store().Finish(f);
  auto v = store().GetTask(parent);
  EXPECT_EQ(v->state, TaskState::kFailed);
  EXPECT_NE(v->last_error.find("its child tasks were refused"), std::string::npos) << v->last_error;
  EXPECT_FALSE(store().GetTask(child.id).has_value());
  // A bad child (an id that is no UUID) is refused the same way.
  const std::string p2 = EnqueueOne(store());
  NewTask bad = Noop();
  bad.id = "nope";
  Succeed(store(), p2, {bad});
  EXPECT_EQ(store().GetTask(p2)->state, TaskState::kFailed);
}

TEST_P(StoreConformance, AConcurrencyLimitDefersTheExtraClaimUntilAUnitIsFree) {
  NewTask t = Noop();
  t.limit_key = "acct:1";
  t.limit.max_concurrent = 1;
  auto ids = EnqueueAll(store(), {t, t});
  DrainOutbox(store());
  auto claim = ClaimIds(store(), {ids[0].id, ids[1].id});
  ASSERT_EQ(claim.claimed.size(), 1u);
  ASSERT_EQ(claim.deferred.size(), 1u);
  const std::string waiting = claim.deferred[0];
  EXPECT_EQ(store().GetTask(waiting)->state, TaskState::kScheduled);
  ASSERT_TRUE(FinishOne(store(), {.id = claim.claimed[0].id, .attempt = 1,
                                  .state = TaskState::kSucceeded}));
  // The holder's finish queues the waiter at once, with its outbox row.
  EXPECT_EQ(store().GetTask(waiting)->state, TaskState::kQueued);
  EXPECT_EQ(DrainOutbox(store()), 1u);
  EXPECT_EQ(store().ReleaseDue(10), 0);
  auto next = ClaimIds(store(), {waiting});
  ASSERT_EQ(next.claimed.size(), 1u);
  EXPECT_EQ(next.claimed[0].attempt, 1u);
}

TEST_P(StoreConformance, ARateLimitReservesALaterSlot) {
  NewTask t = Noop();
  t.limit_key = "host:a";
  t.limit.rate = 1;
  t.limit.period = milliseconds(60000);
  auto ids = EnqueueAll(store(), {t, t});
  auto first = ClaimIds(store(), {ids[0].id});
  ASSERT_EQ(first.claimed.size(), 1u);
  auto second = ClaimIds(store(), {ids[1].id});
  EXPECT_TRUE(second.claimed.empty());
  ASSERT_EQ(second.deferred, std::vector<std::string>{ids[1].id});
  auto v = store().GetTask(ids[1].id);
  EXPECT_EQ(v->state, TaskState::kScheduled);
  EXPECT_GT(v->run_at_ms, NowUnixMs() + 50000);
}

TEST_P(StoreConformance, TokensAuthenticateUntilRevoked) {
  auto [info, secret] = store().CreateToken("acme", "producer");
  EXPECT_TRUE(IsUuid(info.id));
  EXPECT_EQ(info.tenant, "acme");
  EXPECT_EQ(secret.rfind("fila_", 0), 0u);
  auto found = store().Authenticate(secret);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, info.id);
  EXPECT_EQ(found->role, "producer");
  EXPECT_FALSE(store().Authenticate(secret + "x").has_value());
  EXPECT_FALSE(store().Authenticate("").has_value());
  EXPECT_THROW(store().CreateToken("acme", "root"), PermanentError);
  auto other = store().CreateToken("default", "operator");
  EXPECT_TRUE(store().RevokeToken(info.id));
  EXPECT_FALSE(store().RevokeToken(info.id));
  EXPECT_FALSE(store().RevokeToken("junk"));
  EXPECT_FALSE(store().Authenticate(secret).has_value());
  EXPECT_TRUE(store().Authenticate(other.second).has_value());
  auto list = store().ListTokens();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, info.id);
  EXPECT_GT(list[0].revoked_at_ms, 0);
  EXPECT_EQ(list[1].revoked_at_ms, 0);
}

ScheduleSpec Every(std::string name, std::string tenant = "default") {
  ScheduleSpec s;
  s.tenant = std::move(tenant);
  s.name = std::move(name);
  s.cron = "* * * * *";
  s.type = "noop";
  s.queue = "default";
  s.max_attempts = 1;
  s.timeout_ms = 1000;
  return s;
}

TEST_P(StoreConformance, SchedulesArePerTenantAndValidated) {
  auto added = store().AddSchedule(Every("tick"));
  EXPECT_GT(added.next_fire_at_ms, NowUnixMs());
  EXPECT_LE(added.next_fire_at_ms, NowUnixMs() + 61000);
  EXPECT_FALSE(added.paused);
  EXPECT_THROW(store().AddSchedule(Every("tick")), PermanentError);
  EXPECT_NO_THROW(store().AddSchedule(Every("tick", "acme")));
  EXPECT_THROW(store().AddSchedule(Every("bad name")), PermanentError);
  ScheduleSpec bad_cron = Every("x");
  bad_cron.cron = "nope";
  EXPECT_THROW(store().AddSchedule(bad_cron), PermanentError);
  ScheduleSpec bad_catch_up = Every("y");
  bad_catch_up.catch_up = "all";
  EXPECT_THROW(store().AddSchedule(bad_catch_up), PermanentError);
  store().AddSchedule(Every("a-first"));
  auto list = store().ListSchedules("default");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].spec.name, "a-first");
  EXPECT_EQ(store().ListSchedules("acme").size(), 1u);
  EXPECT_FALSE(store().GetSchedule("acme", "a-first").has_value());
  EXPECT_TRUE(store().SetSchedulePaused("default", "tick", true));
  EXPECT_TRUE(store().GetSchedule("default", "tick")->paused);
  EXPECT_TRUE(store().SetSchedulePaused("default", "tick", false));
  EXPECT_FALSE(store().GetSchedule("default", "tick")->paused);
  EXPECT_FALSE(store().SetSchedulePaused("default", "missing", true));
  EXPECT_TRUE(store().DeleteSchedule("default", "tick"));
  EXPECT_FALSE(store().DeleteSchedule("default", "tick"));
  EXPECT_TRUE(store().GetSchedule("acme", "tick").has_value());
}

TEST_P(StoreConformance, DueSchedulesFireOncePerSlot) {
  if (!ControlsTime()) GTEST_SKIP() << "needs a minute to pass";
  const TaskTypes types = TaskTypes::Builtin();
  auto s = store().AddSchedule(Every("tick"));
  auto nothing = store().FireDueSchedules(types, 60000, 10);
  EXPECT_TRUE(nothing.fired.empty());
  EXPECT_GT(nothing.next_due_in_ms, 0);
  Advance(milliseconds(s.next_fire_at_ms - NowUnixMs() + 1000));
  auto fired = store().FireDueSchedules(types, 60000, 10);
  ASSERT_EQ(fired.fired.size(), 1u);
  EXPECT_TRUE(fired.fired[0].created);
  EXPECT_EQ(fired.fired[0].slot_ms, s.next_fire_at_ms);
  auto task = store().GetTask(fired.fired[0].task_id);
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->idempotency_key, "schedule:tick:" + std::to_string(s.next_fire_at_ms));
  EXPECT_TRUE(store().FireDueSchedules(types, 60000, 10).fired.empty());
  auto after = store().GetSchedule("default", "tick");
  EXPECT_EQ(after->fired, 1);
  EXPECT_EQ(after->last_task_id, task->id);
  EXPECT_EQ(after->next_fire_at_ms, s.next_fire_at_ms + 60000);
  // Down for ten minutes with catch-up skip: the missed slots are counted.
  Advance(milliseconds(10 * 60000));
  auto late = store().FireDueSchedules(types, 1000, 10);
  EXPECT_GT(late.missed, 0);
}

TEST_P(StoreConformance, ListFiltersAndPagesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    NewTask t = Noop();
    t.queue = i % 2 == 0 ? "even" : "odd";
    ids.push_back(EnqueueOne(store(), t));
    Advance(milliseconds(5));
  }
  EnqueueOne(store(), Noop("", "acme"));
  ListFilter all{.tenant = "default", .limit = 10};
  auto listed = store().ListTasks(all);
  ASSERT_EQ(listed.size(), 5u);
  EXPECT_EQ(listed[0].id, ids[4]);
  EXPECT_EQ(listed[4].id, ids[0]);
  EXPECT_EQ(store().ListTasks({.queue = "even", .limit = 10}).size(), 3u);
  EXPECT_EQ(store().ListTasks({.type = "other", .limit = 10}).size(), 0u);
  EXPECT_EQ(store().ListTasks({.limit = 10}).size(), 6u);
  ASSERT_TRUE(store().Cancel(ids[1]).changed);
  auto cancelled = store().ListTasks({.state = TaskState::kCancelled, .limit = 10});
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].id, ids[1]);
  // Keyset pages: two, two, one, none.
  std::vector<std::string> paged;
  ListFilter page{.tenant = "default", .limit = 2};
  for (int i = 0; i < 4; ++i) {
    auto part = store().ListTasks(page);
    for (const auto& v : part) paged.push_back(v.id);
    if (part.empty()) break;
    page.before_created_at_us = part.back().created_at_us;
    page.before_id = part.back().id;
  }
  EXPECT_EQ(paged, (std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]}));
}

TEST_P(StoreConformance, CountsAndQueueStatusesAreByQueueAndTenant) {
  NewTask a = Noop();
  a.queue = "qa";
  NewTask b = Noop("", "acme");
  b.queue = "qb";
  auto ids = EnqueueAll(store(), {a, a, b});
  ASSERT_TRUE(Succeed(store(), ids[0].id));
  auto counts = store().CountByQueueAndState();
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].queue, "qa");
  EXPECT_EQ(counts[0].state, TaskState::kQueued);
  EXPECT_EQ(counts[1].state, TaskState::kSucceeded);
  EXPECT_EQ(counts[2].queue, "qb");
  EXPECT_EQ(store().CountActive(), 2);
  auto mine = store().QueueStatuses("default");
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].queue, "qa");
  EXPECT_EQ(mine[0].counts.size(), 2u);
  EXPECT_EQ(store().QueueStatuses("").size(), 2u);
  EXPECT_EQ(store().QueueStatuses("acme").at(0).queue, "qb");
  // Only ended tasks are deleted.
  EXPECT_FALSE(store().DeleteTerminal(ids[1].id));
  EXPECT_TRUE(store().DeleteTerminal(ids[0].id));
  EXPECT_FALSE(store().GetTask(ids[0].id).has_value());
  EXPECT_FALSE(store().DeleteTerminal("junk"));
}

TEST_P(StoreConformance, ReadsCarryTheTenantForTheCallerToCheck) {
  const std::string theirs = EnqueueOne(store(), Noop("k", "acme"));
  const std::string mine = EnqueueOne(store(), Noop("k"));
  EXPECT_NE(theirs, mine);
  EXPECT_EQ(store().GetTask(theirs)->tenant, "acme");
  EXPECT_EQ(store().GetTask(mine)->tenant, "default");
  auto listed = store().ListTasks({.tenant = "acme", .limit = 10});
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, theirs);
  EXPECT_FALSE(store().GetTask("junk").has_value());
}

TEST_P(StoreConformance, MonitorShowsWorkersTheirTasksAndQueues) {
  WorkerInfo info{.id = "w1", .hostname = "h", .pid = 7, .queues = {"default"}, .concurrency = 2};
  info.succeeded = 3;
  store().Heartbeat(info, 30000);
  auto ids = EnqueueAll(store(), {Noop(), Noop()});
  ASSERT_EQ(ClaimIds(store(), {ids[0].id}, "w1").claimed.size(), 1u);
  ASSERT_EQ(ClaimIds(store(), {ids[1].id}, "ghost").claimed.size(), 1u);
  auto snap = store().Monitor(10000);
  ASSERT_EQ(snap.workers.size(), 2u);
  EXPECT_EQ(snap.workers[0].id, "w1");
  EXPECT_FALSE(snap.workers[0].stale);
  EXPECT_EQ(snap.workers[0].pid, 7);
  EXPECT_EQ(snap.workers[0].succeeded, 3u);
  ASSERT_EQ(snap.workers[0].running.size(), 1u);
  EXPECT_EQ(snap.workers[0].running[0].id, ids[0].id);
  EXPECT_TRUE(snap.workers[1].deregistered);
  ASSERT_EQ(snap.queues.size(), 1u);
  EXPECT_EQ(snap.queues[0].running, 2);
  EXPECT_EQ(snap.queues[0].consumers, 1);
  EXPECT_EQ(snap.outbox_rows, 2);
}

}  // namespace
}  // namespace fila::test
