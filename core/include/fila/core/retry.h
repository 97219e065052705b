#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace fila {

// Exponential backoff with full jitter: the delay before retry number n
// (n = attempts already made, from 1) is uniform in [0, min(cap, base*2^(n-1))].
struct RetryPolicy {
  uint32_t max_attempts = 3;
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds cap{std::chrono::minutes(10)};

  // Upper bound of the delay after `attempt` failed attempts; never overflows.
  std::chrono::milliseconds Ceiling(uint32_t attempt) const noexcept;
  // A random delay in [0, Ceiling(attempt)].
  std::chrono::milliseconds Delay(uint32_t attempt, std::mt19937_64& rng) const;
  bool ShouldRetry(uint32_t attempt) const noexcept { return attempt < max_attempts; }
};

}  // namespace fila
