#include "fila/core/retry.h"

#include <algorithm>

namespace fila {

std::chrono::milliseconds RetryPolicy::Ceiling(uint32_t attempt) const noexcept {
  if (attempt == 0 || base.count() <= 0) return std::chrono::milliseconds(0);
  const int64_t cap_ms = std::max<int64_t>(cap.count(), 0);
  int64_t ceiling = base.count();
  // Doubling stops once the cap is reached, so the shift can never overflow.
  for (uint32_t i = 1; i < attempt && ceiling < cap_ms; ++i) ceiling *= 2;
  return std::chrono::milliseconds(std::min(ceiling, cap_ms));
}

std::chrono::milliseconds RetryPolicy::Delay(uint32_t attempt, std::mt19937_64& rng) const {
  std::uniform_int_distribution<int64_t> dist(0, Ceiling(attempt).count());
  return std::chrono::milliseconds(dist(rng));
}

}  // namespace fila
