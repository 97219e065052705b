#include "task_context.h"

#include <algorithm>
#include <thread>

namespace fila {

bool SlotContext::Cancelled() const { return cancelled_.load() || DeadlinePassed(); }

bool SlotContext::SleepFor(std::chrono::milliseconds duration) {
  // Wake at least every 50 ms so cancellation is seen promptly.
  constexpr auto kStep = std::chrono::milliseconds(50);
  const auto until = SteadyClock::now() + duration;
  while (!Cancelled()) {
    auto now = SteadyClock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(until - now, kStep));
  }
  return false;
}

void SlotContext::Progress(int percent, std::string_view message) {
  sink_({id_, attempt_, std::clamp(percent, 0, 100), std::string(message)});
}

}  // namespace fila
