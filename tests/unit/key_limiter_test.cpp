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

// The gap counts from the send: B is admitted one gap after A's request
// left, however long A took between its admission and its send; a holder
// that lets go unsent frees the turn at once.
TEST(LocalKeyLimiter, TheGapCountsFromTheSendNotFromTheAdmission) {
  auto limiter = MakeLocalKeyLimiter();
  const LimitSpec limit{.max_concurrent = 3, .min_gap = 100ms};
  Permit first = limiter->Acquire("host", limit, DeadlineIn(5s), nullptr);
  std::atomic<int64_t> admitted_ns{0};
  std::thread other([&] {
    Permit second = limiter->Acquire("host", limit, DeadlineIn(5s), nullptr);
    admitted_ns = SteadyClock::now().time_since_epoch().count();
  });
  std::this_thread::sleep_for(200ms);
  const auto sent = SteadyClock::now();
  first.Sent();
  other.join();
  EXPECT_GE(SteadyClock::time_point(SteadyClock::duration(admitted_ns.load())) - sent, 100ms);

  { Permit unsent = limiter->Acquire("quiet", limit, DeadlineIn(5s), nullptr); }
  EXPECT_NO_THROW(limiter->Acquire("quiet", limit, DeadlineIn(50ms), nullptr));
}

// A pause (Defer) holds a key that has no rate, only a gap.
TEST(LocalKeyLimiter, DeferPausesAKeyWithOnlyAGap) {
  auto limiter = MakeLocalKeyLimiter();
  const LimitSpec limit{.min_gap = 10ms};
  limiter->Defer("host", 300ms);
  const auto start = SteadyClock::now();
  limiter->Acquire("host", limit, DeadlineIn(5s), nullptr);
  EXPECT_GE(SteadyClock::now() - start, 290ms);
}

}  // namespace
}  // namespace fila
