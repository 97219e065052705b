#pragma once

#include "fila/handler.h"

namespace fila {

// Registers the handlers for testing and benchmarking:
//   noop  - returns at once
//   sleep - waits payload.ms milliseconds, stopping early when cancelled
//           (unless payload.ignore_cancel: then it hangs on regardless)
//   flaky - throws TransientError while attempt <= payload.fail_times
void RegisterBuiltinHandlers(HandlerRegistry& registry);

}  // namespace fila
