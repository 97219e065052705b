// The API's group commit of single enqueues on the in-memory store:
// every caller gets its own answer, a bad task fails alone, a repeated
// idempotency key answers the first's id.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "backpressure.h"
#include "enqueue_combiner.h"
#include "fila/core/errors.h"
#include "fila/store_memory/memory_store.h"

namespace fila::api {
namespace {

class GroupCounter final : public SchedulerMetrics {
 public:
  void EnqueueGroup(size_t tasks, double seconds) override {
    std::lock_guard lock(mutex_);
    tasks_ += tasks;
    ++groups_;
    EXPECT_GE(seconds, 0);
  }
  size_t tasks() {
    std::lock_guard lock(mutex_);
    return tasks_;
  }

 private:
  std::mutex mutex_;
  size_t tasks_ = 0;
  size_t groups_ = 0;
};

NewTask Noop(std::string key = {}) {
  NewTask t;
  t.type = "noop";
  t.max_attempts = 1;
  t.idempotency_key = std::move(key);
  return t;
}

TEST(EnqueueCombiner, EveryCallerGetsItsOwnAnswer) {
  // One store in the pool: every commit sees the ones before it.
  StorePool pool([] { return std::unique_ptr<StateStore>(new MemoryStore()); }, 1);
  GroupCounter metrics;
  constexpr size_t kCallers = 48;
  std::vector<std::optional<EnqueueResult>> results(kCallers);
  std::vector<std::string> errors(kCallers);
  {
    EnqueueCombiner combiner(pool, {.max_group = 8, .max_queued = 1000, .committers = 2}, metrics);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < kCallers; ++i) {
      threads.emplace_back([&, i] {
        NewTask t = Noop(i == 10 || i == 30 ? "same" : "");
        if (i == 7) t.depends_on = {"00000000-0000-4000-8000-000000000000"};
        try {
          results[i] = combiner.Enqueue(t, SteadyClock::now() + std::chrono::seconds(10));
        } catch (const PermanentError& e) {
          errors[i] = e.field();
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(metrics.tasks(), kCallers);
  std::set<std::string> ids;
  for (size_t i = 0; i < kCallers; ++i) {
    if (i == 7) {
      EXPECT_FALSE(results[i]);
      EXPECT_EQ(errors[i], "depends_on");
      continue;
    }
    ASSERT_TRUE(results[i]) << i << ": " << errors[i];
    ids.insert(results[i]->id);
  }
  EXPECT_EQ(results[10]->id, results[30]->id);
  EXPECT_NE(results[10]->created, results[30]->created);
  EXPECT_EQ(ids.size(), kCallers - 2);
}

TEST(EnqueueCombiner, APassedDeadlineIsNeverCommitted) {
  StorePool pool([] { return std::unique_ptr<StateStore>(new MemoryStore()); }, 1);
  GroupCounter metrics;
  EnqueueCombiner combiner(pool, {}, metrics);
  EXPECT_THROW(combiner.Enqueue(Noop(), SteadyClock::now() - std::chrono::seconds(1)),
               TransientError);
  auto lease = pool.Acquire(SteadyClock::now() + std::chrono::seconds(1));
  EXPECT_EQ(lease->CountActive(), 0);
}

// EnqueueAsync: no caller thread waits. Each callback is called once, from
// a committer, with the task's own answer (a bad task fails alone, a
// repeated key answers the first's id); a full queue and a passed deadline
// are answered without a commit.
TEST(EnqueueCombiner, AsyncCallersAreEachAnsweredOnceByACommitter) {
  StorePool pool([] { return std::unique_ptr<StateStore>(new MemoryStore()); }, 1);
  GroupCounter metrics;
  constexpr size_t kCallers = 200;
  std::mutex mutex;
  std::condition_variable all_in;
  std::vector<int> calls(kCallers, 0);
  std::vector<std::optional<EnqueueResult>> results(kCallers);
  std::vector<std::string> errors(kCallers);
  std::set<std::thread::id> answering;
  size_t answered = 0;
  {
    EnqueueCombiner combiner(pool, {.max_group = 16, .max_queued = 1000, .committers = 2}, metrics);
    for (size_t i = 0; i < kCallers; ++i) {
      NewTask t = Noop(i == 10 || i == 150 ? "same" : "");
      if (i == 7) t.depends_on = {"00000000-0000-4000-8000-000000000000"};
      combiner.EnqueueAsync(std::move(t), SteadyClock::now() + std::chrono::seconds(10),
                            [&, i](const NewTask&, const EnqueueResult& result, std::exception_ptr error) {
                              std::lock_guard lock(mutex);
                              ++calls[i];
                              answering.insert(std::this_thread::get_id());
                              try {
                                if (error) std::rethrow_exception(error);
                                results[i] = result;
                              } catch (const PermanentError& e) {
                                errors[i] = e.field();
                              }
                              if (++answered == kCallers) all_in.notify_all();
                            });
    }
    std::unique_lock lock(mutex);
    ASSERT_TRUE(all_in.wait_for(lock, std::chrono::seconds(10), [&] { return answered == kCallers; }))
        << answered << " of " << kCallers << " answered";
  }
  EXPECT_EQ(metrics.tasks(), kCallers);
  EXPECT_EQ(answering.count(std::this_thread::get_id()), 0u) << "a caller's thread answered";
  std::set<std::string> ids;
  for (size_t i = 0; i < kCallers; ++i) {
    EXPECT_EQ(calls[i], 1) << i;
    if (i == 7) {
      EXPECT_EQ(errors[i], "depends_on");
      continue;
    }
    ASSERT_TRUE(results[i]) << i << ": " << errors[i];
    ids.insert(results[i]->id);
  }
  EXPECT_EQ(results[10]->id, results[150]->id);
  EXPECT_EQ(ids.size(), kCallers - 2);

  // A task past its deadline is answered by a committer, never committed.
  EnqueueCombiner tiny(pool, {.max_queued = 1, .committers = 1}, metrics);
  std::atomic<bool> expired{false};
  tiny.EnqueueAsync(Noop(), SteadyClock::now() - std::chrono::seconds(1),
                    [&](const NewTask&, const EnqueueResult&, std::exception_ptr error) {
                      try {
                        if (error) std::rethrow_exception(error);
                      } catch (const TransientError& e) {
                        expired = std::string(e.what()).find("waited too long") != std::string::npos;
                      }
                    });
  for (int i = 0; i < 200 && !expired; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(expired);

  // A full queue is refused at once, on the caller's thread: the committer
  // holds one task (waiting for the pool's only store), one more waits,
  // and the third is answered 429's QuotaExceeded before EnqueueAsync returns.
  const size_t committed_before = metrics.tasks();
  std::atomic<int> done{0};
  auto count = [&](const NewTask&, const EnqueueResult&, std::exception_ptr error) {
    if (!error) ++done;
  };
  {
    auto held = pool.Acquire(SteadyClock::now() + std::chrono::seconds(1));
    tiny.EnqueueAsync(Noop(), SteadyClock::now() + std::chrono::seconds(10), count);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // taken by the committer
    tiny.EnqueueAsync(Noop(), SteadyClock::now() + std::chrono::seconds(10), count);
    bool refused_here = false;
    tiny.EnqueueAsync(Noop(), SteadyClock::now() + std::chrono::seconds(10),
                      [&](const NewTask&, const EnqueueResult&, std::exception_ptr error) {
                        try {
                          if (error) std::rethrow_exception(error);
                        } catch (const QuotaExceeded&) {
                          refused_here = true;
                        }
                      });
    EXPECT_TRUE(refused_here);
  }
  for (int i = 0; i < 300 && done < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(done.load(), 2);
  EXPECT_EQ(metrics.tasks() - committed_before, 2u);
}

ApiBackpressure Bounds() {
  ApiBackpressure b;
  b.max_commit_latency = std::chrono::milliseconds(100);
  b.max_backlog = 1000;
  return b;
}

EnqueueCombiner::Load Slow(double seconds, size_t mine, size_t all, size_t tenants) {
  return {.commit_seconds = seconds, .queued = all, .queued_of_tenant = mine, .tenants = tenants};
}

std::string Reason(const std::optional<Refusal>& r) { return r ? r->reason : "none"; }

TEST(Backpressure, SlowCommitsRefuseTheTenantsWithTheMostWaitingFirstThenEveryone) {
  const auto b = Bounds();
  const BacklogBoard::View none;
  EXPECT_EQ(Reason(DecideBackpressure(b, Slow(0.09, 30, 31, 2), none)), "none");
  // Over the bound: the flooding tenant (30 of 31 waiting), not the quiet one.
  EXPECT_EQ(Reason(DecideBackpressure(b, Slow(0.15, 30, 31, 2), none)), "commit_latency");
  EXPECT_EQ(Reason(DecideBackpressure(b, Slow(0.15, 1, 31, 2), none)), "none");
  EXPECT_EQ(Reason(DecideBackpressure(b, Slow(0.15, 0, 31, 1), none)), "none");
  // Twice the bound: everyone.
  EXPECT_EQ(Reason(DecideBackpressure(b, Slow(0.25, 0, 31, 1), none)), "commit_latency");
  EXPECT_EQ(DecideBackpressure(b, Slow(0.25, 0, 31, 1), none)->retry_after_s, 1);
  auto off = b;
  off.max_commit_latency = std::chrono::milliseconds(0);
  EXPECT_EQ(Reason(DecideBackpressure(off, Slow(5, 30, 31, 2), none)), "none");
}

TEST(Backpressure, ABacklogRefusesTheTenantsAboveTheirShareFirstThenEveryone) {
  const auto b = Bounds();
  const EnqueueCombiner::Load idle;
  auto view = [](int64_t total, int64_t mine, size_t tenants) {
    return BacklogBoard::View{.known = true, .total = total, .of_tenant = mine, .tenants = tenants};
  };
  EXPECT_EQ(Reason(DecideBackpressure(b, idle, view(900, 800, 2))), "none");
  EXPECT_EQ(Reason(DecideBackpressure(b, idle, view(1100, 800, 2))), "backlog");
  EXPECT_EQ(Reason(DecideBackpressure(b, idle, view(1100, 300, 2))), "none");
  EXPECT_EQ(Reason(DecideBackpressure(b, idle, view(1100, 1100, 1))), "none");  // its whole share
  EXPECT_EQ(Reason(DecideBackpressure(b, idle, view(1300, 0, 1))), "backlog");  // past 1.25x
  EXPECT_EQ(Reason(DecideBackpressure(b, idle, BacklogBoard::View{})), "none");  // not sampled yet
  auto off = b;
  off.max_backlog = 0;
  EXPECT_EQ(Reason(DecideBackpressure(off, idle, view(5000, 5000, 1))), "none");
}

}  // namespace
}  // namespace fila::api
