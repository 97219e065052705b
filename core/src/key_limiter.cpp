#include "fila/core/key_limiter.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

#include "fila/core/errors.h"
#include "fila/core/lifecycle.h"

namespace fila {
namespace {

class LocalKeyLimiter final : public KeyLimiter {
 public:
  Permit Acquire(std::string_view key, const LimitSpec& limit, Deadline deadline,
                 const std::function<bool()>& cancelled) override {
    std::unique_lock lock(mutex_);
    State& s = keys_[std::string(key)];
    while (true) {
      if (cancelled && cancelled()) throw TransientError("cancelled while waiting for limit " + std::string(key));
      const auto now = SteadyClock::now();
      const bool concurrency_ok = limit.max_concurrent == 0 || s.running < limit.max_concurrent;
      // Rate: GCRA in steady-clock ticks (core/lifecycle.h).
      const GcraDecision rate = DecideGcra(
          s.next_start.time_since_epoch().count(), now.time_since_epoch().count(), limit.rate,
          std::chrono::duration_cast<SteadyClock::duration>(limit.period).count());
      if (concurrency_ok && rate.admitted) {
        s.next_start = SteadyClock::time_point(SteadyClock::duration(rate.next_tat));
        ++s.running;
        return Permit([this, k = std::string(key)] {
          std::lock_guard guard(mutex_);
          --keys_[k].running;
          changed_.notify_all();
        });
      }
      if (now >= deadline) throw TransientError("timed out waiting for limit " + std::string(key));
      auto wake = deadline;
      if (!rate.admitted) wake = std::min(wake, SteadyClock::time_point(SteadyClock::duration(rate.conforms_at)));
      // Cancellation is polled: wake at least every 100 ms.
      wake = std::min(wake, now + std::chrono::milliseconds(100));
      changed_.wait_until(lock, wake);
    }
  }

 private:
  struct State {
    uint32_t running = 0;
    SteadyClock::time_point next_start{};
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, State, std::less<>> keys_;
};

}  // namespace

std::unique_ptr<KeyLimiter> MakeLocalKeyLimiter() { return std::make_unique<LocalKeyLimiter>(); }

}  // namespace fila
