#pragma once

#include <chrono>
#include <cstdint>

namespace fila {

using SteadyClock = std::chrono::steady_clock;
// Every blocking call takes one: the point past which it gives up.
using Deadline = SteadyClock::time_point;

inline Deadline DeadlineIn(std::chrono::milliseconds budget) { return SteadyClock::now() + budget; }

inline int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace fila
