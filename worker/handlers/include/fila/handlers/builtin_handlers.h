#pragma once

#include "fila/core/handler.h"
#include "fila/core/task_types.h"

namespace fila {

// Registers `noop` (returns at once; benchmarks and smoke tests) and, when
// `test_types` is enabled, the handlers for testing fila itself:
//   sleep  - waits payload.ms milliseconds, stopping early when cancelled
//            (unless payload.ignore_cancel: then it hangs on regardless)
//   flaky  - throws TransientError while attempt <= payload.fail_times
//   fanout - enqueues payload.width children of depth - 1 and a join task
void RegisterBuiltinHandlers(HandlerRegistry& registry, TestTypes test_types = TestTypes::kDisabled);

}  // namespace fila
