// The relay's dispatcher on the in-memory store (a fake clock) and broker:
// the window per queue, the fair order, aging, and --priority-aging.
#include "fila/scheduler/dispatcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <thread>

#include "fila/broker_memory/memory_broker.h"
#include "fila/core/envelope.h"
#include "fila/core/errors.h"
#include "fila/store_memory/memory_store.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

class AgedMetrics final : public SchedulerMetrics {
 public:
  void DispatchAged(const std::string& queue, uint64_t tasks) override { aged[queue] += tasks; }
  void DispatchWindowFull(const std::string& queue, bool is_full) override { full[queue] = is_full; }
  void Republished(const std::string& queue, uint64_t tasks) override { republished[queue] += tasks; }
  std::map<std::string, uint64_t> aged;
  std::map<std::string, uint64_t> republished;
  std::map<std::string, bool> full;
};

// Counts the relay's broker round trips for the window (CountQueue).
class CountingPublisher final : public Publisher {
 public:
  explicit CountingPublisher(std::unique_ptr<Publisher> inner) : inner_(std::move(inner)) {}
  uint64_t PublishAsync(std::span<const OutgoingMessage> messages, Deadline deadline) override {
    return inner_->PublishAsync(messages, deadline);
  }
  std::vector<PublishOutcome> CollectConfirms(Deadline deadline) override {
    return inner_->CollectConfirms(deadline);
  }
  size_t InFlight() const override { return inner_->InFlight(); }
  void PublishConfirmed(std::span<const OutgoingMessage> messages, Deadline deadline) override {
    inner_->PublishConfirmed(messages, deadline);
  }
  QueueCounts CountQueue(const std::string& queue, Deadline deadline) override {
    ++counted;
    ++by_queue[queue];
    return inner_->CountQueue(queue, deadline);
  }
  int counted = 0;
  std::map<std::string, int> by_queue;

 private:
  std::unique_ptr<Publisher> inner_;
};

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest()
      : now_(NowUnixMs()), store_([this] { return now_.load(); }), publisher_(broker_.NewPublisher()) {}

  Dispatcher Make(uint32_t window, milliseconds aging = milliseconds(0)) {
    DispatchOptions options;
    options.window = window;
    options.default_aging = aging;
    return Dispatcher(options, store_, *publisher_, metrics_);
  }
  std::vector<std::string> Enqueue(int n, const std::string& tenant, uint32_t priority = 0) {
    NewTask t;
    t.type = "noop";
    t.queue = "default";
    t.max_attempts = 3;
    t.timeout_ms = 1000;
    t.tenant = tenant;
    t.priority = priority;
    std::vector<NewTask> tasks(static_cast<size_t>(n), t);
    std::vector<std::string> ids;
    for (const auto& r : store_.Enqueue(tasks)) ids.push_back(r.id);
    return ids;
  }
  // What the relay does with a pass: publish, delete, tell the dispatcher.
  std::vector<OutboxItem> Pass(Dispatcher& d, uint32_t limit = 500) {
    auto items = d.Next(limit);
    std::vector<OutgoingMessage> messages;
    std::vector<int64_t> ids;
    for (const auto& item : items) {
      ids.push_back(item.outbox_id);
      messages.push_back({item.express ? ExpressLane(item.envelope.queue) : item.envelope.queue,
                          EncodeEnvelope(item.envelope),
                          static_cast<uint8_t>(item.publish_priority), item.envelope.id,
                          item.ahead});
    }
    publisher_->PublishConfirmed(messages, DeadlineIn(milliseconds(1000)));
    store_.DeleteOutbox(ids);
    d.Published(items);
    return items;
  }
  // Workers took what the broker held: claimed (running) and gone from it.
  void Consume(const std::vector<OutboxItem>& items) {
    std::vector<std::string> ids;
    for (const auto& item : items) ids.push_back(item.envelope.id);
    broker_.Purge("default");
    store_.Claim(ids, "w1", 60000);
  }

  std::atomic<int64_t> now_;
  MemoryStore store_;
  MemoryBroker broker_;
  std::unique_ptr<Publisher> publisher_;
  AgedMetrics metrics_;
};

TEST_F(DispatcherTest, KeepsAtMostTheWindowReadyInTheBroker) {
  Enqueue(10, "a");
  Dispatcher d = Make(4);
  auto first = Pass(d);
  EXPECT_EQ(first.size(), 4u);
  EXPECT_EQ(broker_.Depth("default"), 4u);
  EXPECT_TRUE(d.Held());
  EXPECT_TRUE(metrics_.full["default"]);
  EXPECT_TRUE(Pass(d).empty());  // full: nothing more until workers take some
  broker_.Purge("default");
  EXPECT_EQ(Pass(d).size(), 4u);
  broker_.Purge("default");
  EXPECT_EQ(Pass(d).size(), 2u);
  EXPECT_FALSE(d.Held());
  EXPECT_FALSE(metrics_.full["default"]);
}

TEST_F(DispatcherTest, AQuietTenantGoesBeforeABacklog) {
  Enqueue(20, "a");
  Dispatcher d = Make(4);
  auto first = Pass(d);
  ASSERT_EQ(first.size(), 4u);
  const auto b = Enqueue(2, "b");
  Consume(first);  // a now runs 4 tasks
  auto next = Pass(d);
  ASSERT_EQ(next.size(), 4u);
  EXPECT_EQ(next[0].envelope.id, b[0]);
  EXPECT_EQ(next[1].envelope.id, b[1]);
  EXPECT_EQ(next[2].envelope.tenant, "a");
}

// A queue that keeps up (each pass takes all its rows, the workers empty
// the broker) is not counted at every pass: its last count plus what was
// sent since bounds what it holds. It is counted again once that bound
// passes half the window (here after 13 passes of 4).
TEST_F(DispatcherTest, AQueueThatKeepsUpIsCountedOnlyWhenWhatWasSentNearsHalfTheWindow) {
  auto counting = std::make_unique<CountingPublisher>(broker_.NewPublisher());
  const CountingPublisher& counts = *counting;
  publisher_ = std::move(counting);
  Dispatcher d = Make(100);
  for (int pass = 1; pass <= 20; ++pass) {
    Enqueue(4, "a");
    ASSERT_EQ(Pass(d).size(), 4u) << "pass " << pass;
    broker_.Purge("default");
    if (pass == 13) {
      EXPECT_EQ(counts.counted, 1) << "counted before the bound reached half the window";
    }
  }
  EXPECT_EQ(counts.counted, 2);
}

// The bound never lets the broker hold more than the window: a queue that
// does not keep up is counted as it fills.
TEST_F(DispatcherTest, ACountNotTakenNeverLetsTheBrokerHoldMoreThanTheWindow) {
  Dispatcher d = Make(100);
  for (int pass = 1; pass <= 6; ++pass) {
    Enqueue(30, "a");
    Pass(d);
    EXPECT_LE(broker_.Depth("default"), 100u) << "pass " << pass;
  }
  EXPECT_EQ(broker_.Depth("default"), 100u);
}

TEST_F(DispatcherTest, AQuietTenantsRowGoesAheadPastAFullWindow) {
  // a runs four tasks and fills the window with four more; b, with nothing
  // running, is below its share: its row goes now, ahead of a's ready
  // messages, instead of waiting for room behind them.
  Enqueue(20, "a");
  Dispatcher d = Make(4);
  Consume(Pass(d));
  ASSERT_EQ(Pass(d).size(), 4u);
  ASSERT_TRUE(Pass(d).empty()) << "the window is full for a";
  const auto b = Enqueue(1, "b");
  const auto next = Pass(d);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].envelope.id, b[0]);
  EXPECT_TRUE(next[0].ahead);
  EXPECT_FALSE(next[0].express) << "no worker consumes the express lane";
  EXPECT_EQ(broker_.Depth("default"), 5u);
  EXPECT_EQ(broker_.Depth(ExpressLane("default")), 0u);
  EXPECT_TRUE(Pass(d).empty()) << "a still waits for room";
}

TEST_F(DispatcherTest, AQuietTenantsRowTakesTheExpressLaneWhileAWorkersExpressSlotIsFree) {
  const std::string lane = ExpressLane("default");
  // A worker's express slot: a consumer of the lane alone here.
  auto worker = broker_.NewConsumer();
  worker->StartWithLanes({}, 0, {lane}, 1);
  Enqueue(20, "a");
  Dispatcher d = Make(4);
  Consume(Pass(d));
  ASSERT_EQ(Pass(d).size(), 4u);
  const auto b1 = Enqueue(1, "b");
  auto next = Pass(d);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_TRUE(next[0].ahead);
  EXPECT_TRUE(next[0].express);
  EXPECT_EQ(broker_.Depth(lane), 1u);
  EXPECT_EQ(broker_.Depth("default"), 4u);
  // The lane's one slot holds b1 (queued, then running): the next row
  // goes ahead in its queue.
  Enqueue(1, "b");
  next = Pass(d);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_TRUE(next[0].ahead);
  EXPECT_FALSE(next[0].express) << "the lane's slot is taken by a queued task";
  EXPECT_EQ(broker_.Depth("default"), 5u);
  auto delivery = worker->Next(DeadlineIn(milliseconds(100)));
  ASSERT_TRUE(delivery.has_value());
  EXPECT_EQ(DecodeEnvelope(delivery->body).id, b1[0]);
  ASSERT_EQ(store_.Claim(b1, "w2", 60000).claimed.size(), 1u);
  Enqueue(1, "b");
  next = Pass(d);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_FALSE(next[0].express) << "the lane's slot is taken by a running task";
  // b1 ended: its slot is free again.
  store_.Heartbeat({.id = "w2"}, 60000);
  ASSERT_EQ(store_.Finish(std::vector<FinishRecord>{{.id = b1[0], .attempt = 1}}),
            std::vector<bool>{true});
  worker->Ack(delivery->epoch, delivery->tag);
  Enqueue(1, "b");
  next = Pass(d);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_TRUE(next[0].ahead);
  EXPECT_TRUE(next[0].express);
  EXPECT_TRUE(Pass(d).empty()) << "a still waits for room";
}

// Every consumer of the lane went away (a rollout to --express-slots 0)
// after the relay sent b's task there: once the lane is counted again, the
// task goes back to the outbox and on to its queue, where workers are.
TEST_F(DispatcherTest, ATaskOfALaneThatLostItsConsumersIsPublishedAgainToItsQueue) {
  const std::string lane = ExpressLane("default");
  auto express = broker_.NewConsumer();
  express->StartWithLanes({}, 0, {lane}, 1);
  Enqueue(20, "a");
  Dispatcher d = Make(4);
  Consume(Pass(d));
  ASSERT_EQ(Pass(d).size(), 4u);
  const auto b = Enqueue(1, "b");
  auto next = Pass(d);
  ASSERT_EQ(next.size(), 1u);
  ASSERT_TRUE(next[0].express);
  express.reset();  // unsubscribed before taking it
  EXPECT_TRUE(Pass(d).empty()) << "the lane's count is still that of a second ago";
  std::this_thread::sleep_for(milliseconds(1100));
  next = Pass(d);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].envelope.id, b[0]);
  EXPECT_TRUE(next[0].ahead);
  EXPECT_FALSE(next[0].express) << "no consumer of the lane: to its queue";
  EXPECT_EQ(broker_.Depth("default"), 5u);
  EXPECT_EQ(metrics_.republished["default"], 1u);
  // Handed back once: the lane's copy is not sent again.
  std::this_thread::sleep_for(milliseconds(1100));
  EXPECT_TRUE(Pass(d).empty());
  EXPECT_EQ(metrics_.republished["default"], 1u);
}

// Once the tasks sent to a lane have ended, the lane is not counted again
// at every second: only when a row may take it.
TEST_F(DispatcherTest, ALaneWhoseTasksEndedIsNotCountedUntilARowMayTakeIt) {
  auto counting = std::make_unique<CountingPublisher>(broker_.NewPublisher());
  const CountingPublisher& counts = *counting;
  publisher_ = std::move(counting);
  auto express = broker_.NewConsumer();
  express->StartWithLanes({}, 0, {ExpressLane("default")}, 1);
  Enqueue(20, "a");
  Dispatcher d = Make(4);
  Consume(Pass(d));
  ASSERT_EQ(Pass(d).size(), 4u);
  const auto b = Enqueue(1, "b");
  ASSERT_TRUE(Pass(d).at(0).express);
  ASSERT_EQ(store_.Claim(b, "w2", 60000).claimed.size(), 1u);
  store_.Heartbeat({.id = "w2"}, 60000);
  ASSERT_EQ(store_.Finish(std::vector<FinishRecord>{{.id = b[0], .attempt = 1}}),
            std::vector<bool>{true});
  std::this_thread::sleep_for(milliseconds(1100));
  const std::string lane = ExpressLane("default");
  const int before = counts.by_queue.at(lane);
  Pass(d);  // counts the lane once more, and finds b's task ended
  EXPECT_EQ(counts.by_queue.at(lane), before + 1);
  std::this_thread::sleep_for(milliseconds(1100));
  EXPECT_TRUE(Pass(d).empty());
  EXPECT_EQ(counts.by_queue.at(lane), before + 1) << "counted again with nothing pending there";
}

// A message on the lane overtakes everything in its queue: only one of a
// priority nothing waiting there exceeds takes it.
TEST_F(DispatcherTest, TheExpressLaneNeverCarriesARowPastAHigherPriority) {
  auto worker = broker_.NewConsumer();
  worker->StartWithLanes({"default"}, 4, {ExpressLane("default")}, 4);
  Enqueue(20, "a", 5);
  Dispatcher d = Make(4);
  Consume(Pass(d));
  ASSERT_EQ(Pass(d).size(), 4u);
  Enqueue(1, "b", 0);
  auto next = Pass(d);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_TRUE(next[0].ahead);
  EXPECT_FALSE(next[0].express) << "a's priority-5 tasks wait in the broker and the outbox";
  EXPECT_EQ(broker_.Depth(ExpressLane("default")), 0u);
  Enqueue(1, "b", 5);
  next = Pass(d);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_TRUE(next[0].ahead);
  EXPECT_TRUE(next[0].express);
  EXPECT_EQ(broker_.Depth(ExpressLane("default")), 1u);
}

TEST_F(DispatcherTest, ANotificationOfRowsBehindAHeldBacklogStartsNoPass) {
  // Payloads as the outbox trigger sends them (migration 0021):
  // queue<TAB>tenant<TAB>highest priority.
  Enqueue(10, "a", 2);
  Dispatcher d = Make(4);
  EXPECT_TRUE(d.Wanted("default\ta\t2")) << "nothing held yet";
  ASSERT_EQ(Pass(d).size(), 4u);
  EXPECT_FALSE(d.Wanted("default\ta\t2")) << "behind a's six held rows";
  EXPECT_FALSE(d.Wanted("default\ta\t0"));
  EXPECT_TRUE(d.Wanted("default\ta\t3")) << "above what a holds back";
  EXPECT_TRUE(d.Wanted("default\tb\t0")) << "another tenant";
  EXPECT_TRUE(d.Wanted("other\ta\t0")) << "another queue";
  for (const char* odd : {"", "due", "default\ta", "default\ta\tx", "default\ta\t2x", "default\ta\t-1"}) {
    EXPECT_TRUE(d.Wanted(odd)) << "'" << odd << "' is not understood: pass, as before";
  }
  broker_.Purge("default");
  ASSERT_EQ(Pass(d).size(), 4u);
  broker_.Purge("default");
  ASSERT_EQ(Pass(d).size(), 2u);
  EXPECT_TRUE(d.Wanted("default\ta\t2")) << "nothing held any more";
}

TEST_F(DispatcherTest, PublishedUnclaimedTasksCountAsUsage) {
  // a's four tasks sit in the broker, unclaimed: b still goes first.
  Enqueue(20, "a");
  Dispatcher d = Make(6);
  ASSERT_EQ(Pass(d, 4).size(), 4u);
  const auto b = Enqueue(1, "b");
  auto next = Pass(d);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].envelope.id, b[0]);
}

TEST_F(DispatcherTest, AgedTasksArePublishedWithTheirRaisedPriority) {
  const auto old = Enqueue(1, "a", 0);
  now_ += 25000;
  Enqueue(1, "a", 9);
  Dispatcher d = Make(10, milliseconds(10000));
  auto items = Pass(d);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].envelope.id, old[0]);
  EXPECT_EQ(items[1].publish_priority, 2u);
  EXPECT_EQ(items[1].envelope.priority, 0u);
  EXPECT_EQ(metrics_.aged["default"], 1u);
}

// Aging catches up with higher priorities, never passes the same one: a
// tenant's backlog that waited long does not go before another tenant's
// new tasks of the same priority (the benchmark's noisy neighbour waited
// nine aging intervals behind it before this cap).
TEST_F(DispatcherTest, AnAgedBacklogDoesNotOvertakeAnotherTenantOfTheSamePriority) {
  Enqueue(20, "a");
  Dispatcher d = Make(4, milliseconds(1000));
  Consume(Pass(d));  // a runs 4 tasks
  now_ += 60000;     // a's backlog is a minute old: nine levels of aging
  const auto b = Enqueue(2, "b");
  auto next = Pass(d);
  ASSERT_EQ(next.size(), 4u);
  EXPECT_EQ(next[0].envelope.id, b[0]);
  EXPECT_EQ(next[1].envelope.id, b[1]);
  EXPECT_EQ(next[2].publish_priority, 0u) << "nothing of a higher priority waits: no raise";
}

// A priority-0 task published while nothing else waited ages no more once
// in the broker, and priority-9 messages published after it go first for
// as long as they keep coming. Once its wait would have raised it to 9,
// the relay publishes no more priority 9 until the broker drained: then
// the workers take it.
TEST_F(DispatcherTest, AMessageAgingInTheBrokerIsNotOvertakenForever) {
  Dispatcher d = Make(10, milliseconds(1000));
  Enqueue(1, "a", 0);
  ASSERT_EQ(Pass(d).size(), 1u);
  Enqueue(5, "a", 9);
  ASSERT_EQ(Pass(d).size(), 5u);  // ahead of it in the broker
  now_ += 5000;                   // at 5 now: nothing held below that
  Enqueue(2, "a", 9);
  ASSERT_EQ(Pass(d).size(), 2u);
  now_ += 5000;  // would be at 9: what is left goes no further ahead of it
  Enqueue(3, "a", 9);
  EXPECT_TRUE(Pass(d).empty());
  EXPECT_TRUE(d.Held());
  broker_.Purge("default");  // the workers took all, the priority-0 task too
  EXPECT_EQ(Pass(d).size(), 3u);
  EXPECT_FALSE(d.Held());
}

TEST_F(DispatcherTest, NoWindowPublishesEverythingInIdOrder) {
  const auto low = Enqueue(3, "a", 0);
  const auto high = Enqueue(1, "b", 9);
  Dispatcher d = Make(0, milliseconds(1000));
  auto items = Pass(d);
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].envelope.id, low[0]);
  EXPECT_EQ(items[3].envelope.id, high[0]);
  EXPECT_FALSE(d.Held());
}

TEST_F(DispatcherTest, HonoursTheSkipList) {
  Enqueue(3, "a");
  Dispatcher d = Make(10);
  const auto all = d.Next(10);
  ASSERT_EQ(all.size(), 3u);
  std::vector<int64_t> skip{all[0].outbox_id};
  const auto rest = d.Next(10, skip);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].outbox_id, all[1].outbox_id);
}

TEST(PriorityAging, ParsesOneValueOrOnePerQueue) {
  DispatchOptions o;
  ParsePriorityAging("45s", o);
  EXPECT_EQ(o.default_aging, milliseconds(45000));
  EXPECT_TRUE(o.aging.empty());
  DispatchOptions p;
  ParsePriorityAging("default=30s,reports=500ms,bulk=0,slow=2m", p);
  EXPECT_EQ(p.default_aging, milliseconds(30000));
  EXPECT_EQ(p.aging.at("reports"), milliseconds(500));
  EXPECT_EQ(p.aging.at("bulk"), milliseconds(0));
  EXPECT_EQ(p.aging.at("slow"), milliseconds(120000));
  for (const char* bad : {"", "x", "10d", "=5s", "a=", "a=5s,,b=1s", "-1s"}) {
    DispatchOptions q;
    EXPECT_THROW(ParsePriorityAging(bad, q), PermanentError) << bad;
  }
}

TEST(EffectivePriority, RisesOneLevelPerAgingIntervalUpToNine) {
  EXPECT_EQ(EffectivePriority(0, 29999, 30000), 0u);
  EXPECT_EQ(EffectivePriority(0, 30000, 30000), 1u);
  EXPECT_EQ(EffectivePriority(3, 90000, 30000), 6u);
  EXPECT_EQ(EffectivePriority(0, 3600000, 30000), 9u);
  EXPECT_EQ(EffectivePriority(2, 3600000, 0), 2u);
  EXPECT_EQ(EffectivePriority(9, 0, 1), 9u);
}

}  // namespace
}  // namespace fila
