#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "fila/core/clock.h"

namespace fila {

// A limit on everything that shares one key (an external account, a
// remote host): at most `max_concurrent` at once, at most `rate` starts per
// `period`, and at least `min_gap` between one request going out and the
// next one going out. A zero field is no limit of that kind.
//
// `rate` counts admissions (GCRA, with its burst); `min_gap` counts sends,
// as the remote host sees them: a permit admitted under a gap holds the key
// until its holder calls Permit::Sent() as the request leaves (or lets the
// permit go), so the time a holder spends between its admission and its
// request (a commit, a connect, a busy CPU) never brings two requests
// closer than the gap.
struct LimitSpec {
  uint32_t max_concurrent = 0;
  uint32_t rate = 0;
  std::chrono::milliseconds period{0};
  std::chrono::milliseconds min_gap{0};
  bool Empty() const {
    return max_concurrent == 0 && (rate == 0 || period.count() <= 0) && min_gap.count() <= 0;
  }
  bool operator==(const LimitSpec&) const = default;
};

// Holds one unit of a key's concurrency until destroyed (or Release()), and
// under a min_gap the key's turn to send until Sent().
class Permit final {
 public:
  Permit() = default;
  explicit Permit(std::function<void()> release, std::function<void()> sent = nullptr)
      : release_(std::move(release)), sent_(std::move(sent)) {}
  Permit(Permit&& other) noexcept
      : release_(std::exchange(other.release_, nullptr)), sent_(std::exchange(other.sent_, nullptr)) {}
  Permit& operator=(Permit&& other) noexcept {
    if (this != &other) {
      Release();
      release_ = std::exchange(other.release_, nullptr);
      sent_ = std::exchange(other.sent_, nullptr);
    }
    return *this;
  }
  Permit(const Permit&) = delete;
  Permit& operator=(const Permit&) = delete;
  ~Permit() { Release(); }
  // The request has just left: the key's min_gap counts from here. Called
  // again (a redirect's next request), it counts from the later send.
  // Never throws.
  void Sent() {
    if (sent_) sent_();
  }
  void Release() {
    sent_ = nullptr;
    if (release_) std::exchange(release_, nullptr)();
  }

 private:
  std::function<void()> release_;
  std::function<void()> sent_;
};

// Limits on requests a handler makes to an external service, per key.
// Implementations: LocalKeyLimiter (this process only) and the PostgreSQL
// one (every worker shares the limit). Thread-safe.
class KeyLimiter {
 public:
  // How long an admitted holder keeps a min_gap key before Sent(), should
  // it never send nor let go (a killed process): longer than any connect.
  static constexpr std::chrono::seconds kSendHold{15};

  virtual ~KeyLimiter() = default;
  // Waits until one more request on `key` fits `limit`, then returns the
  // permit that holds its concurrency unit (and, under a min_gap, the
  // key's turn to send: until Sent() or release, at most kSendHold).
  // Throws TransientError when `deadline` passes or `cancelled()` turns
  // true first.
  virtual Permit Acquire(std::string_view key, const LimitSpec& limit, Deadline deadline,
                         const std::function<bool()>& cancelled) = 0;
  // Pushes the key's next start at least `pause` from now, for everyone
  // sharing the limiter: a remote host that answered "slow down" (429, 5xx,
  // a block page) is left alone by every worker, not only the one that was
  // told. Holders keep their permits. Never throws (best effort: a failure
  // is logged). A limiter that cannot pause does nothing.
  virtual void Defer(std::string_view key, std::chrono::milliseconds pause) {
    (void)key;
    (void)pause;
  }
};

// In-process KeyLimiter: exact within one process, knows nothing of others.
std::unique_ptr<KeyLimiter> MakeLocalKeyLimiter();

}  // namespace fila
