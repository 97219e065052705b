// The scheduler's relay on the in-memory store and broker: no servers.
#include "fila/scheduler/relay.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <span>
#include <thread>

#include "fila/broker_memory/memory_broker.h"
#include "fila/core/envelope.h"
#include "fila/core/errors.h"
#include "fila/store_memory/memory_store.h"
#include "wait_for.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

NewTask Noop() {
  NewTask t;
  t.type = "noop";
  t.queue = "default";
  t.max_attempts = 3;
  t.timeout_ms = 1000;
  return t;
}

using unit::WaitFor;

// The relay's view of the store: it can be away (every call the relay
// makes throws, as when the database is down) and it tells whether the
// relay listens.
class FlakyLeaderStore final : public LeaderStore {
 public:
  explicit FlakyLeaderStore(MemoryStore& store) : store_(store) {}
  std::atomic<bool> down{false};
  std::atomic<bool> listening{false};
  std::atomic<int> dispatches{0};  // passes of the windowed dispatch

  bool TryLeadership(int64_t key) override { return Up().TryLeadership(key); }
  void Listen(const std::string& channel) override {
    Up().Listen(channel);
    listening = true;
  }
  void Unlisten(const std::string& channel) override {
    listening = false;
    store_.Unlisten(channel);
  }
  std::vector<std::string> AwaitPayloads(milliseconds timeout) override {
    return Up().AwaitPayloads(timeout);
  }
  std::vector<OutboxItem> FetchOutbox(uint32_t limit, std::span<const int64_t> exclude) override {
    return Up().FetchOutbox(limit, exclude);
  }
  DispatchResult FetchDispatch(const DispatchRequest& request) override {
    ++dispatches;
    return Up().FetchDispatch(request);
  }
  void DeleteOutbox(std::span<const int64_t> ids) override { Up().DeleteOutbox(ids); }
  int64_t ReleaseDue(uint32_t limit, int64_t* next_due_in_ms) override {
    return Up().ReleaseDue(limit, next_due_in_ms);
  }
  std::vector<ReapedTask> ReapLost(uint32_t worker_timeout_ms, uint32_t limit) override {
    return Up().ReapLost(worker_timeout_ms, limit);
  }
  FireResult FireDueSchedules(const TaskTypes& types, int64_t grace_ms, uint32_t limit) override {
    return Up().FireDueSchedules(types, grace_ms, limit);
  }
  std::vector<std::string> QueuesWithStaleTasks(int64_t older_than_ms) override {
    return Up().QueuesWithStaleTasks(older_than_ms);
  }
  int64_t CountPublished(const std::string& queue) override { return Up().CountPublished(queue); }
  std::vector<std::string> QueuedOrRunning(const std::vector<std::string>& ids) override {
    return Up().QueuedOrRunning(ids);
  }
  std::vector<std::string> Republish(const std::vector<std::string>& ids) override {
    return Up().Republish(ids);
  }
  int64_t FreeConsumerSlots(const std::string& queue, int64_t seen_within_ms) override {
    return Up().FreeConsumerSlots(queue, seen_within_ms);
  }
  int64_t RepublishStale(const std::string& queue, int64_t older_than_ms,
                         uint32_t limit) override {
    return Up().RepublishStale(queue, older_than_ms, limit);
  }

 private:
  MemoryStore& Up() {
    if (down) throw TransientError("database away (test)");
    return store_;
  }
  MemoryStore& store_;
};

// A broker whose confirms take `delay`, as a real one's do (it writes the
// messages first): the memory broker's come at once.
class SlowConfirms final : public Publisher {
 public:
  SlowConfirms(std::unique_ptr<Publisher> inner, milliseconds delay) : inner_(std::move(inner)), delay_(delay) {}
  uint64_t PublishAsync(std::span<const OutgoingMessage> messages, Deadline deadline) override {
    const uint64_t ticket = inner_->PublishAsync(messages, deadline);
    due_[ticket] = SteadyClock::now() + delay_;
    return ticket;
  }
  std::vector<PublishOutcome> CollectConfirms(Deadline deadline) override {
    for (auto& o : inner_->CollectConfirms(SteadyClock::now())) held_.push_back(std::move(o));
    if (held_.empty()) return {};
    SteadyClock::time_point first = SteadyClock::time_point::max();
    for (const auto& o : held_) first = std::min(first, due_[o.ticket]);
    if (first > SteadyClock::now()) std::this_thread::sleep_until(std::min(first, deadline));
    std::vector<PublishOutcome> out;
    std::erase_if(held_, [&](const PublishOutcome& o) {
      if (due_[o.ticket] > SteadyClock::now()) return false;
      out.push_back(o);
      due_.erase(o.ticket);
      return true;
    });
    return out;
  }
  size_t InFlight() const override { return inner_->InFlight() + held_.size(); }
  void PublishConfirmed(std::span<const OutgoingMessage> messages, Deadline deadline) override {
    inner_->PublishConfirmed(messages, deadline);
  }
  QueueCounts CountQueue(const std::string& queue, Deadline deadline) override {
    return inner_->CountQueue(queue, deadline);
  }

 private:
  std::unique_ptr<Publisher> inner_;
  milliseconds delay_;
  std::map<uint64_t, SteadyClock::time_point> due_;
  std::vector<PublishOutcome> held_;
};

class RelayTest : public ::testing::Test {
 protected:
  RelayTest() : publisher_(broker_.NewPublisher()) {
    options_.sweep_interval = milliseconds(50);
    options_.leader_retry = milliseconds(20);
    options_.reap_interval = milliseconds(20);
    options_.worker_timeout = milliseconds(10000);
  }
  ~RelayTest() override { Stop(); }

  void Start() {
    relay_ = std::make_unique<Relay>(options_, leader_store_ ? *leader_store_ : store_,
                                     *publisher_, types_);
    thread_ = std::thread([this] { relay_->Run(stop_); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Deletes the outbox rows written so far (as if published before).
  void DrainOutbox() {
    std::vector<int64_t> ids;
    for (const auto& item : store_.FetchOutbox(1000)) ids.push_back(item.outbox_id);
    store_.DeleteOutbox(ids);
  }
  std::string Enqueue() {
    std::vector<NewTask> one{Noop()};
    return store_.Enqueue(one).at(0).id;
  }

  MemoryStore store_;
  MemoryBroker broker_;
  std::unique_ptr<Publisher> publisher_;
  TaskTypes types_ = TaskTypes::Builtin();
  RelayOptions options_;
  // A member, not a test's local: the relay thread uses it until the
  // destructor's Stop(), after the test body's locals are gone.
  FlakyLeaderStore flaky_{store_};
  LeaderStore* leader_store_ = nullptr;  // the relay's store when set (&flaky_), else store_
  std::unique_ptr<Relay> relay_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(RelayTest, PublishesOutboxRowsAndDeletesThem) {
  Start();
  std::vector<std::string> ids{Enqueue(), Enqueue(), Enqueue()};
  ASSERT_TRUE(WaitFor([&] { return relay_->Published() == 3; }));
  EXPECT_TRUE(WaitFor([&] { return store_.FetchOutbox(10).empty(); }));
  EXPECT_EQ(broker_.Depth("default"), 3u);
  auto consumer = broker_.NewConsumer();
  consumer->Start({"default"}, 10);
  for (const auto& id : ids) {
    auto d = consumer->Next(DeadlineIn(milliseconds(1000)));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(DecodeEnvelope(d->body).id, id);
  }
  EXPECT_FALSE(relay_->Problem().has_value());
}

TEST_F(RelayTest, DropsRowsOfCancelledTasksUnpublished) {
  const std::string id = Enqueue();
  ASSERT_TRUE(store_.Cancel(id).changed);
  Start();
  ASSERT_TRUE(WaitFor([&] { return store_.FetchOutbox(10).empty(); }));
  EXPECT_EQ(relay_->Published(), 0u);
  EXPECT_EQ(broker_.Depth("default"), 0u);
}

TEST_F(RelayTest, AFailedPublishKeepsTheRowsAndRetries) {
  broker_.SetReachable(false);
  Start();
  Enqueue();
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(relay_->Published(), 0u);
  EXPECT_EQ(store_.FetchOutbox(10).size(), 1u);
  EXPECT_TRUE(relay_->Problem().has_value());
  broker_.SetReachable(true);
  ASSERT_TRUE(WaitFor([&] { return relay_->Published() == 1; }));
  EXPECT_TRUE(store_.FetchOutbox(10).empty());
}

TEST_F(RelayTest, ReapsLostTasksAndPublishesTheirRetry) {
  options_.worker_timeout = milliseconds(200);  // how long a new leader waits before it reaps
  const std::string id = Enqueue();
  std::vector<std::string> ids{id};
  ASSERT_EQ(store_.Claim(ids, "gone", 30000).claimed.size(), 1u);  // never heartbeats
  DrainOutbox();
  Start();
  ASSERT_TRUE(WaitFor([&] { return relay_->Reaped() == 1; }));
  EXPECT_EQ(store_.GetTask(id)->state, TaskState::kQueued);
  EXPECT_TRUE(WaitFor([&] { return relay_->Published() == 1; }));  // the retry
}

TEST_F(RelayTest, ReleasesDueRetries) {
  const std::string id = Enqueue();
  std::vector<std::string> ids{id};
  ASSERT_EQ(store_.Claim(ids, "w1", 30000).claimed.size(), 1u);
  store_.Heartbeat({.id = "w1"}, 30000);
  std::vector<FinishRecord> retry{{.id = id, .attempt = 1, .state = TaskState::kScheduled,
                                   .outcome = Outcome::kFailed,
                                   .retry_at_ms = NowUnixMs() + 100}};
  ASSERT_EQ(store_.Finish(retry), std::vector<bool>{true});
  DrainOutbox();
  Start();
  ASSERT_TRUE(WaitFor([&] { return store_.GetTask(id)->state == TaskState::kQueued; }));
  EXPECT_TRUE(WaitFor([&] { return relay_->Published() == 1; }));
}

TEST_F(RelayTest, DoesNothingWithoutLeadershipAndStopsWhenItIsLost) {
  store_.SetLeadershipAvailable(false);
  Start();
  Enqueue();
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(relay_->Published(), 0u);
  store_.SetLeadershipAvailable(true);
  ASSERT_TRUE(WaitFor([&] { return relay_->Published() == 1; }));
  store_.SetLeadershipAvailable(false);
  std::this_thread::sleep_for(milliseconds(700));  // past any wait of the leader's pass
  Enqueue();
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(relay_->Published(), 1u);
  EXPECT_EQ(store_.FetchOutbox(10).size(), 1u);
}

TEST_F(RelayTest, PublishesAgainWhatTheBrokerLost) {
  options_.republish_after = milliseconds(100);
  Start();
  for (int i = 0; i < 3; ++i) Enqueue();
  ASSERT_TRUE(WaitFor([&] { return relay_->Published() == 3; }));
  ASSERT_EQ(broker_.Purge("default"), 3u);
  ASSERT_TRUE(WaitFor([&] { return broker_.Depth("default") == 3; }));
  EXPECT_EQ(relay_->Republished(), 3u);
  // The broker has them again: nothing more, however long they wait.
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(relay_->Republished(), 3u);
  EXPECT_EQ(broker_.Depth("default"), 3u);
  EXPECT_FALSE(relay_->Problem().has_value());
}

// The database away for two worker timeouts: the workers could not
// heartbeat either. Back, the reaper gives them a full worker timeout to
// beat again before it judges any of their tasks; then it reaps as before.
TEST_F(RelayTest, AfterTheDatabaseIsBackTheReaperWaitsAWorkerTimeoutForHeartbeats) {
  options_.worker_timeout = milliseconds(300);
  leader_store_ = &flaky_;
  const std::string id = Enqueue();
  std::vector<std::string> ids{id};
  ASSERT_EQ(store_.Claim(ids, "w1", 30000).claimed.size(), 1u);
  DrainOutbox();
  std::atomic<bool> beating{true}, done{false};
  std::thread worker([&] {
    while (!done) {
      if (beating) store_.Heartbeat({.id = "w1", .held = ids}, 30000);
      std::this_thread::sleep_for(milliseconds(50));
    }
  });
  Start();
  std::this_thread::sleep_for(milliseconds(500));  // past the new leader's wait
  flaky_.down = true;
  beating = false;
  std::this_thread::sleep_for(milliseconds(600));
  flaky_.down = false;
  std::this_thread::sleep_for(milliseconds(150));  // the relay is back first
  beating = true;
  std::this_thread::sleep_for(milliseconds(400));
  const uint64_t reaped_while_alive = relay_->Reaped();
  beating = false;  // now it dies
  const bool reaped = WaitFor([&] { return relay_->Reaped() == 1; });
  done = true;
  worker.join();
  EXPECT_EQ(reaped_while_alive, 0u);
  EXPECT_TRUE(reaped);
}

TEST_F(RelayTest, OnlyTheLeaderListens) {
  leader_store_ = &flaky_;
  store_.SetLeadershipAvailable(false);
  Start();
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(flaky_.listening);
  store_.SetLeadershipAvailable(true);
  EXPECT_TRUE(WaitFor([&] { return flaky_.listening.load(); }));
  store_.SetLeadershipAvailable(false);
  EXPECT_TRUE(WaitFor([&] { return !flaky_.listening; }));
}

// Under a window the broker drains at the workers' pace: the relay looks
// again at the dispatcher's poll, not after each confirm. Confirms take
// 20 ms and a consumer takes one message every 5 ms for a second (200 in
// all). Passing after each confirm, the relay passed every 20 ms or so,
// each time for the few messages taken meanwhile.
TEST_F(RelayTest, UnderAFullWindowPassesFollowThePollNotEachConfirm) {
  leader_store_ = &flaky_;
  publisher_ = std::make_unique<SlowConfirms>(broker_.NewPublisher(), milliseconds(20));
  options_.dispatch.window = 50;
  std::vector<NewTask> tasks(1000, Noop());
  store_.Enqueue(tasks);
  Start();
  ASSERT_TRUE(WaitFor([&] { return broker_.Depth("default") == 50; }));
  auto consumer = broker_.NewConsumer();
  consumer->Start({"default"}, 1);
  const int before = flaky_.dispatches;
  const auto start = SteadyClock::now();
  for (int i = 0; i < 200; ++i) {
    auto d = consumer->Next(DeadlineIn(milliseconds(1000)));
    ASSERT_TRUE(d.has_value()) << i;
    consumer->Ack(d->epoch, d->tag);
    std::this_thread::sleep_for(milliseconds(5));
  }
  const int passes = flaky_.dispatches - before;
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  // Here about 24 a second; after each confirm, about 45.
  EXPECT_LT(passes / seconds, 35) << passes << " passes in " << seconds << " s while 200 messages were taken";
  EXPECT_TRUE(WaitFor([&] { return relay_->Published() == 250u; }))
      << "the window is refilled: " << relay_->Published() << " published";
}

TEST_F(RelayTest, StopsPromptly) {
  Start();
  const auto started = SteadyClock::now();
  Stop();
  EXPECT_LT(SteadyClock::now() - started, milliseconds(2000));
}

}  // namespace
}  // namespace fila
