// The store contract, per-key limits: a task waiting for a concurrency
// unit of its key is parked until the key frees up (no timer brings it
// back to look), and is then queued, longest waiting first.
#include <chrono>

#include "conformance_support.h"
#include "store_conformance.h"

namespace fila::test {
namespace {

using std::chrono::milliseconds;

NewTask Limited(uint32_t concurrency) {
  NewTask t = Noop();
  t.limit_key = "acct:limits";
  t.limit.max_concurrent = concurrency;
  return t;
}

std::vector<std::string> Ids(const std::vector<EnqueueResult>& enqueued) {
  std::vector<std::string> ids;
  for (const auto& e : enqueued) ids.push_back(e.id);
  return ids;
}

TEST_P(StoreConformance, AWaitingTaskIsNeverDueByTimeOnlyWhenItsKeyFreesUp) {
  auto ids = Ids(EnqueueAll(store(), {Limited(1), Limited(1)}));
  auto claim = ClaimIds(store(), ids);
  ASSERT_EQ(claim.claimed.size(), 1u);
  ASSERT_EQ(claim.deferred.size(), 1u);
  const std::string waiting = claim.deferred[0];
  DrainOutbox(store());
  // Long past any timer (on PostgreSQL the 2 s one this replaced).
  Advance(ControlsTime() ? milliseconds(600000) : milliseconds(2200));
  EXPECT_EQ(store().ReleaseDue(10), 0);
  EXPECT_EQ(store().GetTask(waiting)->state, TaskState::kScheduled);
  EXPECT_EQ(DrainOutbox(store()), 0u);
  // The holder's end queues it.
  ASSERT_TRUE(FinishOne(store(), {.id = claim.claimed[0].id, .attempt = 1,
                                  .state = TaskState::kFailed, .outcome = Outcome::kFailed}));
  EXPECT_EQ(store().GetTask(waiting)->state, TaskState::kQueued);
  EXPECT_EQ(DrainOutbox(store()), 1u);
}

TEST_P(StoreConformance, OneWaiterIsQueuedPerUnitFreedAndAKeyWithRoomNobodyTakesWakesTheNext) {
  auto ids = Ids(EnqueueAll(store(), {Limited(1), Limited(1), Limited(1)}));
  auto claim = ClaimIds(store(), ids);
  ASSERT_EQ(claim.claimed.size(), 1u);
  ASSERT_EQ(claim.deferred.size(), 2u);
  DrainOutbox(store());
  ASSERT_TRUE(FinishOne(store(), {.id = claim.claimed[0].id, .attempt = 1,
                                  .state = TaskState::kSucceeded}));
  std::vector<std::string> queued, parked;
  for (const auto& id : claim.deferred) {
    (store().GetTask(id)->state == TaskState::kQueued ? queued : parked).push_back(id);
  }
  ASSERT_EQ(queued.size(), 1u);
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(DrainOutbox(store()), 1u);
  // The queued one takes the unit: nothing more to wake.
  EXPECT_EQ(store().ReleaseDue(10), 0);
  EXPECT_EQ(store().GetTask(parked[0])->state, TaskState::kScheduled);
  // Cancelled before any worker claimed it, it frees the unit without
  // ending a holder: the release finds the key with room and queues the
  // last waiter.
  ASSERT_TRUE(store().Cancel(queued[0]).changed);
  EXPECT_EQ(store().ReleaseDue(10), 1);
  EXPECT_EQ(store().GetTask(parked[0])->state, TaskState::kQueued);
  EXPECT_EQ(DrainOutbox(store()), 1u);
  auto last = ClaimIds(store(), parked);
  ASSERT_EQ(last.claimed.size(), 1u);
  EXPECT_EQ(last.claimed[0].attempt, 1u);
}

}  // namespace
}  // namespace fila::test
