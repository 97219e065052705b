#pragma once

// Polling for the unit tests that run threads without the integration
// harness (tests/integration/support).

#include <chrono>
#include <thread>

#include "fila/core/clock.h"

namespace fila::unit {

// Whether `pred` held within `budget`, asked every 5 ms.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds budget = std::chrono::milliseconds(5000)) {
  const auto until = SteadyClock::now() + budget;
  while (SteadyClock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace fila::unit
