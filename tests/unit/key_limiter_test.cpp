#include "fila/core/key_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fila/core/errors.h"

namespace fila {
namespace {

using namespace std::chrono_literals;

TEST(LocalKeyLimiter, HoldsConcurrencyPerKey) {
  auto limiter = MakeLocalKeyLimiter();
  const LimitSpec limit{.max_concurrent = 2};
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      Permit p = limiter->Acquire("acct", limit, DeadlineIn(5s), nullptr);
      int now = ++running;
      peak = std::max(peak.load(), now);
      std::this_thread::sleep_for(20ms);
      --running;
    });
  }
  // Another key is not held up by the first.
  Permit other = limiter->Acquire("other", limit, DeadlineIn(100ms), nullptr);
  for (auto& t : threads) t.join();
  EXPECT_EQ(peak.load(), 2);
}

TEST(LocalKeyLimiter, SpacesStartsByRate) {
  auto limiter = MakeLocalKeyLimiter();
  const LimitSpec limit{.rate = 5, .period = 500ms};  // 10/s, burst 5
  const auto start = SteadyClock::now();
  for (int i = 0; i < 10; ++i) limiter->Acquire("host", limit, DeadlineIn(5s), nullptr);
  const auto took = SteadyClock::now() - start;
  EXPECT_GE(took, 450ms);  // 5 at once, then 5 more 100 ms apart
  EXPECT_LT(took, 2s);
}

TEST(LocalKeyLimiter, GivesUpAtTheDeadlineOrWhenCancelled) {
  auto limiter = MakeLocalKeyLimiter();
  const LimitSpec limit{.max_concurrent = 1};
  Permit held = limiter->Acquire("k", limit, DeadlineIn(1s), nullptr);
  EXPECT_THROW(limiter->Acquire("k", limit, DeadlineIn(50ms), nullptr), TransientError);
  EXPECT_THROW(limiter->Acquire("k", limit, DeadlineIn(5s), [] { return true; }), TransientError);
  held.Release();
  Permit again = limiter->Acquire("k", limit, DeadlineIn(50ms), nullptr);
}

}  // namespace
}  // namespace fila
