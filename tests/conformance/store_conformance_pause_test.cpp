// The store contract, queue pauses (TaskAdminStore::PauseQueue): a paused
// queue's tasks are neither published nor started; they stay queued with
// their attempt, and run after the resume.
#include "conformance_support.h"
#include "fila/core/errors.h"
#include "store_conformance.h"

namespace fila::test {
namespace {

NewTask InQueue(const std::string& queue) {
  NewTask t = Noop();
  t.queue = queue;
  return t;
}

std::vector<std::string> OutboxIds(StateStore& store) {
  std::vector<std::string> ids;
  for (const auto& item : store.FetchOutbox(100)) ids.push_back(item.envelope.id);
  return ids;
}

std::vector<std::string> DispatchIds(StateStore& store) {
  DispatchRequest r;
  r.limit = 100;
  std::vector<std::string> ids;
  for (const auto& item : store.FetchDispatch(r).items) ids.push_back(item.envelope.id);
  return ids;
}

TEST_P(StoreConformance, APausedQueuesOutboxRowsWaitUntilItIsResumed) {
  const std::string held = EnqueueOne(store(), InQueue("pdf"));
  const std::string other = EnqueueOne(store(), InQueue("zip"));
  EXPECT_TRUE(store().PauseQueue("pdf", "token t1"));
  EXPECT_EQ(OutboxIds(store()), std::vector<std::string>{other});
  EXPECT_EQ(DispatchIds(store()), std::vector<std::string>{other});

  EXPECT_TRUE(store().ResumeQueue("pdf"));
  EXPECT_TRUE(Contains(OutboxIds(store()), held));
  EXPECT_TRUE(Contains(DispatchIds(store()), held));
}

TEST_P(StoreConformance, AClaimInAPausedQueueStartsNothingAndPutsTheOutboxRowBack) {
  const std::string id = EnqueueOne(store(), InQueue("pdf"));
  DrainOutbox(store());  // published: the message is in the broker
  ASSERT_TRUE(store().PauseQueue("pdf", "token t1"));

  const ClaimResult r = ClaimIds(store(), {id});
  EXPECT_TRUE(r.claimed.empty());
  EXPECT_EQ(r.paused, std::vector<std::string>{id});
  EXPECT_TRUE(r.not_claimable.empty());
  auto view = store().GetTask(id);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->state, TaskState::kQueued);
  EXPECT_EQ(view->attempt, 0u);
  EXPECT_TRUE(OutboxIds(store()).empty());  // held while paused

  ASSERT_TRUE(store().ResumeQueue("pdf"));
  EXPECT_EQ(OutboxIds(store()), std::vector<std::string>{id});
  DrainOutbox(store());
  const ClaimResult after = ClaimIds(store(), {id});
  ASSERT_EQ(after.claimed.size(), 1u);
  EXPECT_EQ(after.claimed[0].attempt, 1u);  // the pause burnt no attempt
}

TEST_P(StoreConformance, PausesKeepTheFirstWhoAndShowInTheQueueList) {
  EnqueueOne(store(), InQueue("pdf"));
  EXPECT_TRUE(store().PauseQueue("pdf", "token t1"));
  EXPECT_FALSE(store().PauseQueue("pdf", "token t2"));
  EXPECT_TRUE(store().PauseQueue("empty", "token t2"));  // no task needed
  const auto pauses = store().QueuePauses();
  ASSERT_EQ(pauses.size(), 2u);
  EXPECT_EQ(pauses[0].queue, "empty");
  EXPECT_EQ(pauses[1].queue, "pdf");
  EXPECT_EQ(pauses[1].paused_by, "token t1");
  EXPECT_GT(pauses[1].paused_at_ms, 0);

  const auto all = store().QueueStatuses("");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].queue, "empty");
  EXPECT_TRUE(all[0].paused);
  EXPECT_TRUE(all[1].paused);
  EXPECT_EQ(all[1].paused_by, "token t1");
  // A tenant sees its own queues' pauses only.
  const auto mine = store().QueueStatuses("default");
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].queue, "pdf");
  EXPECT_TRUE(mine[0].paused);
  EXPECT_TRUE(store().QueueStatuses("acme").empty());

  EXPECT_TRUE(store().ResumeQueue("pdf"));
  EXPECT_FALSE(store().ResumeQueue("pdf"));
  EXPECT_FALSE(store().QueueStatuses("default").at(0).paused);
  EXPECT_THROW(store().PauseQueue("Bad Name", "token t1"), PermanentError);
  EXPECT_THROW(store().ResumeQueue(""), PermanentError);
}

}  // namespace
}  // namespace fila::test
