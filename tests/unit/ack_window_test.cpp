// The RabbitMQ consumer's coalescing of acks (broker-adapters/rabbitmq/src/
// ack_window.cpp, pure logic compiled in here): a `multiple` ack must never
// cover a tag that is still outstanding, and no tag is ever settled twice.
#include "ack_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace fila::rabbitmq {
namespace {

using Tags = std::vector<uint64_t>;

AckWindow Delivered(uint64_t first, uint64_t last) {
  AckWindow window;
  for (uint64_t tag = first; tag <= last; ++tag) window.Delivered(tag);
  return window;
}

TEST(AckWindow, ContiguousBatchIsOneMultipleAck) {
  AckWindow window = Delivered(1, 8);
  const Tags batch{3, 1, 2, 4};
  const auto plan = window.Ack(batch);
  EXPECT_EQ(plan.multiple_up_to, 4u);
  EXPECT_TRUE(plan.singles.empty());
  EXPECT_EQ(window.Outstanding(), 4u);
}

TEST(AckWindow, TagsAfterAGapAreAckedSingly) {
  AckWindow window = Delivered(1, 6);
  const Tags batch{1, 2, 4, 6};  // 3 and 5 still run
  const auto plan = window.Ack(batch);
  EXPECT_EQ(plan.multiple_up_to, 2u);
  EXPECT_EQ(plan.singles, (Tags{4, 6}));
  // 3 closes the gap; the multiple names 3 itself, since the broker refuses
  // one that names a tag already acked (4).
  const Tags three{3};
  const auto next = window.Ack(three);
  EXPECT_EQ(next.multiple_up_to, 3u);
  EXPECT_TRUE(next.singles.empty());
  EXPECT_EQ(window.Outstanding(), 1u);
}

TEST(AckWindow, NoMultipleWhileTheOldestIsOutstanding) {
  AckWindow window = Delivered(1, 4);
  const Tags batch{2, 3, 4};
  const auto plan = window.Ack(batch);
  EXPECT_EQ(plan.multiple_up_to, 0u);
  EXPECT_EQ(plan.singles, (Tags{2, 3, 4}));
}

TEST(AckWindow, RejectedTagsCountAsSettled) {
  AckWindow window = Delivered(1, 3);
  EXPECT_TRUE(window.Settle(1));
  const Tags batch{2};
  EXPECT_EQ(window.Ack(batch).multiple_up_to, 2u);
}

TEST(AckWindow, MultipleNamesATagOfTheBatch) {
  AckWindow window = Delivered(1, 5);
  const Tags first{2, 3};
  EXPECT_EQ(window.Ack(first).singles, (Tags{2, 3}));
  const Tags second{1};
  EXPECT_EQ(window.Ack(second).multiple_up_to, 1u) << "2 and 3 are acked already";
}

TEST(AckWindow, NothingIsSettledTwice) {
  AckWindow window = Delivered(1, 3);
  const Tags batch{2, 2, 7, 0};
  const auto plan = window.Ack(batch);
  EXPECT_EQ(plan.singles, (Tags{2})) << "a repeated tag and unknown tags are dropped";
  EXPECT_FALSE(window.Settle(2));
  EXPECT_TRUE(window.Settle(1));
  EXPECT_FALSE(window.Settle(1));
  EXPECT_TRUE(window.Ack(batch).singles.empty());
  EXPECT_EQ(window.Outstanding(), 1u);
}

TEST(AckWindow, ResetStartsANewChannel) {
  AckWindow window = Delivered(1, 5);
  window.Reset();
  EXPECT_EQ(window.Outstanding(), 0u);
  const Tags old{3};
  EXPECT_TRUE(window.Ack(old).singles.empty());
  EXPECT_EQ(window.Ack(old).multiple_up_to, 0u);
  window.Delivered(1);
  const Tags one{1};
  EXPECT_EQ(window.Ack(one).multiple_up_to, 1u);
}

// Random interleavings against a model of the broker: every tag settled
// exactly once, and a multiple ack only ever covers settled tags.
TEST(AckWindow, RandomInterleavingsMatchABrokerModel) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    AckWindow window;
    std::set<uint64_t> unacked;  // the broker's view
    std::vector<uint64_t> held;  // delivered to us, not yet acked
    uint64_t next_tag = 1;
    for (int step = 0; step < 300; ++step) {
      const auto dice = rng() % 10;
      if (dice < 4) {
        window.Delivered(next_tag);
        unacked.insert(next_tag);
        held.push_back(next_tag++);
        continue;
      }
      if (held.empty()) continue;
      std::shuffle(held.begin(), held.end(), rng);
      if (dice == 4) {  // a reject
        const uint64_t tag = held.back();
        held.pop_back();
        ASSERT_TRUE(window.Settle(tag));
        unacked.erase(tag);
        continue;
      }
      const size_t n = 1 + rng() % held.size();
      Tags batch(held.end() - static_cast<std::ptrdiff_t>(n), held.end());
      held.resize(held.size() - n);
      const std::set<uint64_t> still_held(held.begin(), held.end());
      const auto plan = window.Ack(batch);
      if (plan.multiple_up_to != 0) {
        ASSERT_TRUE(unacked.contains(plan.multiple_up_to)) << "the broker knows no such tag";
        for (uint64_t tag : still_held) ASSERT_GT(tag, plan.multiple_up_to) << "round " << round;
        unacked.erase(unacked.begin(), unacked.upper_bound(plan.multiple_up_to));
      }
      for (uint64_t tag : plan.singles) ASSERT_EQ(unacked.erase(tag), 1u) << "acked twice";
      for (uint64_t tag : batch) ASSERT_FALSE(unacked.contains(tag)) << "left unacked";
    }
    EXPECT_EQ(unacked, std::set<uint64_t>(held.begin(), held.end()));
    EXPECT_EQ(window.Outstanding(), held.size());
  }
}

}  // namespace
}  // namespace fila::rabbitmq
