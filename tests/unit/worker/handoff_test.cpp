// The objects the worker's threads hand work over with: acks to the
// consumer thread, finishes to the finisher, held attempts, progress; and
// the one Backoff. No threads of the worker here, no servers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "ack_queue.h"
#include "fila/core/backoff.h"
#include "fila/core/broker.h"
#include "finish_queue.h"
#include "held_attempts.h"
#include "progress_buffer.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

// Counts Wakeup(), the only call other threads make on a consumer.
class WakeupCounter final : public Consumer {
 public:
  void Start(const std::vector<std::string>&, uint16_t) override {}
  std::optional<Delivery> Next(Deadline) override { return std::nullopt; }
  void Ack(uint64_t, uint64_t) override {}
  void Reject(uint64_t, uint64_t, bool) override {}
  void DeadLetter(const Delivery&, const std::string&) override {}
  void Reply(const Delivery&, const std::string&, const std::string&) override {}
  void Stop() override {}
  void Resume() override {}
  void Wakeup() override { ++wakeups; }
  bool Connected() const override { return true; }
  std::atomic<int> wakeups{0};
};

Done DoneOf(uint64_t tag, std::string id = "t", uint32_t attempt = 1) {
  Done d;
  d.record.id = std::move(id);
  d.record.attempt = attempt;
  d.epoch = 1;
  d.tag = tag;
  return d;
}

TEST(AckQueue, WakesTheConsumerOnlyWhenTheListWasEmpty) {
  WakeupCounter consumer;
  AckQueue acks;
  acks.SetConsumer(&consumer);
  const AckRef a{1, 1}, b{1, 2};
  acks.Post({&a, 1});
  acks.Post({&b, 1});
  EXPECT_EQ(consumer.wakeups, 1);  // the second found a wakeup pending
  const auto taken = acks.TakeAll();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].tag, 1u);
  EXPECT_EQ(taken[1].tag, 2u);
  EXPECT_TRUE(acks.TakeAll().empty());
  acks.Post({&a, 1});
  EXPECT_EQ(consumer.wakeups, 2);
}

TEST(AckQueue, PostsWithoutAConsumerAreKept) {
  AckQueue acks;
  const AckRef a{3, 7};
  acks.Post({&a, 1});
  EXPECT_EQ(acks.TakeAll().size(), 1u);
}

TEST(AckQueue, CountsClaimedDeliveriesUntilAcked) {
  AckQueue acks;
  acks.Claimed();
  acks.Claimed();
  EXPECT_EQ(acks.Unacked(), 2);
  acks.Acked(2);
  EXPECT_EQ(acks.Unacked(), 0);
}

TEST(FinishQueue, AcksAtOnceWhileFewFinishesWaitForACommit) {
  AckQueue acks;
  FinishQueue finishes(acks, 2);
  finishes.Finished(DoneOf(1));
  finishes.Finished(DoneOf(2));
  EXPECT_EQ(acks.TakeAll().size(), 2u);
  EXPECT_EQ(finishes.Unrecorded(), 2);
  const auto batch = finishes.PopAll(SteadyClock::now());
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_TRUE(batch[0].acked);
  EXPECT_TRUE(batch[1].acked);
  // Settling an acked finish acks nothing again (a double ack is a channel
  // error on RabbitMQ).
  for (const auto& d : batch) finishes.Settled(d);
  EXPECT_TRUE(acks.TakeAll().empty());
  EXPECT_EQ(finishes.Unrecorded(), 0);
}

TEST(FinishQueue, BeyondTheLimitTheAckWaitsForTheCommit) {
  AckQueue acks;
  FinishQueue finishes(acks, 1);
  finishes.Finished(DoneOf(1));
  finishes.Finished(DoneOf(2));  // one finish waits already: no ack yet
  auto acked = acks.TakeAll();
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0].tag, 1u);
  const auto batch = finishes.PopAll(SteadyClock::now());
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_FALSE(batch[1].acked);
  finishes.Settled(batch[1]);  // committed: now acked
  acked = acks.TakeAll();
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0].tag, 2u);
  EXPECT_EQ(finishes.Unrecorded(), 1);
  finishes.Settled(batch[0]);
  EXPECT_EQ(finishes.Unrecorded(), 0);
}

TEST(FinishQueue, TheLimitGrowsWithTheSlots) {
  EXPECT_EQ(FinishQueue::MaxUnrecordedFor(4), 256);
  EXPECT_EQ(FinishQueue::MaxUnrecordedFor(100), 800);
}

TEST(HeldAttempts, ReleasesOnlyTheAttemptThatSettled) {
  HeldAttempts held;
  held.Hold("a", 1);
  held.Hold("b", 1);
  held.Hold("a", 2);  // a retry of a, claimed before attempt 1 settled
  held.Release("a", 1);
  auto ids = held.Ids();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b"}));
  held.Release("a", 2);
  held.Release("b", 1);
  EXPECT_TRUE(held.Ids().empty());
}

TEST(ProgressBuffer, KeepsTheLatestUpdatePerTask) {
  ProgressBuffer progress;
  progress.Put({"a", 1, 10, "ten"});
  progress.Put({"a", 1, 20, "twenty"});
  progress.Put({"b", 1, 5, "five"});
  const std::vector<std::string> ids{"x", "a"};
  EXPECT_TRUE(progress.HasAnyOf(ids));
  auto updates = progress.TakeAll();
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].id, "a");
  EXPECT_EQ(updates[0].percent, 20);
  EXPECT_EQ(updates[0].message, "twenty");
  EXPECT_FALSE(progress.HasAnyOf(ids));
  EXPECT_TRUE(progress.TakeAll().empty());
}

TEST(Backoff, DoublesFromAHundredMillisecondsUpToTheCap) {
  EXPECT_EQ(Backoff(0, milliseconds(2000)), milliseconds(100));
  EXPECT_EQ(Backoff(1, milliseconds(2000)), milliseconds(200));
  EXPECT_EQ(Backoff(4, milliseconds(2000)), milliseconds(1600));
  EXPECT_EQ(Backoff(5, milliseconds(2000)), milliseconds(2000));
  EXPECT_EQ(Backoff(5, milliseconds(3000)), milliseconds(3000));
  EXPECT_EQ(Backoff(1000, milliseconds(3000)), milliseconds(3000));  // no overflow
}

}  // namespace
}  // namespace fila
