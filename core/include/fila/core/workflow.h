#pragma once

// The rules of workflows (tasks that depend on others, children enqueued by
// a handler) that every store applies the same way.

#include <span>
#include <string>

#include "fila/core/store_types.h"

namespace fila {

// Throws PermanentError (field depends_on) when tasks of one batch that
// name their ids depend on each other in a cycle: they would stay blocked
// forever. Iterative: a handler's chain of 10,000 children must not recurse
// 10,000 frames deep.
void RejectCycles(std::span<const NewTask> tasks);

// The finish of a task whose children were refused (a PermanentError while
// inserting them, e.g. a tree over its cap): the task fails with the
// reason, keeps no result, and enqueues nothing.
FinishRecord ChildrenRefused(const FinishRecord& finish, const std::string& why);

}  // namespace fila
