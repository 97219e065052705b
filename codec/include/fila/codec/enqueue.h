#pragma once

// A producer's request for a task (fila.v1.EnqueueRequest) and the
// domain's TaskRequest, both ways. The request is carried as given:
// validation and the type's defaults are PrepareTask's, on the server.

#include <string>

#include "fila/core/state_store.h"
#include "fila/core/task_request.h"
#include "fila/v1/task.pb.h"

namespace fila::codec {

// The TaskRequest of an EnqueueRequest, for `tenant` (each front end
// decides whom to trust with the request's own tenant field). Throws
// PermanentError for a run_at that is not RFC 3339 with an offset, or
// given together with run_at_unix_ms ("run_at").
TaskRequest ToTaskRequest(const v1::EnqueueRequest& request, std::string tenant);

// The EnqueueRequest that carries `request` (its tenant included). The
// message's 0 means "the type's default" and it has no negative numbers:
// throws PermanentError naming the field for a value it cannot carry
// (max_attempts or timeout_ms below 1; a negative or over 2^32-1 count,
// priority, backoff or limit). A limit of 0 is sent as 0, which the
// server reads as the type's.
v1::EnqueueRequest ToProto(const TaskRequest& request);

// The request that PrepareTask turns into `task` again: every option
// explicit, the payload as bytes, the limit key as its producer named it.
TaskRequest RequestOf(const NewTask& task);

}  // namespace fila::codec
