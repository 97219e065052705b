#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "fila/core/errors.h"
#include "fila/core/handler.h"

namespace fila::http_handler {

// At most `limit` attempts of a handler at once on this worker. Waiting
// polls the attempt's cancel flag (which its deadline also sets).
class ConcurrencyGate final {
 public:
  explicit ConcurrencyGate(uint32_t limit) : limit_(limit) {}

  // Holds one place while it lives. TransientError when the attempt is
  // cancelled or times out before a place is free.
  class Place {
   public:
    Place(ConcurrencyGate& gate, const TaskContext& ctx) : gate_(gate) {
      std::unique_lock lock(gate_.mutex_);
      while (gate_.used_ >= gate_.limit_) {
        if (ctx.Cancelled()) {
          throw TransientError("cancelled or timed out while waiting for one of the HTTP handler's " +
                               std::to_string(gate_.limit_) + " places on this worker");
        }
        gate_.freed_.wait_for(lock, std::chrono::milliseconds(50));
      }
      ++gate_.used_;
    }
    ~Place() {
      {
        std::lock_guard lock(gate_.mutex_);
        --gate_.used_;
      }
      gate_.freed_.notify_one();
    }
    Place(const Place&) = delete;
    Place& operator=(const Place&) = delete;

   private:
    ConcurrencyGate& gate_;
  };

 private:
  const uint32_t limit_;
  std::mutex mutex_;
  std::condition_variable freed_;
  uint32_t used_ = 0;
};

}  // namespace fila::http_handler
