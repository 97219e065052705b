#include "fila/broker_memory/memory_broker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fila/core/errors.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kShort{50};
constexpr milliseconds kLong{5000};

OutgoingMessage Msg(std::string queue, std::string body, uint8_t priority = 0) {
  return OutgoingMessage{
      .queue = std::move(queue), .body = std::move(body), .priority = priority, .message_id = {}};
}

void Publish(MemoryBroker& broker, std::vector<OutgoingMessage> messages) {
  broker.NewPublisher()->PublishConfirmed(messages, DeadlineIn(kLong));
}

// Bodies of up to `max` deliveries, acking each; stops at the first empty wait.
std::vector<std::string> DrainBodies(Consumer& consumer, size_t max = 1000) {
  std::vector<std::string> bodies;
  while (bodies.size() < max) {
    auto delivery = consumer.Next(DeadlineIn(kShort));
    if (!delivery) break;
    bodies.push_back(delivery->body);
    consumer.Ack(delivery->epoch, delivery->tag);
  }
  return bodies;
}

TEST(MemoryBroker, DeliversHigherPriorityFirst) {
  MemoryBroker broker;
  Publish(broker,
          {Msg("q", "low", 0), Msg("q", "mid", 5), Msg("q", "high", 9), Msg("q", "low2", 0)});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 10);
  EXPECT_EQ(DrainBodies(*consumer), (std::vector<std::string>{"high", "mid", "low", "low2"}));
}

TEST(MemoryBroker, PriorityAboveNineCountsAsNine) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "nine", 9), Msg("q", "two-hundred", 200), Msg("q", "one", 1)});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 10);
  EXPECT_EQ(DrainBodies(*consumer), (std::vector<std::string>{"nine", "two-hundred", "one"}));
}

TEST(MemoryBroker, DeliversAheadMessagesFirstWithinTheirPriorityOnly) {
  MemoryBroker broker;
  auto ahead = [](std::string body, uint8_t priority) {
    OutgoingMessage m = Msg("q", std::move(body), priority);
    m.ahead = true;
    return m;
  };
  Publish(broker, {Msg("q", "a1", 3), Msg("q", "a2", 3), Msg("q", "top", 4), ahead("b1", 3),
                   ahead("b-low", 2), ahead("b2", 3)});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 10);
  EXPECT_EQ(DrainBodies(*consumer),
            (std::vector<std::string>{"top", "b1", "b2", "a1", "a2", "b-low"}));
}

TEST(MemoryBroker, KeepsFifoOrderWithinAPriority) {
  MemoryBroker broker;
  std::vector<OutgoingMessage> batch;
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) {
    batch.push_back(Msg("q", "m" + std::to_string(i), 3));
    expected.push_back("m" + std::to_string(i));
  }
  Publish(broker, batch);
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 0);
  EXPECT_EQ(DrainBodies(*consumer), expected);
}

TEST(MemoryBroker, PrefersHigherPriorityAcrossQueues) {
  MemoryBroker broker;
  Publish(broker, {Msg("a", "a-low", 1), Msg("b", "b-high", 8), Msg("a", "a-mid", 4)});
  auto consumer = broker.NewConsumer();
  consumer->Start({"a", "b"}, 5);
  auto first = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "b-high");
  EXPECT_EQ(first->queue, "b");
  auto second = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->queue, "a");
  EXPECT_EQ(second->body, "a-mid");
}

TEST(MemoryBroker, PrefetchCapsUnackedAcrossAllQueues) {
  MemoryBroker broker;
  Publish(broker, {Msg("a", "a1"), Msg("a", "a2"), Msg("b", "b1"), Msg("b", "b2")});
  auto consumer = broker.NewConsumer();
  consumer->Start({"a", "b"}, 3);
  std::vector<Delivery> held;
  for (int i = 0; i < 3; ++i) {
    auto delivery = consumer->Next(DeadlineIn(kShort));
    ASSERT_TRUE(delivery.has_value()) << "delivery " << i;
    held.push_back(*delivery);
  }
  EXPECT_FALSE(consumer->Next(DeadlineIn(kShort)).has_value())
      << "a 4th delivery exceeds prefetch 3";
  EXPECT_EQ(broker.Unacked(), 3u);
  EXPECT_EQ(broker.Depth("a") + broker.Depth("b"), 1u);

  consumer->Ack(held[0].epoch, held[0].tag);
  auto fourth = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(fourth.has_value()) << "acking one frees a prefetch slot";
  EXPECT_EQ(broker.Unacked(), 3u);
}

TEST(MemoryBroker, AnExpressLaneHasAPrefetchOfItsOwn) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "q1"), Msg("q", "q2"), Msg("q", "q3")});
  auto consumer = broker.NewConsumer();
  consumer->StartWithLanes({"q"}, 2, {ExpressLane("q")}, 1);
  std::vector<Delivery> held;
  while (auto delivery = consumer->Next(DeadlineIn(kShort))) held.push_back(*delivery);
  ASSERT_EQ(held.size(), 2u) << "the queue's prefetch is 2";
  Publish(broker, {Msg(ExpressLane("q"), "x1"), Msg(ExpressLane("q"), "x2")});
  auto express = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(express.has_value()) << "the lane waits for no slot of the queue";
  EXPECT_EQ(express->body, "x1");
  EXPECT_EQ(LaneOwner(express->queue), "q");
  EXPECT_FALSE(consumer->Next(DeadlineIn(kShort)).has_value()) << "the lane's prefetch is 1";
  consumer->Ack(held[0].epoch, held[0].tag);
  auto next = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body, "q3") << "an ack of the queue frees a slot of the queue, not of the lane";
}

TEST(MemoryBroker, AckRemovesTheMessage) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "only")});
  EXPECT_EQ(broker.Depth("q"), 1u);
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  auto delivery = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(delivery.has_value());
  EXPECT_FALSE(delivery->redelivered);
  EXPECT_EQ(broker.Depth("q"), 0u);
  EXPECT_EQ(broker.Unacked(), 1u);
  consumer->Ack(delivery->epoch, delivery->tag);
  EXPECT_EQ(broker.Unacked(), 0u);
  consumer.reset();  // nothing left to requeue
  EXPECT_EQ(broker.Depth("q"), 0u);
}

TEST(MemoryBroker, RejectWithRequeueRedeliversInPlace) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "first"), Msg("q", "second")});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  auto first = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(first.has_value());
  consumer->Reject(first->epoch, first->tag, /*requeue=*/true);
  auto again = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->body, "first")
      << "a requeued message goes back to its place, ahead of later ones";
  EXPECT_TRUE(again->redelivered);
  EXPECT_NE(again->tag, first->tag);
}

TEST(MemoryBroker, RejectWithoutRequeueDropsTheMessage) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "poison")});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  auto delivery = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(delivery.has_value());
  consumer->Reject(delivery->epoch, delivery->tag, /*requeue=*/false);
  EXPECT_EQ(broker.Depth("q"), 0u);
  EXPECT_EQ(broker.Unacked(), 0u);
  EXPECT_FALSE(consumer->Next(DeadlineIn(kShort)).has_value());
}

TEST(MemoryBroker, DestroyedConsumerRequeuesUnackedAsRedelivered) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "one"), Msg("q", "two"), Msg("q", "three")});
  {
    auto consumer = broker.NewConsumer();
    consumer->Start({"q"}, 2);
    ASSERT_TRUE(consumer->Next(DeadlineIn(kShort)).has_value());
    ASSERT_TRUE(consumer->Next(DeadlineIn(kShort)).has_value());
    EXPECT_EQ(broker.Depth("q"), 1u);
  }
  EXPECT_EQ(broker.Depth("q"), 3u);
  EXPECT_EQ(broker.Unacked(), 0u);
  auto next = broker.NewConsumer();
  next->Start({"q"}, 10);
  std::vector<std::pair<std::string, bool>> seen;
  while (auto delivery = next->Next(DeadlineIn(kShort))) {
    seen.emplace_back(delivery->body, delivery->redelivered);
    next->Ack(delivery->epoch, delivery->tag);
  }
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, bool>>{
                      {"one", true}, {"two", true}, {"three", false}}));
}

TEST(MemoryBroker, DroppedConnectionStartsNewEpochAndIgnoresStaleAcks) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "task")});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  auto old = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(old.has_value());

  broker.DropConnections();
  EXPECT_EQ(broker.Depth("q"), 1u) << "unacked message is back in the queue";
  EXPECT_TRUE(consumer->Connected());
  consumer->Ack(old->epoch, old->tag);  // stale: must change nothing
  EXPECT_EQ(broker.Depth("q"), 1u);
  EXPECT_EQ(broker.ChannelErrors(), 0u);

  auto fresh = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->body, "task");
  EXPECT_TRUE(fresh->redelivered);
  EXPECT_GT(fresh->epoch, old->epoch);
  consumer->Ack(fresh->epoch, fresh->tag);
  EXPECT_EQ(broker.Unacked(), 0u);
  EXPECT_EQ(broker.Depth("q"), 0u);
}

TEST(MemoryBroker, AckingAnUnknownTagIsAChannelError) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "a"), Msg("q", "b")});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 2);
  auto first = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(first.has_value());
  consumer->Ack(first->epoch, first->tag);
  consumer->Ack(first->epoch, first->tag);  // double ack
  EXPECT_EQ(broker.ChannelErrors(), 1u);
  auto second = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(second.has_value());
  EXPECT_GT(second->epoch, first->epoch) << "the channel error cost the connection";
}

TEST(MemoryBroker, NextReturnsNulloptAtTheDeadline) {
  MemoryBroker broker;
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  const auto started = SteadyClock::now();
  EXPECT_FALSE(consumer->Next(DeadlineIn(milliseconds(100))).has_value());
  EXPECT_GE(SteadyClock::now() - started, milliseconds(100));
}

TEST(MemoryBroker, WakeupUnblocksNext) {
  MemoryBroker broker;
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  std::thread waker([&] {
    std::this_thread::sleep_for(milliseconds(100));
    consumer->Wakeup();
  });
  const auto started = SteadyClock::now();
  auto delivery = consumer->Next(DeadlineIn(milliseconds(30000)));
  const auto waited = SteadyClock::now() - started;
  waker.join();
  EXPECT_FALSE(delivery.has_value());
  EXPECT_LT(waited, milliseconds(5000));
}

TEST(MemoryBroker, BlockedNextWakesOnPublish) {
  MemoryBroker broker;
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  std::thread producer([&] {
    std::this_thread::sleep_for(milliseconds(100));
    Publish(broker, {Msg("q", "late")});
  });
  auto delivery = consumer->Next(DeadlineIn(milliseconds(30000)));
  producer.join();
  ASSERT_TRUE(delivery.has_value());
  EXPECT_EQ(delivery->body, "late");
}

TEST(MemoryBroker, CompetingConsumersEachGetDistinctMessages) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "x"), Msg("q", "y")});
  auto one = broker.NewConsumer();
  auto two = broker.NewConsumer();
  one->Start({"q"}, 1);
  two->Start({"q"}, 1);
  auto a = one->Next(DeadlineIn(kShort));
  auto b = two->Next(DeadlineIn(kShort));
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(a->body, b->body);
  EXPECT_FALSE(one->Next(DeadlineIn(kShort)).has_value()) << "prefetch 1 and nothing left";
}

TEST(MemoryBroker, StopEndsDeliveriesButUnackedStayAckable) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "a"), Msg("q", "b")});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 5);
  auto first = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(first.has_value());
  consumer->Stop();
  EXPECT_FALSE(consumer->Connected());
  EXPECT_FALSE(consumer->Next(DeadlineIn(kShort)).has_value());
  consumer->Ack(first->epoch, first->tag);
  EXPECT_EQ(broker.Unacked(), 0u);
  EXPECT_EQ(broker.Depth("q"), 1u);
  EXPECT_EQ(broker.ChannelErrors(), 0u);
}

TEST(MemoryBroker, FailNextPublishThrowsTransientOnce) {
  MemoryBroker broker;
  auto publisher = broker.NewPublisher();
  std::vector<OutgoingMessage> batch{Msg("q", "1"), Msg("q", "2"), Msg("q", "3")};
  broker.FailNextPublish(/*published_before_failure=*/2);
  EXPECT_THROW(publisher->PublishConfirmed(batch, DeadlineIn(kLong)), TransientError);
  EXPECT_EQ(broker.Depth("q"), 2u) << "the part sent before the failure stays, as on a real broker";
  EXPECT_NO_THROW(publisher->PublishConfirmed(batch, DeadlineIn(kLong)));
  EXPECT_EQ(broker.Depth("q"), 5u);
}

TEST(MemoryBroker, EmptyQueueNameIsPermanentError) {
  MemoryBroker broker;
  std::vector<OutgoingMessage> batch{Msg("q", "fine"), Msg("", "nameless")};
  EXPECT_THROW(broker.NewPublisher()->PublishConfirmed(batch, DeadlineIn(kLong)), PermanentError);
  EXPECT_EQ(broker.Depth("q"), 0u) << "a bad batch is refused whole";
  EXPECT_THROW(broker.NewConsumer()->Start({""}, 1), PermanentError);
}

TEST(MemoryBroker, ConsumerWithoutQueuesOnlyWatchesTheConnection) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "not for the watcher")});
  auto watcher = broker.NewConsumer();
  watcher->Start({}, 1);
  EXPECT_TRUE(watcher->Connected());
  EXPECT_FALSE(watcher->Next(DeadlineIn(std::chrono::milliseconds(20))).has_value());
  EXPECT_EQ(broker.Depth("q"), 1u);
}

TEST(MemoryBroker, UnreachableBrokerFailsTransientlyAndConsumersRecover) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "held")});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  auto held = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(held.has_value());

  broker.SetReachable(false);
  EXPECT_FALSE(consumer->Connected());
  EXPECT_EQ(broker.Depth("q"), 1u);
  EXPECT_THROW(Publish(broker, {Msg("q", "lost")}), TransientError);
  EXPECT_THROW(broker.NewConsumer()->Start({"q"}, 1), TransientError);
  EXPECT_FALSE(consumer->Next(DeadlineIn(kShort)).has_value());

  broker.SetReachable(true);
  auto again = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(consumer->Connected());
  EXPECT_EQ(again->body, "held");
  EXPECT_TRUE(again->redelivered);
  EXPECT_GT(again->epoch, held->epoch);
}

TEST(MemoryBroker, DeadLetterMovesTheMessageToDeadWithItsReason) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "poison", 7), Msg("q", "fine")});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 2);
  auto poison = consumer->Next(DeadlineIn(kShort));
  auto fine = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(poison.has_value());
  ASSERT_TRUE(fine.has_value());
  ASSERT_EQ(poison->body, "poison");
  EXPECT_EQ(broker.Unacked(), 2u);

  consumer->DeadLetter(*poison, "bad payload: missing field");
  EXPECT_EQ(broker.Unacked(), 1u) << "the original is acked";
  EXPECT_EQ(broker.Depth("q"), 0u) << "and not requeued";
  EXPECT_EQ(broker.Depth(MemoryBroker::kDeadLetterQueue), 1u);
  EXPECT_EQ(std::string(MemoryBroker::kDeadLetterQueue), "dead");
  auto records = broker.DeadLetters();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].source_queue, "q");
  EXPECT_EQ(records[0].reason, "bad payload: missing field");
  EXPECT_EQ(records[0].body, "poison");
  EXPECT_EQ(broker.ChannelErrors(), 0u);

  // The rest of the consumer is unaffected, and losing its connection does
  // not bring the dead-lettered message back.
  consumer->Ack(fine->epoch, fine->tag);
  broker.DropConnections();
  EXPECT_FALSE(consumer->Next(DeadlineIn(kShort)).has_value());
  EXPECT_EQ(broker.Depth("q"), 0u);

  // "dead" is an ordinary logical queue.
  auto dead = broker.NewConsumer();
  dead->Start({MemoryBroker::kDeadLetterQueue}, 1);
  auto letter = dead->Next(DeadlineIn(kShort));
  ASSERT_TRUE(letter.has_value());
  EXPECT_EQ(letter->body, "poison");
  EXPECT_EQ(letter->queue, "dead");
  EXPECT_FALSE(letter->redelivered);
  dead->Ack(letter->epoch, letter->tag);
  EXPECT_EQ(broker.Depth(MemoryBroker::kDeadLetterQueue), 0u);
  EXPECT_EQ(broker.DeadLetters().size(), 1u) << "the record outlives the message";
}

TEST(MemoryBroker, DeadLetterWakesAConsumerOfDead) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "poison")});
  auto dead = broker.NewConsumer();
  dead->Start({"dead"}, 1);
  std::thread waiter([&] {
    auto letter = dead->Next(DeadlineIn(kLong));
    ASSERT_TRUE(letter.has_value());
    EXPECT_EQ(letter->body, "poison");
  });
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  auto poison = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(poison.has_value());
  std::this_thread::sleep_for(kShort);
  consumer->DeadLetter(*poison, "why");
  waiter.join();
}

TEST(MemoryBroker, DeadLetterOfAStaleEpochIsIgnored) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "poison")});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  auto old = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(old.has_value());

  broker.DropConnections();
  consumer->DeadLetter(*old, "too late");
  EXPECT_EQ(broker.Depth("dead"), 0u);
  EXPECT_TRUE(broker.DeadLetters().empty());
  EXPECT_EQ(broker.Depth("q"), 1u) << "the broker redelivers it";
  EXPECT_EQ(broker.ChannelErrors(), 0u);

  auto again = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->redelivered);
  // A stale delivery with the same tag number as a live one must not touch
  // the live one.
  Delivery stale = *old;
  stale.tag = again->tag;
  consumer->DeadLetter(stale, "too late");
  EXPECT_EQ(broker.Unacked(), 1u);
  EXPECT_EQ(broker.Depth("dead"), 0u);

  consumer->DeadLetter(*again, "now");
  EXPECT_EQ(broker.Unacked(), 0u);
  EXPECT_EQ(broker.Depth("q"), 0u);
  EXPECT_EQ(broker.Depth("dead"), 1u);
  ASSERT_EQ(broker.DeadLetters().size(), 1u);
  EXPECT_EQ(broker.DeadLetters()[0].reason, "now");
}

TEST(MemoryBroker, DeadLetteringTwiceIsAChannelError) {
  MemoryBroker broker;
  Publish(broker, {Msg("q", "poison")});
  auto consumer = broker.NewConsumer();
  consumer->Start({"q"}, 1);
  auto poison = consumer->Next(DeadlineIn(kShort));
  ASSERT_TRUE(poison.has_value());
  consumer->DeadLetter(*poison, "first");
  consumer->DeadLetter(*poison, "second");
  EXPECT_EQ(broker.ChannelErrors(), 1u) << "the second ack of the same tag";
  EXPECT_EQ(broker.Depth("dead"), 2u) << "published before the failed ack, as in RabbitMQ";
}

}  // namespace
}  // namespace fila
