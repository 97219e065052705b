#include "fila/core/retry.h"

#include <gtest/gtest.h>

namespace fila {
namespace {

using std::chrono::milliseconds;

TEST(RetryPolicy, CeilingDoublesFromBase) {
  RetryPolicy p{.max_attempts = 10, .base = milliseconds(100), .cap = milliseconds(100000)};
  EXPECT_EQ(p.Ceiling(0), milliseconds(0));
  EXPECT_EQ(p.Ceiling(1), milliseconds(100));
  EXPECT_EQ(p.Ceiling(2), milliseconds(200));
  EXPECT_EQ(p.Ceiling(3), milliseconds(400));
  EXPECT_EQ(p.Ceiling(8), milliseconds(12800));
}

TEST(RetryPolicy, CeilingStopsAtCap) {
  RetryPolicy p{.max_attempts = 10, .base = milliseconds(1000), .cap = milliseconds(5000)};
  EXPECT_EQ(p.Ceiling(3), milliseconds(4000));
  EXPECT_EQ(p.Ceiling(4), milliseconds(5000));
  EXPECT_EQ(p.Ceiling(1000000), milliseconds(5000));  // no overflow
}

TEST(RetryPolicy, DelayIsWithinFullJitterBounds) {
  RetryPolicy p{.max_attempts = 10, .base = milliseconds(50), .cap = milliseconds(1000)};
  std::mt19937_64 rng(42);
  for (uint32_t attempt = 1; attempt <= 8; ++attempt) {
    milliseconds lo = milliseconds::max(), hi = milliseconds(0);
    for (int i = 0; i < 2000; ++i) {
      auto d = p.Delay(attempt, rng);
      ASSERT_GE(d, milliseconds(0));
      ASSERT_LE(d, p.Ceiling(attempt));
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // Full jitter spreads over the whole range, not a band near the ceiling.
    EXPECT_LT(lo, p.Ceiling(attempt) / 4) << attempt;
    EXPECT_GT(hi, p.Ceiling(attempt) * 3 / 4) << attempt;
  }
}

TEST(RetryPolicy, ShouldRetryUntilMaxAttempts) {
  RetryPolicy p{.max_attempts = 3};
  EXPECT_TRUE(p.ShouldRetry(1));
  EXPECT_TRUE(p.ShouldRetry(2));
  EXPECT_FALSE(p.ShouldRetry(3));
  EXPECT_FALSE(p.ShouldRetry(4));
}

}  // namespace
}  // namespace fila
