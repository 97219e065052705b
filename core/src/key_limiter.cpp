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
      const GcraDecision rate = DecideKeyStart(
          s.next_start.time_since_epoch().count(), now.time_since_epoch().count(), limit.rate,
          std::chrono::duration_cast<SteadyClock::duration>(limit.period).count());
      // Gap: nobody admitted is still to send, and the last send is far enough.
      if (s.sender != 0 && now >= s.sender_until) s.sender = 0;  // a holder that never sent
      const auto gap_at = s.sender != 0 ? s.sender_until : s.last_sent + limit.min_gap;
      const bool gap_ok = limit.min_gap.count() <= 0 || now >= gap_at;
      if (concurrency_ok && rate.admitted && gap_ok) {
        s.next_start = SteadyClock::time_point(SteadyClock::duration(rate.next_tat));
        ++s.running;
        const uint64_t holder = ++last_holder_;
        std::function<void()> sent;
        if (limit.min_gap.count() > 0) {
          s.sender = holder;
          s.sender_until = now + kSendHold;
          sent = [this, k = std::string(key), holder] { MarkSent(k, holder); };
        }
        return Permit(
            [this, k = std::string(key), holder] {
              std::lock_guard guard(mutex_);
              State& held = keys_[k];
              --held.running;
              if (held.sender == holder) held.sender = 0;  // never sent: the next may go
              changed_.notify_all();
            },
            std::move(sent));
      }
      if (now >= deadline) throw TransientError("timed out waiting for limit " + std::string(key));
      auto wake = deadline;
      if (!rate.admitted) wake = std::min(wake, SteadyClock::time_point(SteadyClock::duration(rate.conforms_at)));
      if (!gap_ok) wake = std::min(wake, gap_at);
      // Cancellation is polled: wake at least every 100 ms.
      wake = std::min(wake, now + std::chrono::milliseconds(100));
      changed_.wait_until(lock, wake);
    }
  }

  void Defer(std::string_view key, std::chrono::milliseconds pause) override {
    std::lock_guard lock(mutex_);
    State& s = keys_[std::string(key)];
    s.next_start = std::max(s.next_start, SteadyClock::now() + pause);
  }

 private:
  struct State {
    uint32_t running = 0;
    SteadyClock::time_point next_start{};
    SteadyClock::time_point last_sent{};
    uint64_t sender = 0;  // the holder admitted to send next (0: none)
    SteadyClock::time_point sender_until{};
  };

  void MarkSent(const std::string& key, uint64_t holder) {
    std::lock_guard lock(mutex_);
    State& s = keys_[key];
    s.last_sent = std::max(s.last_sent, SteadyClock::now());
    if (s.sender == holder) s.sender = 0;
    changed_.notify_all();
  }

  uint64_t last_holder_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, State, std::less<>> keys_;
};

}  // namespace

std::unique_ptr<KeyLimiter> MakeLocalKeyLimiter() { return std::make_unique<LocalKeyLimiter>(); }

}  // namespace fila
