#pragma once

// Acks on their way to the consumer thread, the only one that may send
// them (a broker connection is not thread-safe).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "fila/core/broker.h"

namespace fila {

struct AckRef {
  uint64_t epoch = 0;
  uint64_t tag = 0;
};

// Post() from any thread; TakeAll(), the unacked count and SetConsumer()
// belong to the consumer thread. Unacked() may be read from any thread.
class AckQueue final {
 public:
  // The consumer to wake when acks arrive (null: none, e.g. after Run).
  // Other threads only ever call its Wakeup().
  void SetConsumer(Consumer* consumer) { consumer_ = consumer; }

  // Hands acks to the consumer thread. A wakeup is only needed when the
  // list was empty: otherwise one is pending already, and the consumer
  // takes the whole list at once.
  void Post(std::span<const AckRef> refs);
  // Every ack posted so far, oldest first.
  std::vector<AckRef> TakeAll();

  // Deliveries claimed and not acked yet: the drain waits for zero. The
  // consumer thread counts a claim up (Claimed) and the acks it sent down
  // (Acked).
  void Claimed() { ++unacked_; }
  void Acked(size_t count) { unacked_ -= static_cast<int64_t>(count); }
  int64_t Unacked() const { return unacked_.load(); }

 private:
  std::mutex mutex_;
  std::vector<AckRef> acks_;
  std::atomic<Consumer*> consumer_{nullptr};
  std::atomic<int64_t> unacked_{0};
};

}  // namespace fila
