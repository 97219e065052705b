// The RabbitMQ publisher's bookkeeping of pipelined batches (adapter source
// confirm_tracker.cpp, pure logic compiled in here): which tags are whose,
// what a nack, a return or a lost connection ends.
#include "confirm_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace fila::rabbitmq {
namespace {

const Deadline kLater = SteadyClock::now() + std::chrono::hours(1);

std::vector<OutgoingMessage> Messages(const std::string& prefix, size_t count) {
  std::vector<OutgoingMessage> out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back({"default", prefix + std::to_string(i), 1, prefix + std::to_string(i)});
  }
  return out;
}

std::vector<uint64_t> Confirmed(const std::vector<PublishOutcome>& outcomes) {
  std::vector<uint64_t> out;
  for (const auto& o : outcomes) {
    if (o.confirmed) out.push_back(o.ticket);
  }
  return out;
}

std::vector<uint64_t> Failed(const std::vector<PublishOutcome>& outcomes) {
  std::vector<uint64_t> out;
  for (const auto& o : outcomes) {
    if (!o.confirmed) out.push_back(o.ticket);
  }
  return out;
}

TEST(ConfirmTracker, AMultipleAckEndsEveryBatchItCovers) {
  ConfirmTracker tracker;
  tracker.Sent(1, 1, Messages("a", 3), kLater);  // tags 1..3
  tracker.Sent(2, 4, Messages("b", 3), kLater);  // tags 4..6
  tracker.Sent(3, 7, Messages("c", 2), kLater);  // tags 7..8
  tracker.Answered(5, /*multiple=*/true, /*ack=*/true);
  EXPECT_EQ(Confirmed(tracker.TakeFinished()), (std::vector<uint64_t>{1}));
  EXPECT_EQ(tracker.InFlight(), 2u);
  tracker.Answered(8, true, true);
  EXPECT_EQ(Confirmed(tracker.TakeFinished()), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(tracker.InFlight(), 0u);
  EXPECT_EQ(tracker.UnansweredTags(), 0u);
}

TEST(ConfirmTracker, BatchesMayEndOutOfOrder) {
  ConfirmTracker tracker;
  tracker.Sent(1, 1, Messages("a", 2), kLater);
  tracker.Sent(2, 3, Messages("b", 2), kLater);
  tracker.Answered(4, false, true);
  tracker.Answered(3, false, true);
  EXPECT_EQ(Confirmed(tracker.TakeFinished()), (std::vector<uint64_t>{2}));
  tracker.Answered(1, false, true);
  EXPECT_TRUE(tracker.TakeFinished().empty());
  tracker.Answered(2, false, true);
  EXPECT_EQ(Confirmed(tracker.TakeFinished()), (std::vector<uint64_t>{1}));
}

TEST(ConfirmTracker, ANackFailsOnlyItsOwnBatch) {
  ConfirmTracker tracker;
  tracker.Sent(1, 1, Messages("a", 2), kLater);
  tracker.Sent(2, 3, Messages("b", 2), kLater);
  tracker.Sent(3, 5, Messages("c", 2), kLater);
  tracker.Answered(3, false, false);  // one of batch 2
  tracker.Answered(6, true, true);
  const auto outcomes = tracker.TakeFinished();
  EXPECT_EQ(Confirmed(outcomes), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(Failed(outcomes), (std::vector<uint64_t>{2}));
  const auto nacked = std::find_if(outcomes.begin(), outcomes.end(),
                                   [](const PublishOutcome& o) { return o.ticket == 2; });
  EXPECT_NE(nacked->error.find("nacked 1 of 2"), std::string::npos) << nacked->error;
}

TEST(ConfirmTracker, AReturnedMessageIsNeverCountedConfirmed) {
  ConfirmTracker tracker;
  const auto a = Messages("a", 3);
  tracker.Sent(1, 1, a, kLater);
  tracker.Sent(2, 4, Messages("b", 1), kLater);
  tracker.Returned(a[1]);  // before its ack, as RabbitMQ sends it
  tracker.Answered(4, true, true);
  EXPECT_EQ(Confirmed(tracker.TakeFinished()), (std::vector<uint64_t>{2}));
  auto resends = tracker.TakeResends();
  ASSERT_EQ(resends.size(), 1u);
  EXPECT_EQ(resends[0].ticket, 1u);
  EXPECT_EQ(resends[0].round, 2);
  ASSERT_EQ(resends[0].messages.size(), 1u);
  EXPECT_EQ(resends[0].messages[0].body, a[1].body);
  EXPECT_TRUE(tracker.TakeResends().empty()) << "taken once";
  EXPECT_EQ(tracker.InFlight(), 1u);
  tracker.Resent(resends[0], 5);
  tracker.Answered(5, false, true);
  EXPECT_EQ(Confirmed(tracker.TakeFinished()), (std::vector<uint64_t>{1}));
}

TEST(ConfirmTracker, AReturnIsMatchedToTheBatchThatSentIt) {
  ConfirmTracker tracker;
  const auto b = Messages("b", 2);
  tracker.Sent(1, 1, Messages("a", 2), kLater);
  tracker.Sent(2, 3, b, kLater);
  tracker.Returned(b[0]);
  tracker.Answered(4, true, true);
  EXPECT_EQ(Confirmed(tracker.TakeFinished()), (std::vector<uint64_t>{1}));
  auto resends = tracker.TakeResends();
  ASSERT_EQ(resends.size(), 1u);
  EXPECT_EQ(resends[0].ticket, 2u);
}

TEST(ConfirmTracker, ALostConnectionFailsEveryBatchInFlight) {
  ConfirmTracker tracker;
  tracker.Sent(1, 1, Messages("a", 2), kLater);
  tracker.Sent(2, 3, Messages("b", 2), kLater);
  tracker.Answered(2, true, true);
  tracker.FailAll("connection lost");
  const auto outcomes = tracker.TakeFinished();
  EXPECT_EQ(Confirmed(outcomes), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Failed(outcomes), (std::vector<uint64_t>{2}));
  EXPECT_EQ(tracker.InFlight(), 0u);
  EXPECT_EQ(tracker.UnansweredTags(), 0u);
}

TEST(ConfirmTracker, APassedDeadlineFailsItsBatchAndLateAnswersAreIgnored) {
  ConfirmTracker tracker;
  const auto now = SteadyClock::now();
  tracker.Sent(1, 1, Messages("a", 2), now);
  tracker.Sent(2, 3, Messages("b", 2), kLater);
  EXPECT_EQ(tracker.EarliestDeadline(), now);
  tracker.Expire(now);
  EXPECT_EQ(Failed(tracker.TakeFinished()), (std::vector<uint64_t>{1}));
  tracker.Answered(4, true, true);
  EXPECT_EQ(Confirmed(tracker.TakeFinished()), (std::vector<uint64_t>{2}));
}

TEST(ConfirmTracker, AnEmptyBatchIsConfirmedAtOnce) {
  ConfirmTracker tracker;
  tracker.Sent(7, 1, {}, kLater);
  EXPECT_EQ(Confirmed(tracker.TakeFinished()), (std::vector<uint64_t>{7}));
}

TEST(ConfirmTracker, KeptOutcomesComeFirst) {
  ConfirmTracker tracker;
  tracker.Sent(1, 1, Messages("a", 1), kLater);
  tracker.Sent(2, 2, Messages("b", 1), kLater);
  tracker.Answered(1, false, true);
  auto first = tracker.TakeFinished();
  tracker.Answered(2, false, true);
  tracker.Keep(std::move(first));
  EXPECT_EQ(Confirmed(tracker.TakeFinished()), (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace fila::rabbitmq
