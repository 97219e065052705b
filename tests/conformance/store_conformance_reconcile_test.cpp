// The store contract, reconciliation: which queued tasks the leader may
// publish again when the broker lost their messages (LeaderStore's
// QueuesWithStaleTasks, CountPublished, FreeConsumerSlots, RepublishStale).
#include <algorithm>

#include "conformance_support.h"
#include "store_conformance.h"

namespace fila::test {
namespace {

using std::chrono::milliseconds;

// Short, so that PostgreSQL's real clock passes it quickly, yet longer
// than a few statements take on a loaded machine.
constexpr int64_t kAfterMs = 1500;
constexpr milliseconds kPastIt{1600};

NewTask In(const std::string& queue) {
  NewTask t = Noop();
  t.queue = queue;
  return t;
}

// The tasks of the outbox rows, sorted (rows written by one statement come
// in no set order).
std::vector<std::string> OutboxTasks(StateStore& store) {
  std::vector<std::string> ids;
  for (const auto& item : store.FetchOutbox(100)) ids.push_back(item.envelope.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::string> Sorted(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST_P(StoreConformance, StaleTasksAreFoundPerQueueAndRepublishedLongestWaitingFirst) {
  std::vector<std::string> a;
  for (int i = 0; i < 3; ++i) {
    a.push_back(EnqueueOne(store(), In("a")));
    Advance(milliseconds(20));  // a distinct queued time each
  }
  const std::string b = EnqueueOne(store(), In("b"));
  DrainOutbox(store());
  EXPECT_TRUE(store().QueuesWithStaleTasks(kAfterMs).empty()) << "published a moment ago";
  EXPECT_EQ(store().CountPublished("a"), 3);
  EXPECT_EQ(store().CountPublished("b"), 1);
  EXPECT_EQ(store().CountPublished("none"), 0);

  Advance(kPastIt);
  EXPECT_EQ(store().QueuesWithStaleTasks(kAfterMs), (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(store().RepublishStale("a", kAfterMs, 2), 2);
  EXPECT_EQ(OutboxTasks(store()), Sorted({a[0], a[1]}));
  // Waiting in the outbox: neither published nor stale until the relay has it.
  EXPECT_EQ(store().CountPublished("a"), 1);
  EXPECT_EQ(store().RepublishStale("a", kAfterMs, 10), 1);
  EXPECT_EQ(OutboxTasks(store()), Sorted(a));
  EXPECT_EQ(store().QueuesWithStaleTasks(kAfterMs), (std::vector<std::string>{"b"}));

  // Published again: a fresh wait before it is looked at again.
  DrainOutbox(store());
  EXPECT_EQ(store().CountPublished("a"), 3);
  EXPECT_EQ(store().RepublishStale("a", kAfterMs, 10), 0);
  Advance(kPastIt);
  EXPECT_EQ(store().RepublishStale("a", kAfterMs, 10), 3);
  EXPECT_EQ(store().RepublishStale("b", kAfterMs, 10), 1);
  a.push_back(b);
  EXPECT_EQ(OutboxTasks(store()), Sorted(a));
}

TEST_P(StoreConformance, FreeConsumerSlotsAddUpTheLiveWorkersOfTheQueue) {
  store().Heartbeat({.id = "gone", .queues = {"a"}, .concurrency = 7}, 30000);
  Advance(kPastIt);
  store().Heartbeat({.id = "ab", .queues = {"a", "b"}, .concurrency = 3}, 30000);
  store().Heartbeat({.id = "a", .queues = {"a"}, .concurrency = 5}, 30000);
  EXPECT_EQ(store().FreeConsumerSlots("a", kAfterMs), 8) << "not the silent worker's 7";
  EXPECT_EQ(store().FreeConsumerSlots("b", kAfterMs), 3);
  EXPECT_EQ(store().FreeConsumerSlots("none", kAfterMs), 0);
  EXPECT_EQ(store().FreeConsumerSlots("a", kAfterMs + kPastIt.count() + 60000), 15);

  // Running tasks take their worker's slots, whatever their queue.
  auto ids = EnqueueAll(store(), {Noop(), Noop(), Noop(), Noop()});
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {ids[0].id, ids[1].id}, "a").claimed.size(), 2u);
  ASSERT_EQ(ClaimIds(store(), {ids[2].id, ids[3].id}, "ab").claimed.size(), 2u);
  EXPECT_EQ(store().FreeConsumerSlots("a", kAfterMs), 3 + 1);
  EXPECT_EQ(store().FreeConsumerSlots("b", kAfterMs), 1);
}

TEST_P(StoreConformance, OnlyUnclaimedQueuedTasksArePublishedOrStale) {
  auto ids = EnqueueAll(store(), {Noop(), Noop(), Noop(), Noop()});
  NewTask later = Noop();
  later.run_at_ms = NowUnixMs() + 60000;
  EnqueueOne(store(), later);  // scheduled: not queued
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {ids[0].id}).claimed.size(), 1u);
  ASSERT_TRUE(store().Cancel(ids[1].id).changed);
  const std::string unpublished = EnqueueOne(store());  // its outbox row waits
  EXPECT_EQ(store().CountPublished("default"), 2);

  Advance(kPastIt);
  EXPECT_EQ(store().QueuesWithStaleTasks(kAfterMs), (std::vector<std::string>{"default"}));
  EXPECT_EQ(store().RepublishStale("default", kAfterMs, 10), 2);
  EXPECT_EQ(OutboxTasks(store()), Sorted({ids[2].id, ids[3].id, unpublished}));
}

TEST_P(StoreConformance, ARepublishedTaskRunsOnceItsOtherCopyIsADuplicate) {
  const std::string id = EnqueueOne(store());
  DrainOutbox(store());
  Advance(kPastIt);
  ASSERT_EQ(store().RepublishStale("default", kAfterMs, 10), 1);
  // The first message turns up after all: it is claimed, and the copy the
  // relay publishes now is not claimable.
  ASSERT_EQ(ClaimIds(store(), {id}).claimed.size(), 1u);
  auto items = store().FetchOutbox(10);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_TRUE(items[0].envelope.queue.empty()) << "no longer queued: deleted unpublished";
  auto second = ClaimIds(store(), {id}, "w2");
  EXPECT_TRUE(second.claimed.empty());
  EXPECT_EQ(second.not_claimable, std::vector<std::string>{id});
  EXPECT_TRUE(store().QueuesWithStaleTasks(kAfterMs).empty());
}

}  // namespace
}  // namespace fila::test
