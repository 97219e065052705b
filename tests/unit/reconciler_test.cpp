// The leader's reconciliation on the in-memory store (a fake clock) and
// broker: what a lost message is, and how much is published again.
#include "fila/scheduler/reconciler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <algorithm>
#include <map>
#include <stdexcept>

#include "fila/broker_memory/memory_broker.h"
#include "fila/core/envelope.h"
#include "fila/store_memory/memory_store.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kAfter{60000};

class CountingMetrics final : public SchedulerMetrics {
 public:
  void Republished(const std::string& queue, uint64_t tasks) override { by_queue[queue] += tasks; }
  std::map<std::string, uint64_t> by_queue;
};

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest()
      : now_(NowUnixMs()), store_([this] { return now_.load(); }), publisher_(broker_.NewPublisher()) {}

  Reconciler Make(uint32_t batch = 500, milliseconds after = kAfter) {
    return Reconciler({after, batch, milliseconds(1000)}, store_, *publisher_, metrics_);
  }
  void Advance(milliseconds d) { now_ += d.count(); }
  std::vector<std::string> Enqueue(int n, const std::string& queue = "default") {
    NewTask t;
    t.type = "noop";
    t.queue = queue;
    t.max_attempts = 3;
    t.timeout_ms = 1000;
    std::vector<NewTask> tasks(static_cast<size_t>(n), t);
    std::vector<std::string> ids;
    for (const auto& r : store_.Enqueue(tasks)) ids.push_back(r.id);
    return ids;
  }
  // What the relay does: publishes the outbox with confirms, then deletes it.
  size_t Relay() {
    auto items = store_.FetchOutbox(10000);
    std::vector<OutgoingMessage> messages;
    std::vector<int64_t> ids;
    for (const auto& item : items) {
      ids.push_back(item.outbox_id);
      if (!item.envelope.queue.empty())
        messages.push_back({item.envelope.queue, EncodeEnvelope(item.envelope), 0, item.envelope.id});
    }
    publisher_->PublishConfirmed(messages, DeadlineIn(milliseconds(1000)));
    store_.DeleteOutbox(ids);
    return messages.size();
  }

  // Six tasks published then purged from the broker, and four published
  // after the loss (still in the broker); the six lost ids, sorted.
  std::vector<std::string> LoseSixThenPublishFour() {
    auto lost = Enqueue(6);
    Relay();
    broker_.Purge("default");
    Advance(milliseconds(1000));
    Enqueue(4);
    Relay();
    std::sort(lost.begin(), lost.end());
    return lost;
  }
  // The tasks waiting in the outbox to be published again, sorted.
  std::vector<std::string> OutboxIds() {
    std::vector<std::string> ids;
    for (const auto& item : store_.FetchOutbox(100)) ids.push_back(item.envelope.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  // A live worker "w1" consuming "default" with `slots` (its prefetch).
  void Worker(uint32_t slots) {
    store_.Heartbeat({.id = "w1", .queues = {"default"}, .concurrency = slots}, 30000);
  }
  // A worker's consumer takes `n` deliveries and, with `claim`, claims
  // them, with whatever it took unclaimed before.
  void Take(int n, bool claim = true) {
    if (!consumer_) {
      consumer_ = broker_.NewConsumer();
      consumer_->Start({"default"}, 0);
    }
    for (int i = 0; i < n; ++i) {
      auto delivery = consumer_->Next(DeadlineIn(milliseconds(100)));
      ASSERT_TRUE(delivery.has_value());
      taken_.push_back(DecodeEnvelope(delivery->body).id);
    }
    if (!claim) return;
    store_.Claim(taken_, "w1", 30000);
    taken_.clear();
  }

  std::atomic<int64_t> now_;
  MemoryStore store_;
  MemoryBroker broker_;
  std::unique_ptr<Publisher> publisher_;
  CountingMetrics metrics_;
  std::unique_ptr<Consumer> consumer_;
  std::vector<std::string> taken_;
};

TEST_F(ReconcilerTest, APurgedQueueIsPublishedAgainInBatchesWhileItIsConsumed) {
  Enqueue(25);
  ASSERT_EQ(Relay(), 25u);
  ASSERT_EQ(broker_.Purge("default"), 25u);
  Reconciler reconciler = Make(/*batch=*/10);
  EXPECT_GT(reconciler.Pass(), SteadyClock::now()) << "nothing is stale yet";
  EXPECT_TRUE(store_.FetchOutbox(100).empty());

  Advance(kAfter + milliseconds(1));
  // Each pass's batch is published before the next pass counts again, and
  // a worker takes one between passes: a queue under repair is repaired
  // although it is consumed. "At once": a full batch, the next pass is due.
  std::vector<std::pair<size_t, bool>> passes;
  for (int pass = 0; pass < 4; ++pass) {
    const auto next = reconciler.Pass();
    passes.emplace_back(Relay(), next <= SteadyClock::now());
    Take(1);
  }
  EXPECT_EQ(passes, (std::vector<std::pair<size_t, bool>>{
                        {10, true}, {10, true}, {5, false}, {0, false}}));
  EXPECT_EQ(broker_.Depth("default"), 25u - 4u);
  EXPECT_EQ(reconciler.Republished(), 25u);
  EXPECT_EQ(metrics_.by_queue["default"], 25u);
  // Published again, they wait a whole bound, and then the broker has them.
  Advance(kAfter / 2);
  reconciler.Pass();
  Advance(kAfter);
  reconciler.Pass();
  EXPECT_TRUE(store_.FetchOutbox(100).empty());
}

TEST_F(ReconcilerTest, ASlowBacklogIsNeverPublishedAgain) {
  Enqueue(20);
  Relay();
  Advance(kAfter * 10);  // nobody consumes: the broker holds them all
  Reconciler reconciler = Make();
  reconciler.Pass();
  EXPECT_TRUE(store_.FetchOutbox(100).empty());

  // Now consumed: five delivered and not claimed yet are missing from the
  // broker's ready count, yet not lost (the worker has five slots).
  Worker(5);
  Take(5, /*claim=*/false);
  reconciler.Pass();
  EXPECT_TRUE(store_.FetchOutbox(100).empty());
  Take(0);  // the five claimed
  reconciler.Pass();
  EXPECT_TRUE(store_.FetchOutbox(100).empty());
  EXPECT_EQ(reconciler.Republished(), 0u);
}

TEST_F(ReconcilerTest, AConsumedQueueThatLostSomeIsRepairedOnceItDrains) {
  Enqueue(6);
  Relay();
  broker_.Purge("default");
  Enqueue(4);
  Relay();
  Advance(kAfter + milliseconds(1));
  Reconciler reconciler = Make();
  Worker(7);
  Take(1);  // consumed, with 3 ready: 6 missing could be in flight to 6 free slots
  reconciler.Pass();
  EXPECT_TRUE(store_.FetchOutbox(100).empty());
  Take(3);  // drained: the 6 still queued are lost
  reconciler.Pass();
  EXPECT_EQ(store_.FetchOutbox(100).size(), 6u);
}

TEST_F(ReconcilerTest, ALossLargerThanTheConsumersSlotsIsRepairedWhileTheQueueIsConsumed) {
  const auto lost = LoseSixThenPublishFour();
  Advance(kAfter + milliseconds(1));
  Reconciler reconciler = Make();
  Worker(5);
  Take(1);  // consumed, with 3 ready, as under a load that never lets it drain
  reconciler.Pass();
  EXPECT_EQ(OutboxIds(), lost) << "6 missing is more than the 5 the worker can hold unclaimed";
}

TEST_F(ReconcilerTest, ASmallLossIsRepairedWhileBusyWorkersKeepTheQueueFromDraining) {
  Worker(8);
  Enqueue(8);
  Relay();
  Take(8);  // every slot runs a task: no delivery can wait unclaimed
  const auto lost = LoseSixThenPublishFour();
  Advance(kAfter + milliseconds(1));
  Make().Pass();
  EXPECT_EQ(OutboxIds(), lost) << "6 missing, 8 slots, none free";
}

TEST_F(ReconcilerTest, OnlyWhatTheBrokerLacksIsPublishedAgainLongestWaitingFirst) {
  const auto lost = LoseSixThenPublishFour();
  Enqueue(2, "other");  // another queue, intact
  Relay();
  Advance(kAfter + milliseconds(1));
  Make().Pass();
  EXPECT_EQ(OutboxIds(), lost);
  EXPECT_EQ(metrics_.by_queue, (std::map<std::string, uint64_t>{{"default", 6}}));
}

TEST_F(ReconcilerTest, ABrokerThatCannotCountStopsNothingElseAndIsReported) {
  Enqueue(3);
  Relay();
  broker_.Purge("default");
  Advance(kAfter + milliseconds(1));
  broker_.SetReachable(false);
  Reconciler reconciler = Make();
  EXPECT_THROW(reconciler.Pass(), std::runtime_error);
  EXPECT_TRUE(store_.FetchOutbox(100).empty());
  broker_.SetReachable(true);
  reconciler.Pass();
  EXPECT_EQ(store_.FetchOutbox(100).size(), 3u);
}

TEST_F(ReconcilerTest, ZeroTurnsItOff) {
  Enqueue(3);
  Relay();
  broker_.Purge("default");
  Advance(kAfter * 10);
  Reconciler reconciler = Make(500, milliseconds(0));
  EXPECT_EQ(reconciler.Pass(), SteadyClock::time_point::max());
  EXPECT_TRUE(store_.FetchOutbox(100).empty());
}

}  // namespace
}  // namespace fila
