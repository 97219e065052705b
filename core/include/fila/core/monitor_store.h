#pragma once

#include <cstdint>

#include "fila/core/store_types.h"

namespace fila {

// What `fila top` and GET /v1/workers read. Errors as in WorkerStore.
class MonitorStore {
 public:
  virtual ~MonitorStore() = default;

  // The workers (stale past `stale_after_ms`; stale for over an hour and
  // running nothing: only counted), their running tasks, and the
  // unfinished tasks per queue.
  virtual MonitorSnapshot Monitor(uint32_t stale_after_ms) = 0;
};

}  // namespace fila
