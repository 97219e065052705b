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
// remote host): at most `max_concurrent` at once and at most `rate` starts per
// `period`. A zero field is no limit of that kind.
struct LimitSpec {
  uint32_t max_concurrent = 0;
  uint32_t rate = 0;
  std::chrono::milliseconds period{0};
  bool Empty() const { return max_concurrent == 0 && (rate == 0 || period.count() <= 0); }
  bool operator==(const LimitSpec&) const = default;
};

// Holds one unit of a key's concurrency until destroyed (or Release()).
class Permit final {
 public:
  Permit() = default;
  explicit Permit(std::function<void()> release) : release_(std::move(release)) {}
  Permit(Permit&& other) noexcept : release_(std::exchange(other.release_, nullptr)) {}
  Permit& operator=(Permit&& other) noexcept {
    if (this != &other) {
      Release();
      release_ = std::exchange(other.release_, nullptr);
    }
    return *this;
  }
  Permit(const Permit&) = delete;
  Permit& operator=(const Permit&) = delete;
  ~Permit() { Release(); }
  void Release() {
    if (release_) std::exchange(release_, nullptr)();
  }

 private:
  std::function<void()> release_;
};

// Limits on requests a handler makes to an external service, per key.
// Implementations: LocalKeyLimiter (this process only) and the PostgreSQL
// one (every worker shares the limit). Thread-safe.
class KeyLimiter {
 public:
  virtual ~KeyLimiter() = default;
  // Waits until one more request on `key` fits `limit`, then returns the
  // permit that holds its concurrency unit. Throws TransientError when
  // `deadline` passes or `cancelled()` turns true first.
  virtual Permit Acquire(std::string_view key, const LimitSpec& limit, Deadline deadline,
                         const std::function<bool()>& cancelled) = 0;
};

// In-process KeyLimiter: exact within one process, knows nothing of others.
std::unique_ptr<KeyLimiter> MakeLocalKeyLimiter();

}  // namespace fila
