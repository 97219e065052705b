// The worker's TaskContext::ForEach (worker/src/task_context.cpp): pieces
// run on the worker-wide pool, at most max_parallel and at most the pool's
// size at once; a cancel or a failed piece stops new pieces; a ForEach
// from inside a piece runs inline on that pool thread.
//
// The last two tests hold two hangs found here: a runner that ended while
// the caller was still submitting the others (quick pieces), and a ForEach
// without `done` spinning on its lock.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fila/core/task_types.h"
#include "task_context.h"

namespace fila {
namespace {

using namespace std::chrono_literals;

// The pool is made on the first ForEach of the process, of
// FILA_WORKER_PARALLELISM threads: 4 here, whichever test runs first.
constexpr size_t kPoolSize = 4;
const bool kPoolSizeSet = ::setenv("FILA_WORKER_PARALLELISM", "4", 1) == 0;

// The highest value `running` reached while pieces ran.
class Concurrency {
 public:
  void Enter() {
    const int now = ++running_;
    int peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
  }
  void Leave() { --running_; }
  int peak() const { return peak_.load(); }

 private:
  std::atomic<int> running_{0};
  std::atomic<int> peak_{0};
};

// A running attempt's context and what it refers to.
struct Attempt {
  explicit Attempt(Deadline deadline = DeadlineIn(60s))
      : ctx(id, type, 1, payload, queue, tenant, deadline, types, [](ProgressUpdate) {}) {}
  std::string id = "00000000-0000-0000-0000-000000000042";
  std::string type = "test.pieces";
  std::string payload;
  std::string queue = "default";
  std::string tenant = "default";
  TaskTypes types = TaskTypes::Builtin();
  SlotContext ctx;
};

// A `done` that reports nothing (see the note at the top).
void NoReport(size_t) {}

class WorkerForEach : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(kPoolSizeSet); }

  // Shared: a piece that never returns (a failed test) may outlive the test.
  std::shared_ptr<Attempt> attempt_ = std::make_shared<Attempt>();
  SlotContext& ctx_ = attempt_->ctx;
};

TEST_F(WorkerForEach, EveryPieceRunsOnceAndDoneReportsOnTheCallingThread) {
  constexpr size_t kCount = 100;
  std::vector<std::atomic<int>> runs(kCount);
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> piece_on_caller{false};
  std::vector<size_t> reported;
  bool done_on_other_thread = false;
  const size_t n = ctx_.ForEach(
      kCount, 8,
      [&](size_t i) {
        if (std::this_thread::get_id() == caller) piece_on_caller = true;
        ++runs[i];
        std::this_thread::sleep_for(2ms);
      },
      [&](size_t so_far) {
        if (std::this_thread::get_id() != caller) done_on_other_thread = true;
        reported.push_back(so_far);
      });
  EXPECT_EQ(n, kCount);
  for (size_t i = 0; i < kCount; ++i) EXPECT_EQ(runs[i].load(), 1) << "piece " << i;
  EXPECT_FALSE(piece_on_caller) << "the pieces run on the pool";
  EXPECT_FALSE(done_on_other_thread);
  // Counts so far, rising. The last one is not promised: pieces that end
  // while the caller is not waiting may go unreported.
  for (size_t i = 0; i < reported.size(); ++i) {
    EXPECT_LE(reported[i], kCount);
    if (i > 0) {
      EXPECT_LT(reported[i - 1], reported[i]);
    }
  }
}

TEST_F(WorkerForEach, NoMoreThanMaxParallelAtOnce) {
  Concurrency c;
  const size_t n = ctx_.ForEach(
      24, 3,
      [&](size_t) {
        c.Enter();
        std::this_thread::sleep_for(10ms);
        c.Leave();
      },
      NoReport);
  EXPECT_EQ(n, 24u);
  EXPECT_LE(c.peak(), 3);
  EXPECT_GE(c.peak(), 2) << "the pieces should overlap";
}

TEST_F(WorkerForEach, NoMoreThanThePoolAtOnceWhateverMaxParallel) {
  Concurrency c;
  const size_t n = ctx_.ForEach(
      40, 32,
      [&](size_t) {
        c.Enter();
        std::this_thread::sleep_for(10ms);
        c.Leave();
      },
      NoReport);
  EXPECT_EQ(n, 40u);
  EXPECT_LE(c.peak(), static_cast<int>(kPoolSize));
}

TEST_F(WorkerForEach, ACancelStopsNewPieces) {
  std::atomic<int> started{0};
  const size_t n = ctx_.ForEach(
      50, 1,
      [&](size_t i) {
        ++started;
        if (i == 2) ctx_.Cancel();
      },
      NoReport);
  EXPECT_EQ(started.load(), 3);
  EXPECT_EQ(n, 3u) << "the pieces that ran to completion";

  // Already cancelled: nothing starts.
  started = 0;
  EXPECT_EQ(ctx_.ForEach(5, 1, [&](size_t) { ++started; }, NoReport), 0u);
  EXPECT_EQ(started.load(), 0);
}

TEST_F(WorkerForEach, ThePastDeadlineStopsNewPieces) {
  Attempt expired(DeadlineIn(-1ms));
  std::atomic<int> started{0};
  EXPECT_EQ(expired.ctx.ForEach(5, 1, [&](size_t) { ++started; }, NoReport), 0u);
  EXPECT_EQ(started.load(), 0);
}

TEST_F(WorkerForEach, TheFirstErrorIsRethrownAndLaterPiecesDoNotStart) {
  std::atomic<int> started{0};
  try {
    ctx_.ForEach(
        50, 1,
        [&](size_t i) {
          ++started;
          if (i == 3) throw std::runtime_error("piece 3 failed");
          if (i == 4) throw std::runtime_error("piece 4 failed");
        },
        NoReport);
    FAIL() << "no throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "piece 3 failed");
  }
  EXPECT_EQ(started.load(), 4);
}

TEST_F(WorkerForEach, AnErrorStopsTheOtherRunnersToo) {
  // Piece 0 fails; the others wait until it has thrown, and a little more
  // for the error to be recorded: each runner then stops after its piece.
  // So at most one piece per runner.
  std::atomic<int> started{0};
  std::atomic<bool> thrown{false};
  EXPECT_THROW(ctx_.ForEach(200, 4,
                            [&](size_t i) {
                              ++started;
                              if (i == 0) {
                                std::this_thread::sleep_for(20ms);
                                thrown = true;
                                throw TransientError("piece 0 failed");
                              }
                              for (int k = 0; k < 200 && !thrown; ++k) std::this_thread::sleep_for(5ms);
                              std::this_thread::sleep_for(50ms);
                            },
                            NoReport),
               TransientError);
  EXPECT_LE(started.load(), 4);
}

TEST_F(WorkerForEach, ANestedForEachRunsInlineWithoutDeadlock) {
  // As many outer pieces as pool threads, each waiting on a nested
  // ForEach: were the nested pieces queued on the pool, none could run.
  auto finished = std::make_shared<std::promise<size_t>>();
  auto nested_off_thread = std::make_shared<std::atomic<int>>(0);
  auto nested_runs = std::make_shared<std::atomic<int>>(0);
  std::thread([attempt = attempt_, finished, nested_off_thread, nested_runs] {
    SlotContext& ctx = attempt->ctx;
    try {
      finished->set_value(ctx.ForEach(
          kPoolSize, kPoolSize,
          [&](size_t) {
            const auto outer = std::this_thread::get_id();
            std::this_thread::sleep_for(20ms);  // all the pool's threads busy at once
            ctx.ForEach(3, 3, [&](size_t) {
              ++*nested_runs;
              if (std::this_thread::get_id() != outer) ++*nested_off_thread;
            });
          },
          NoReport));
    } catch (...) {
      finished->set_exception(std::current_exception());
    }
  }).detach();
  auto result = finished->get_future();
  ASSERT_EQ(result.wait_for(30s), std::future_status::ready) << "nested ForEach deadlocked";
  EXPECT_EQ(result.get(), kPoolSize);
  EXPECT_EQ(nested_runs->load(), static_cast<int>(3 * kPoolSize));
  EXPECT_EQ(nested_off_thread->load(), 0) << "nested pieces run inline on the outer piece's thread";
}

// Runs ForEach(args...) on a thread of its own: true when it returned
// within `limit` (a ForEach that never returns leaves that thread behind).
bool ReturnsWithin(std::shared_ptr<Attempt> attempt, std::chrono::seconds limit, size_t count, size_t max_parallel,
                   std::function<void(size_t)> piece, std::function<void(size_t)> done) {
  auto finished = std::make_shared<std::promise<void>>();
  std::thread([=] {
    try {
      attempt->ctx.ForEach(count, max_parallel, piece, done);
    } catch (...) {
    }
    finished->set_value();
  }).detach();
  return finished->get_future().wait_for(limit) == std::future_status::ready;
}

// Quick pieces: runners end while the caller is still submitting the
// others; the caller must still count every runner it started.
TEST_F(WorkerForEach, QuickPiecesReturn) {
  for (int round = 0; round < 50; ++round) {
    ASSERT_TRUE(ReturnsWithin(attempt_, 10s, 16, 8, [](size_t) {}, NoReport)) << "round " << round;
  }
}

// With no `done`, the caller still follows the finished pieces: else the
// wait's predicate stays true and it spins holding the batch's lock.
TEST_F(WorkerForEach, WithoutDoneItReturns) {
  EXPECT_TRUE(ReturnsWithin(attempt_, 10s, 8, 2, [](size_t) { std::this_thread::sleep_for(5ms); }, {}));
}

}  // namespace
}  // namespace fila
