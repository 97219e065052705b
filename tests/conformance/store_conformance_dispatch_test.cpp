// The store contract, fair dispatch (LeaderStore::FetchDispatch,
// docs/fairness.md): effective priority first, then usage over weight, then
// age; the room per queue, the skip list and the in-broker ledger.
#include <algorithm>
#include <map>

#include "conformance_support.h"
#include "store_conformance.h"

namespace fila::test {
namespace {

using std::chrono::milliseconds;

NewTask Task(const std::string& tenant, uint32_t priority = 0, const std::string& queue = "default") {
  NewTask t = Noop({}, tenant);
  t.priority = priority;
  t.queue = queue;
  return t;
}

DispatchRequest Unbounded(uint32_t limit) {
  DispatchRequest r;
  r.limit = limit;
  return r;
}

std::vector<std::string> Tenants(const DispatchResult& r) {
  std::vector<std::string> out;
  for (const auto& item : r.items) out.push_back(item.envelope.tenant);
  return out;
}

TEST_P(StoreConformance, DispatchPublishesHigherPriorityFirstAndFillsColumnsFromTheTask) {
  const std::string low = EnqueueOne(store(), Task("a", 1));
  const std::string high = EnqueueOne(store(), Task("a", 7));
  const auto r = store().FetchDispatch(Unbounded(10));
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].envelope.id, high);
  EXPECT_EQ(r.items[0].publish_priority, 7u);
  EXPECT_EQ(r.items[1].envelope.id, low);
  EXPECT_EQ(r.items[1].envelope.queue, "default");
  EXPECT_EQ(r.items[1].envelope.type, "noop");
  EXPECT_TRUE(r.unknown_queues.empty());
}

// Of the tasks the relay sent to an express lane, those that may still
// hold an express slot: queued or running, not finished nor unknown.
TEST_P(StoreConformance, QueuedOrRunningNamesTheTasksOfAListThatMayHoldASlot) {
  const std::string queued = EnqueueOne(store(), Task("a"));
  const std::string running = EnqueueOne(store(), Task("a"));
  const std::string done = EnqueueOne(store(), Task("a"));
  ASSERT_EQ(ClaimIds(store(), {running, done}).claimed.size(), 2u);
  ASSERT_TRUE(FinishOne(store(), {.id = done, .attempt = 1, .worker = "w1"}));
  const std::string unknown = "00000000-0000-4000-8000-000000000000";
  auto left = store().QueuedOrRunning({queued, running, done, unknown});
  std::sort(left.begin(), left.end());
  std::vector<std::string> expected{queued, running};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(left, expected);
  EXPECT_TRUE(store().QueuedOrRunning({}).empty());
}

// The tasks of an express lane that lost its consumers go back to the
// outbox: only those queued whose message was published, each once.
TEST_P(StoreConformance, RepublishGivesAnOutboxRowToThePublishedQueuedTasksOfAList) {
  const std::string published = EnqueueOne(store(), Task("a"));
  const std::string running = EnqueueOne(store(), Task("a"));
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {running}).claimed.size(), 1u);
  const std::string waiting = EnqueueOne(store(), Task("a"));  // its row is still there
  const std::string unknown = "00000000-0000-4000-8000-000000000000";
  EXPECT_EQ(store().Republish({published, running, waiting, unknown, published}),
            std::vector<std::string>{published});
  std::vector<std::string> rows;
  for (const auto& item : store().FetchOutbox(10)) rows.push_back(item.envelope.id);
  std::sort(rows.begin(), rows.end());
  std::vector<std::string> expected{published, waiting};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(rows, expected);
  // Its row waits now: not a second one.
  EXPECT_TRUE(store().Republish({published}).empty());
  EXPECT_TRUE(store().Republish({}).empty());
}

TEST_P(StoreConformance, DispatchServesTheTenantWithLessUsageFirst) {
  // A has two running tasks, then both wait with one more each: B's
  // younger task goes first.
  auto running = EnqueueAll(store(), {Task("a"), Task("a")});
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {running[0].id, running[1].id}).claimed.size(), 2u);
  const std::string a = EnqueueOne(store(), Task("a"));
  const std::string b = EnqueueOne(store(), Task("b"));
  const auto r = store().FetchDispatch(Unbounded(10));
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].envelope.id, b);
  EXPECT_EQ(r.items[1].envelope.id, a);
}

TEST_P(StoreConformance, DispatchKeepsPriorityAboveFairness) {
  auto running = EnqueueAll(store(), {Task("a"), Task("a"), Task("a")});
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {running[0].id, running[1].id, running[2].id}).claimed.size(), 3u);
  const std::string a = EnqueueOne(store(), Task("a", 5));
  EnqueueOne(store(), Task("b", 4));
  const auto r = store().FetchDispatch(Unbounded(1));
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_EQ(r.items[0].envelope.id, a);
}

TEST_P(StoreConformance, DispatchSharesByWeight) {
  SetTenantWeight("a", 3);
  std::vector<NewTask> tasks;
  for (int i = 0; i < 8; ++i) tasks.push_back(Task("a"));
  EnqueueAll(store(), tasks);
  tasks.clear();
  for (int i = 0; i < 8; ++i) tasks.push_back(Task("b"));
  EnqueueAll(store(), tasks);
  const auto r = store().FetchDispatch(Unbounded(8));
  std::map<std::string, int> n;
  for (const auto& t : Tenants(r)) ++n[t];
  // usage/weight: a 3:1 share; the first pick (a tie) goes to the older.
  EXPECT_EQ(n["a"], 6);
  EXPECT_EQ(n["b"], 2);
}

TEST_P(StoreConformance, DispatchAgesAWaitingTaskAboveNewerHigherPriorities) {
  const std::string old = EnqueueOne(store(), Task("a", 0));
  Advance(milliseconds(350));
  const std::string fresh = EnqueueOne(store(), Task("a", 2));
  DispatchRequest req = Unbounded(10);
  req.aging_ms["default"] = 100;  // a level per 100 ms: the old task would be at 3 or more
  const auto r = store().FetchDispatch(req);
  ASSERT_EQ(r.items.size(), 2u);
  // Raised as far as the highest priority waiting (2), not past it; then
  // the older goes first.
  EXPECT_EQ(r.items[0].envelope.id, old);
  EXPECT_EQ(r.items[0].publish_priority, 2u);
  EXPECT_EQ(r.items[0].envelope.priority, 0u);  // the task keeps the producer's priority
  EXPECT_EQ(r.items[1].envelope.id, fresh);
  // Without aging, the priority decides.
  const auto plain = store().FetchDispatch(Unbounded(10));
  ASSERT_EQ(plain.items.size(), 2u);
  EXPECT_EQ(plain.items[0].envelope.id, fresh);
  EXPECT_EQ(plain.items[1].publish_priority, 0u);
}

// Under a priority-9 load above capacity the priority-9 backlog only grows
// older: an aged task ranked by its own enqueue time would wait behind all
// of it. Aged rows go first at their priority, and each row of a group
// ranks by its own wait (a younger row of the aged group does not ride
// along ahead of the backlog).
TEST_P(StoreConformance, DispatchServesAnAgedTaskBeforeTheBacklogBornAtItsPriority) {
  const auto nines = EnqueueAll(store(), {Task("a", 9), Task("a", 9), Task("a", 9)});
  Advance(milliseconds(20));
  const std::string old = EnqueueOne(store(), Task("a", 0));
  Advance(milliseconds(450));  // nine levels at 40 ms a level: old is at 9
  const std::string young = EnqueueOne(store(), Task("a", 0));
  DispatchRequest req = Unbounded(10);
  req.aging_ms["default"] = 40;
  const auto r = store().FetchDispatch(req);
  ASSERT_EQ(r.items.size(), 5u);
  EXPECT_EQ(r.items[0].envelope.id, old);
  EXPECT_EQ(r.items[0].publish_priority, 9u);
  for (size_t i = 0; i < nines.size(); ++i) EXPECT_EQ(r.items[1 + i].envelope.id, nines[i].id) << i;
  EXPECT_EQ(r.items[4].envelope.id, young);
  EXPECT_LT(r.items[4].publish_priority, 9u);
}

TEST_P(StoreConformance, DispatchTakesNoMoreThanEachQueuesRoomAndNamesUnknownQueues) {
  EnqueueAll(store(), {Task("a", 0, "q1"), Task("a", 0, "q1"), Task("a", 0, "q1"),
                       Task("a", 0, "q2"), Task("a", 0, "q3")});
  DispatchRequest req = Unbounded(10);
  req.bounded = true;
  req.room["q1"] = 2;
  req.room["q2"] = 0;
  const auto r = store().FetchDispatch(req);
  ASSERT_EQ(r.items.size(), 2u);
  for (const auto& item : r.items) EXPECT_EQ(item.envelope.queue, "q1");
  EXPECT_EQ(r.unknown_queues, std::vector<std::string>{"q3"});
  EXPECT_EQ(r.full_queues, (std::vector<std::string>{"q1", "q2"}));
  // Room for everything: nothing is full.
  req.room = {{"q1", 10}, {"q2", 10}, {"q3", 10}};
  const auto all = store().FetchDispatch(req);
  EXPECT_EQ(all.items.size(), 5u);
  EXPECT_TRUE(all.full_queues.empty());
  EXPECT_TRUE(all.unknown_queues.empty());
}

TEST_P(StoreConformance, DispatchTakesATenantBelowItsSharePastAFullWindowAndNamesTheBacklog) {
  // The window is full (room 0). A runs two tasks and waits with three; B,
  // with nothing running, waits with two: below its share, B's rows go
  // ahead past the window (0 < 2 / 2, then 1 < 3 / 2), A's stay and are
  // named as held, with their highest priority.
  auto running = EnqueueAll(store(), {Task("a"), Task("a")});
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {running[0].id, running[1].id}).claimed.size(), 2u);
  EnqueueAll(store(), {Task("a"), Task("a", 4), Task("a")});
  const auto b = EnqueueAll(store(), {Task("b"), Task("b")});
  DispatchRequest req = Unbounded(10);
  req.bounded = true;
  req.room["default"] = 0;
  const auto r = store().FetchDispatch(req);
  ASSERT_EQ(r.items.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(r.items[i].envelope.id, b[i].id);
    EXPECT_TRUE(r.items[i].ahead);
  }
  EXPECT_EQ(r.full_queues, std::vector<std::string>{"default"});
  using Backlog = std::map<std::pair<std::string, std::string>, uint32_t>;
  EXPECT_EQ(r.backlog, (Backlog{{{"default", "a"}, 4}}));
}

TEST_P(StoreConformance, DispatchLeavesSkippedRowsOut) {
  EnqueueAll(store(), {Task("a"), Task("a"), Task("b")});
  const auto first = store().FetchDispatch(Unbounded(10));
  ASSERT_EQ(first.items.size(), 3u);
  DispatchRequest req = Unbounded(10);
  req.skip = {first.items[0].outbox_id, first.items[2].outbox_id};
  const auto r = store().FetchDispatch(req);
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_EQ(r.items[0].outbox_id, first.items[1].outbox_id);
}

TEST_P(StoreConformance, DispatchCountsUnclaimedPublishedTasksAsUsage) {
  auto published = EnqueueAll(store(), {Task("a"), Task("a"), Task("a")});
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {published[2].id}).claimed.size(), 1u);
  const std::string a = EnqueueOne(store(), Task("a"));
  const std::string b = EnqueueOne(store(), Task("b"));
  DispatchRequest req = Unbounded(10);
  req.in_broker = {published[0].id, published[1].id, published[2].id};
  const auto r = store().FetchDispatch(req);
  // Still queued: the two unclaimed ones (the claimed one is running).
  auto still = r.in_broker;
  std::sort(still.begin(), still.end());
  std::vector<std::string> want{published[0].id, published[1].id};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(still, want);
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].envelope.id, b);
  EXPECT_EQ(r.items[1].envelope.id, a);
}

TEST_P(StoreConformance, DispatchPublishesAQuietTenantsRowsAheadAndAFloodingTenantsNot) {
  // A runs two tasks and waits with two more; B, with nothing running,
  // waits with one: B's row goes ahead of A's of its priority in the
  // broker, A's do not (2 + 1 > (2 + 0) / 2 after B's pick, and so on).
  auto running = EnqueueAll(store(), {Task("a"), Task("a")});
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {running[0].id, running[1].id}).claimed.size(), 2u);
  EnqueueAll(store(), {Task("a"), Task("a")});
  const std::string b = EnqueueOne(store(), Task("b"));
  const auto r = store().FetchDispatch(Unbounded(10));
  ASSERT_EQ(r.items.size(), 3u);
  for (const auto& item : r.items) {
    EXPECT_EQ(item.ahead, item.envelope.id == b) << item.envelope.tenant;
  }
}

TEST_P(StoreConformance, DispatchPublishesAQuietTenantsRowAheadWhileAnotherTenantsTasksRun) {
  // A's tasks all went to the broker (a window not full holds nothing
  // back) and two of them run; the outbox holds only B's row. In FIFO
  // order it would wait behind A's ready message: B is below its share
  // (0 < 2 / 2), so it goes ahead.
  auto a_sent = EnqueueAll(store(), {Task("a"), Task("a"), Task("a")});
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {a_sent[0].id, a_sent[1].id}).claimed.size(), 2u);
  const std::string b = EnqueueOne(store(), Task("b"));
  DispatchRequest req = Unbounded(10);
  req.in_broker = {a_sent[2].id};
  auto r = store().FetchDispatch(req);
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_EQ(r.items[0].envelope.id, b);
  EXPECT_TRUE(r.items[0].ahead) << "B waits behind A's ready message";
  // Another queue's running tasks do not make B's row ahead here: A's
  // run in "default", B's new row is for "other".
  DrainOutbox(store());
  EnqueueOne(store(), Task("b", 0, "other"));
  r = store().FetchDispatch(Unbounded(10));
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_FALSE(r.items[0].ahead);
}

TEST_P(StoreConformance, DispatchWeighsTheTenantsThatOnlyRunTasksToo) {
  // B runs three tasks and A one; the outbox holds B's row only.
  auto sent = EnqueueAll(store(), {Task("a"), Task("b"), Task("b"), Task("b")});
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {sent[0].id, sent[1].id, sent[2].id, sent[3].id}).claimed.size(), 4u);
  EnqueueOne(store(), Task("b"));
  const auto ahead = [&] {
    const auto r = store().FetchDispatch(Unbounded(10));
    return r.items.size() == 1 && r.items[0].ahead;
  };
  EXPECT_FALSE(ahead()) << "B is above its share: 3 of 4 at weights 1:1";
  SetTenantWeight("b", 4);
  SetTenantWeight("a", 2);
  EXPECT_FALSE(ahead()) << "3 of 4 is B's share at weights 2:4 (A's weight read although A has no row)";
  SetTenantWeight("a", 1);
  EXPECT_TRUE(ahead()) << "3 of 4 is below B's share at weights 1:4";
}

TEST_P(StoreConformance, DispatchCountsOnlyAheadMessagesInTheBrokerForAhead) {
  // A's three messages in the broker are not ahead: they wait behind B's
  // two ahead ones and serve nobody yet, so A's next row goes ahead and
  // B's does not, although A's usage (3) is above B's (2).
  auto a_sent = EnqueueAll(store(), {Task("a"), Task("a"), Task("a")});
  auto b_sent = EnqueueAll(store(), {Task("b"), Task("b")});
  DrainOutbox(store());
  const std::string a = EnqueueOne(store(), Task("a"));
  const std::string b = EnqueueOne(store(), Task("b"));
  DispatchRequest req = Unbounded(10);
  for (const auto& t : a_sent) req.in_broker.push_back(t.id);
  for (const auto& t : b_sent) {
    req.in_broker.push_back(t.id);
    req.in_broker_ahead.push_back(t.id);
  }
  const auto r = store().FetchDispatch(req);
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].envelope.id, b) << "usage still orders the publishing";
  EXPECT_FALSE(r.items[0].ahead);
  EXPECT_EQ(r.items[1].envelope.id, a);
  EXPECT_TRUE(r.items[1].ahead);
}

TEST_P(StoreConformance, DispatchPublishesNothingAheadForATenantAlone) {
  // One tenant's rows: nothing to be fair about, whatever its usage.
  auto running = EnqueueAll(store(), {Task("a")});
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {running[0].id}).claimed.size(), 1u);
  EnqueueAll(store(), {Task("a"), Task("a", 5)});
  const auto r = store().FetchDispatch(Unbounded(10));
  ASSERT_EQ(r.items.size(), 2u);
  for (const auto& item : r.items) EXPECT_FALSE(item.ahead);
  // Nor does the oldest-first read, which knows no tenants.
  EnqueueAll(store(), {Task("a"), Task("b")});
  for (const auto& item : store().FetchOutbox(10, {})) EXPECT_FALSE(item.ahead);
}

TEST_P(StoreConformance, DispatchSeesRowsWrittenByTheDueRelease) {
  NewTask later = Task("a", 4);
  later.run_at_ms = NowUnixMs() + 200;
  const std::string id = EnqueueOne(store(), later);
  Advance(milliseconds(300));
  store().ReleaseDue(10);
  const auto r = store().FetchDispatch(Unbounded(10));
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_EQ(r.items[0].envelope.id, id);
  EXPECT_EQ(r.items[0].publish_priority, 4u);
}

}  // namespace
}  // namespace fila::test
