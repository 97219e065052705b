// The worker runtime (consumer thread, SlotPool, Finisher) on the in-memory
// broker and store: claim -> run -> finish -> ack, and what happens when a
// handler fails, overruns, is cancelled, or the database is away.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "worker_harness.h"

namespace fila::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string LastOutcome(MemoryStore& store, const std::string& id) {
  const auto task = store.GetTask(id).value();
  return task.attempts.empty() ? "" : task.attempts.back().outcome;
}

TEST(WorkerRuntime, RunsATaskRecordsItAndAcksItsDelivery) {
  WorkerHarness w;
  std::atomic<size_t> unacked_while_running{0};
  w.handler = [&](TaskContext& ctx) {
    unacked_while_running = w.broker().Unacked();
    ctx.Progress(50, "half");
    return std::string("result");
  };
  w.Start();
  const std::string id = w.Enqueue();
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kSucceeded; }));
  EXPECT_EQ(w.store().GetTask(id)->result, "result");
  // Not acked while its handler ran: the prefetch is held by running work.
  EXPECT_EQ(unacked_while_running, 1u);
  EXPECT_EQ(w.Stop(), kExitDrained);
  EXPECT_EQ(w.broker().Unacked(), 0u);
  EXPECT_EQ(w.broker().Depth("default"), 0u);
  EXPECT_EQ(w.broker().ChannelErrors(), 0u);  // no double ack
  EXPECT_EQ(w.runtime().Counters().claimed, 1u);
  EXPECT_EQ(w.runtime().Counters().succeeded, 1u);
  EXPECT_FALSE(w.runtime().HasStuckThreads());
}

// A worker cut off from the database (its claims and heartbeats fail)
// holding the delivery of one task, and a second consumer of its queue.
struct CutOffWorker {
  explicit CutOffWorker(milliseconds handback) {
    w.options.claim_handback = handback;
    w.faults.unreachable = true;
    w.Start();
    id = w.Enqueue();
    held = WorkerHarness::WaitFor([&] { return w.broker().Unacked() == 1; });
    other = w.broker().NewConsumer();
    other->Start({"default"}, 1);
  }
  WorkerHarness w;
  std::string id;
  bool held = false;
  std::unique_ptr<Consumer> other;
};

TEST(WorkerRuntime, ClaimsFailingPastTheHandbackGiveTheDeliveryToAnotherWorkerUntilABeatGetsThrough) {
  CutOffWorker c(milliseconds(200));
  ASSERT_TRUE(c.held);
  // The cut-off worker gives the delivery back: another worker gets it.
  auto delivery = c.other->Next(DeadlineIn(seconds(5)));
  ASSERT_TRUE(delivery.has_value());
  EXPECT_EQ(DecodeEnvelope(delivery->body).id, c.id);
  EXPECT_EQ(c.w.StateOf(c.id), TaskState::kQueued);
  // That one goes away without running it.
  c.other->Reject(delivery->epoch, delivery->tag, /*requeue=*/true);
  c.other.reset();
  // Paused while no heartbeat gets through: the message stays ready.
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(c.w.broker().Depth("default"), 1u);
  EXPECT_EQ(c.w.broker().Unacked(), 0u);
  // The database back: a beat gets through, the worker consumes and runs it.
  c.w.faults.unreachable = false;
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return c.w.StateOf(c.id) == TaskState::kSucceeded; }));
  EXPECT_EQ(c.w.Stop(), kExitDrained);
  EXPECT_EQ(c.w.broker().ChannelErrors(), 0u);
}

TEST(WorkerRuntime, ClaimsFailingWithoutAHandbackKeepTheDelivery) {
  CutOffWorker c(milliseconds(0));
  ASSERT_TRUE(c.held);
  EXPECT_FALSE(c.other->Next(DeadlineIn(milliseconds(500))).has_value());
  c.w.faults.unreachable = false;
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return c.w.StateOf(c.id) == TaskState::kSucceeded; }));
  EXPECT_EQ(c.w.Stop(), kExitDrained);
}

TEST(WorkerRuntime, AcksOnlyAfterTheClaim) {
  WorkerHarness w;
  std::atomic<size_t> unacked_during_claim{0};
  w.faults.on_claim = [&] { unacked_during_claim = w.broker().Unacked(); };
  w.Start();
  const std::string id = w.Enqueue();
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kSucceeded; }));
  w.Stop();
  EXPECT_EQ(unacked_during_claim, 1u);
  EXPECT_EQ(w.broker().Unacked(), 0u);
}

TEST(WorkerRuntime, AFailingTaskIsScheduledForRetry) {
  WorkerHarness w;
  w.handler = [](TaskContext&) -> std::string { throw TransientError("upstream down"); };
  w.Start();
  const std::string id = w.Enqueue(/*max_attempts=*/3);
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kScheduled; }));
  w.Stop();
  EXPECT_EQ(LastOutcome(w.store(), id), "failed");
  EXPECT_EQ(w.runtime().Counters().failed, 1u);
  EXPECT_EQ(w.broker().Unacked(), 0u);
}

TEST(WorkerRuntime, APermanentErrorFailsWithoutRetry) {
  WorkerHarness w;
  w.handler = [](TaskContext&) -> std::string { throw PermanentError("bad input"); };
  w.Start();
  const std::string id = w.Enqueue(/*max_attempts=*/3);
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kFailed; }));
  w.Stop();
}

TEST(WorkerRuntime, AStaleAttemptsFinishIsFencedOut) {
  WorkerHarness w;
  std::atomic<bool> release{false};
  w.handler = [&](TaskContext&) {
    while (!release) std::this_thread::sleep_for(milliseconds(5));
    return std::string("late");
  };
  w.Start();
  const std::string id = w.Enqueue();
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kRunning; }));
  // The reaper takes the task back (its lease ran out); heartbeats may
  // extend it meanwhile, so time moves on until it is taken.
  ASSERT_TRUE(WorkerHarness::WaitFor([&] {
    w.clock_offset_ms += 3'600'000;
    return !w.store().ReapLost(10000, 100).empty();
  }));
  const TaskState reaped = w.StateOf(id);
  release = true;
  ASSERT_TRUE(
      WorkerHarness::WaitFor([&] { return w.runtime().Counters().stale_finishes.load() == 1; }));
  w.Stop();
  EXPECT_EQ(w.StateOf(id), reaped);  // the late finish changed nothing
  EXPECT_EQ(w.runtime().Counters().finished, 0u);
  EXPECT_EQ(w.broker().Unacked(), 0u);
}

TEST(WorkerRuntime, AHandlerPastItsDeadlineTimesOut) {
  WorkerHarness w;
  w.handler = [](TaskContext& ctx) -> std::string {
    if (!ctx.SleepFor(seconds(10))) throw TransientError("gave up");
    return "";
  };
  w.Start();
  const std::string id = w.Enqueue(/*max_attempts=*/1, /*timeout_ms=*/100);
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kDead; }));
  w.Stop();
  EXPECT_EQ(LastOutcome(w.store(), id), "timed_out");
  EXPECT_EQ(w.runtime().Counters().abandoned, 0u);  // it cooperated
}

TEST(WorkerRuntime, AnOperatorsCancelReachesTheHandler) {
  WorkerHarness w;
  w.handler = [](TaskContext& ctx) -> std::string {
    if (!ctx.SleepFor(seconds(10))) throw TransientError("stopped");
    return "";
  };
  w.Start();
  const std::string id = w.Enqueue(/*max_attempts=*/3);
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kRunning; }));
  ASSERT_TRUE(w.store().Cancel(id).found);
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kCancelled; }));
  w.Stop();
  EXPECT_EQ(LastOutcome(w.store(), id), "cancelled");
}

TEST(WorkerRuntime, AHandlerIgnoringItsDeadlineIsAbandonedAndTheWorkerStops) {
  WorkerHarness w;
  w.options.max_abandoned = 1;
  std::atomic<bool> handler_returned{false};
  w.handler = [&](TaskContext&) {
    std::this_thread::sleep_for(milliseconds(800));  // ignores its deadline
    handler_returned = true;
    return std::string();
  };
  w.Start();
  const std::string id = w.Enqueue(/*max_attempts=*/1, /*timeout_ms=*/50);
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.Returned(); }));
  EXPECT_EQ(w.Stop(), kExitAbandoned);
  EXPECT_TRUE(w.runtime().HasStuckThreads());
  EXPECT_EQ(w.runtime().Counters().abandoned, 1u);
  EXPECT_EQ(w.StateOf(id), TaskState::kDead);
  EXPECT_EQ(LastOutcome(w.store(), id), "timed_out");
  // The abandoned thread still uses the runtime until its handler returns.
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return handler_returned.load(); }));
  std::this_thread::sleep_for(milliseconds(50));
}

TEST(WorkerRuntime, TheDrainWaitsForUnrecordedFinishes) {
  WorkerHarness w;
  w.faults.failing_finishes = 3;  // about 0.7 s of backoff
  w.Start();
  const std::string id = w.Enqueue();
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.faults.finish_calls.load() >= 1; }));
  EXPECT_EQ(w.Stop(), kExitDrained);
  EXPECT_EQ(w.StateOf(id), TaskState::kSucceeded);
  EXPECT_EQ(w.broker().Unacked(), 0u);
}

TEST(WorkerRuntime, FinishesAreRetriedWhileTheDatabaseIsAwayAndNoneIsLost) {
  WorkerHarness w(4);
  w.faults.failing_finishes = 2;
  w.Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(w.Enqueue());
  ASSERT_TRUE(WorkerHarness::WaitFor([&] {
    for (const auto& id : ids) {
      if (w.StateOf(id) != TaskState::kSucceeded) return false;
    }
    return true;
  }));
  EXPECT_EQ(w.runtime().DatabaseProblem(), std::nullopt);  // recovered
  w.Stop();
  EXPECT_EQ(w.runtime().Counters().finished, 8u);
  EXPECT_EQ(w.broker().Unacked(), 0u);
  EXPECT_EQ(w.broker().ChannelErrors(), 0u);
}

TEST(WorkerRuntime, PastTheDrainBudgetRunningTasksAreHandedBack) {
  WorkerHarness w;
  w.options.drain_timeout = milliseconds(100);
  std::atomic<bool> handler_returned{false};
  w.handler = [&](TaskContext&) {
    std::this_thread::sleep_for(milliseconds(600));
    handler_returned = true;
    return std::string();
  };
  w.Start();
  const std::string id = w.Enqueue(/*max_attempts=*/3);
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kRunning; }));
  EXPECT_EQ(w.Stop(), kExitDrained);
  EXPECT_EQ(w.runtime().Counters().handed_back, 1u);
  EXPECT_EQ(w.StateOf(id), TaskState::kScheduled);
  EXPECT_EQ(LastOutcome(w.store(), id), "lost");
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return handler_returned.load(); }));
  std::this_thread::sleep_for(milliseconds(50));
}

TEST(WorkerRuntime, APoisonMessageIsDeadLettered) {
  WorkerHarness w;
  w.Start();
  w.PublishRaw("not an envelope");
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.runtime().Counters().poison.load() == 1; }));
  w.Stop();
  ASSERT_EQ(w.broker().DeadLetters().size(), 1u);
  EXPECT_EQ(w.broker().Unacked(), 0u);
}

TEST(WorkerRuntime, ADuplicateDeliveryRunsOnce) {
  WorkerHarness w;
  std::atomic<int> runs{0};
  w.handler = [&](TaskContext&) {
    ++runs;
    return std::string();
  };
  w.Start();
  NewTask t;
  t.type = "noop";
  const std::string id = w.store().Enqueue({&t, 1}).at(0).id;
  w.PublishOutbox(/*copies=*/2);
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.runtime().Counters().duplicates.load() == 1; }));
  ASSERT_TRUE(WorkerHarness::WaitFor([&] { return w.StateOf(id) == TaskState::kSucceeded; }));
  w.Stop();
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(w.broker().Unacked(), 0u);
}

}  // namespace
}  // namespace fila::testing
