// Heartbeats on their own thread and store connection: a finisher stuck in
// the database (a slow commit, a burst of children) delays no heartbeat,
// so the reaper never takes a live worker's tasks back; and the worker
// beats until its last finish is recorded, then deregisters.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "worker_harness.h"

namespace fila::testing {
namespace {

using std::chrono::milliseconds;

// A finish that waits until released (or 5 s).
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  std::atomic<bool> waiting{false};

  void Wait() {
    waiting = true;
    std::unique_lock lock(mutex);
    changed.wait_for(lock, std::chrono::seconds(5), [&] { return open; });
  }
  void Open() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    changed.notify_all();
  }
};

bool Registered(MemoryStore& store, const std::string& worker) {
  const auto workers = store.Monitor(60000).workers;
  return std::any_of(workers.begin(), workers.end(),
                     [&](const WorkerView& w) { return w.id == worker && !w.deregistered; });
}

TEST(WorkerHeartbeat, AFinisherStuckInTheDatabaseDelaysNoHeartbeat) {
  WorkerHarness w;  // heartbeats every 50 ms
  Gate gate;
  w.faults.on_finish = [&] { gate.Wait(); };
  w.Start();
  const std::string id = w.Enqueue();
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return gate.waiting.load(); }));
  const int before = w.faults.heartbeats;
  std::this_thread::sleep_for(milliseconds(600));
  const int during = w.faults.heartbeats - before;
  // Six times the worker timeout below: a worker judged by its last beat
  // before the finish stuck would be dead by now.
  const auto reaped = w.store().ReapLost(/*worker_timeout_ms=*/100, 100);
  gate.Open();
  EXPECT_GE(during, 5) << "heartbeats while the finisher was stuck";
  EXPECT_TRUE(reaped.empty()) << "the reaper took back task " << reaped.front().id;
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kSucceeded; }));
  EXPECT_EQ(w.Stop(), kExitDrained);
  EXPECT_EQ(w.runtime().Counters().stale_finishes, 0u);
}

TEST(WorkerHeartbeat, TheWorkerBeatsUntilItsLastFinishIsRecordedThenDeregisters) {
  WorkerHarness w;
  Gate gate;
  std::atomic<int> beats_at_finish{0};
  w.faults.on_finish = [&] {
    const int before = w.faults.heartbeats;
    gate.Wait();  // opened by the test below, during the drain
    beats_at_finish = w.faults.heartbeats - before;
  };
  w.Start();
  const std::string id = w.Enqueue();
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return gate.waiting.load(); }));
  // Stop while the finish is stuck: the drain waits for it, beating.
  std::thread stopper([&] { w.Stop(); });
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_TRUE(Registered(w.store(), "test-worker"));
  gate.Open();
  stopper.join();
  EXPECT_GE(beats_at_finish.load(), 4) << "heartbeats while the drain waited for the finish";
  EXPECT_EQ(w.StateOf(id), TaskState::kSucceeded);
  EXPECT_FALSE(Registered(w.store(), "test-worker")) << "deregistered once everything was recorded";
}

}  // namespace
}  // namespace fila::testing
