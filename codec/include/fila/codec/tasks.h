#pragma once

// Tasks as the API shows them (fila.v1.Task, Attempt, TaskTreeNode,
// TaskEvent, EnqueueResponse), both ways. ToProto is what the server
// answers; FromProto is how a client (the CLI) reads it back. Stateless:
// safe from any thread.

#include <cstdint>

#include "fila/core/state_store.h"
#include "fila/core/task_state.h"
#include "fila/core/task_types.h"
#include "fila/v1/api.pb.h"
#include "fila/v1/task.pb.h"

namespace fila::codec {

v1::TaskState ToProto(TaskState state);
// TASK_STATE_UNSPECIFIED and values a newer server may add read as queued.
TaskState FromProto(v1::TaskState state);
// The text form of the messages that carry a state as a string
// ("queued", ...); an unknown one reads as queued, as above.
TaskState StateFromText(const std::string& text);

v1::Attempt ToProto(const AttemptView& attempt);
AttemptView FromProto(const v1::Attempt& attempt);

// `payload_json` is filled when `types` knows the task's type and version.
// created_at_us (the keyset cursor) is not part of the message.
v1::Task ToProto(const TaskView& task, const TaskTypes& types);
TaskView FromProto(const v1::Task& task);

v1::TaskTreeNode ToProto(const TaskTreeNode& node);
TaskTreeNode FromProto(const v1::TaskTreeNode& node);

// One Server-Sent Event of GET /v1/tasks/{id}/events, stamped `at_ms`.
v1::TaskEvent ToEvent(const TaskView& task, int64_t at_ms);

v1::EnqueueResponse ToProto(const EnqueueResult& result);
EnqueueResult FromProto(const v1::EnqueueResponse& response);
// The answer of POST /v1/tasks: the result and what the task was given.
v1::Task EnqueuedTask(const EnqueueResult& result, const NewTask& task);

}  // namespace fila::codec
