// The relay's publishing pipeline (several batches published and
// unconfirmed at once) on the in-memory store and broker, whose confirms
// the test holds and releases: rows are deleted only once their batch is
// confirmed, and a failed batch leaves its rows and only its rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "fila/broker_memory/memory_broker.h"
#include "fila/scheduler/relay.h"
#include "fila/store_memory/memory_store.h"
#include "wait_for.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

using unit::WaitFor;

class RelayPipeline : public ::testing::Test {
 protected:
  RelayPipeline() : publisher_(broker_.NewPublisher()) {
    options_.batch = 2;
    options_.in_flight = 3;
    options_.sweep_interval = milliseconds(50);
    options_.leader_retry = milliseconds(20);
    options_.republish_after = milliseconds(0);
    broker_.HoldConfirms(true);
  }
  ~RelayPipeline() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // `count` tasks; their outbox rows go out in this order, `batch` a batch.
  void Enqueue(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      NewTask t;
      t.type = "noop";
      t.queue = "default";
      t.max_attempts = 3;
      t.timeout_ms = 1000;
      std::vector<NewTask> one{t};
      tasks_.push_back(store_.Enqueue(one).at(0).id);
    }
  }
  void Start() {
    relay_ = std::make_unique<Relay>(options_, store_, *publisher_, types_);
    thread_ = std::thread([this] { relay_->Run(stop_); });
  }
  // Task ids with an outbox row, in outbox order.
  std::vector<std::string> Unpublished() {
    std::vector<std::string> out;
    for (const auto& item : store_.FetchOutbox(1000)) out.push_back(item.envelope.id);
    return out;
  }
  std::vector<std::string> Tasks(size_t from, size_t count) {
    return {tasks_.begin() + static_cast<std::ptrdiff_t>(from),
            tasks_.begin() + static_cast<std::ptrdiff_t>(from + count)};
  }

  MemoryStore store_;
  MemoryBroker broker_;
  std::unique_ptr<Publisher> publisher_;
  TaskTypes types_ = TaskTypes::Builtin();
  RelayOptions options_;
  std::unique_ptr<Relay> relay_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::string> tasks_;
};

TEST_F(RelayPipeline, KeepsUpToInFlightBatchesAndDeletesOnlyConfirmedRows) {
  Enqueue(10);
  Start();
  ASSERT_TRUE(WaitFor([&] { return broker_.HeldBatches() == 3; }));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(broker_.HeldBatches(), 3u) << "never more than --relay-in-flight batches";
  EXPECT_EQ(broker_.Depth("default"), 6u);
  EXPECT_EQ(Unpublished().size(), 10u) << "no row is deleted before its confirm";
  EXPECT_EQ(relay_->Published(), 0u);

  broker_.ConfirmHeld(0);  // in order: the first batch
  ASSERT_TRUE(WaitFor([&] { return Unpublished().size() == 8; }));
  EXPECT_EQ(Unpublished(), Tasks(2, 8));
  ASSERT_TRUE(WaitFor([&] { return broker_.HeldBatches() == 3; })) << "the next batch goes out";
  while (!Unpublished().empty()) {
    ASSERT_TRUE(WaitFor([&] { return broker_.HeldBatches() > 0; }));
    broker_.ConfirmHeld(0);
    ASSERT_TRUE(WaitFor([&] { return broker_.HeldBatches() > 0 || Unpublished().empty(); }));
  }
  EXPECT_TRUE(WaitFor([&] { return relay_->Published() == 10; }));
  EXPECT_EQ(broker_.Depth("default"), 10u) << "each published once: nothing failed";
}

TEST_F(RelayPipeline, BatchesConfirmedOutOfOrderDeleteTheirOwnRows) {
  Enqueue(6);
  Start();
  ASSERT_TRUE(WaitFor([&] { return broker_.HeldBatches() == 3; }));
  broker_.ConfirmHeld(2);  // the third batch first
  ASSERT_TRUE(WaitFor([&] { return Unpublished().size() == 4; }));
  EXPECT_EQ(Unpublished(), Tasks(0, 4));
  broker_.ConfirmHeld(1);
  ASSERT_TRUE(WaitFor([&] { return Unpublished().size() == 2; }));
  EXPECT_EQ(Unpublished(), Tasks(0, 2));
  broker_.ConfirmHeld(0);
  ASSERT_TRUE(WaitFor([&] { return Unpublished().empty(); }));
  EXPECT_TRUE(WaitFor([&] { return relay_->Published() == 6; }));
  EXPECT_EQ(broker_.Depth("default"), 6u);
}

TEST_F(RelayPipeline, ANackInTheMiddleLeavesItsRowsAndOnlyThem) {
  Enqueue(6);
  Start();
  ASSERT_TRUE(WaitFor([&] { return broker_.HeldBatches() == 3; }));
  broker_.ConfirmHeld(0);  // held: [second, third]
  broker_.NackHeld(0);     // the second
  broker_.ConfirmHeld(0);  // the third
  // The second batch is fetched again and published again (held).
  ASSERT_TRUE(WaitFor([&] { return relay_->Published() == 4 && broker_.HeldBatches() == 1; }))
      << relay_->Published() << " published, held " << broker_.HeldBatches() << ", outbox "
      << Unpublished().size();
  EXPECT_EQ(Unpublished(), Tasks(2, 2));
  EXPECT_EQ(broker_.Depth("default"), 8u) << "the nacked copies may have arrived: duplicates";
  broker_.ConfirmHeld(0);
  ASSERT_TRUE(WaitFor([&] { return Unpublished().empty(); }));
  EXPECT_EQ(relay_->Published(), 6u);
}

TEST_F(RelayPipeline, ALostConnectionFailsEveryBatchInFlight) {
  Enqueue(6);
  Start();
  ASSERT_TRUE(WaitFor([&] { return broker_.HeldBatches() == 3; }));
  broker_.SetReachable(false);
  EXPECT_EQ(broker_.HeldBatches(), 0u);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(Unpublished(), Tasks(0, 6)) << "every row stays";
  EXPECT_EQ(relay_->Published(), 0u);
  broker_.HoldConfirms(false);
  broker_.SetReachable(true);
  ASSERT_TRUE(WaitFor([&] { return Unpublished().empty(); }));
  EXPECT_EQ(relay_->Published(), 6u);
}

TEST_F(RelayPipeline, OneInFlightWaitsForEachBatch) {
  options_.in_flight = 1;
  Enqueue(6);
  Start();
  ASSERT_TRUE(WaitFor([&] { return broker_.HeldBatches() == 1; }));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(broker_.HeldBatches(), 1u);
  EXPECT_EQ(broker_.Depth("default"), 2u);
  broker_.ConfirmHeld(0);
  ASSERT_TRUE(WaitFor([&] { return Unpublished().size() == 4 && broker_.HeldBatches() == 1; }));
  EXPECT_EQ(broker_.Depth("default"), 4u);
}

TEST_F(RelayPipeline, RowsWrittenWhileBatchesAreInFlightGoOutWithoutASweep) {
  options_.sweep_interval = milliseconds(60000);
  broker_.HoldConfirms(false);
  Start();
  Enqueue(1);
  ASSERT_TRUE(WaitFor([&] { return relay_->Published() == 1; }));
  broker_.HoldConfirms(true);
  Enqueue(1);
  ASSERT_TRUE(WaitFor([&] { return broker_.HeldBatches() == 1; }));
  Enqueue(1);  // the relay waits for a confirm, then looks again
  broker_.ConfirmHeld(0);
  ASSERT_TRUE(WaitFor([&] { return broker_.HeldBatches() == 1; }));
  broker_.ConfirmHeld(0);
  EXPECT_TRUE(WaitFor([&] { return relay_->Published() == 3 && Unpublished().empty(); }));
}

}  // namespace
}  // namespace fila
