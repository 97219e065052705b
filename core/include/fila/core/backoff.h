#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace fila {

// How long a loop waits before it tries again after `failures` failures in
// a row (0 for the first): 100 ms doubling, at most `cap`. The same curve
// for every loop of the daemons that retries a server (the worker's claims
// and commits, the scheduler's relay), so that one outage is waited out
// the same way everywhere; only the cap differs by loop. No jitter: each
// process retries its own connection, not a shared resource.
constexpr std::chrono::milliseconds Backoff(int failures, std::chrono::milliseconds cap) {
  return std::min(std::chrono::milliseconds(int64_t{100} << std::clamp(failures, 0, 5)), cap);
}

}  // namespace fila
