#pragma once

#include <string>
#include <string_view>

#include "attempts.h"
#include "fila/core/task_types.h"

namespace fila::callbacks {

// The path every callback URL starts with; the attempt's token follows.
inline constexpr std::string_view kAttemptsPath = "/v1/attempts/";

struct Reply {
  int status = 200;
  std::string body;  // JSON
};

// An error reply in the API's shape: {"code", "message", "field"}.
Reply ErrorReply(int status, std::string_view code, std::string_view message, std::string_view field = {});

// One callback, its body read in full:
//   POST /v1/attempts/<token>/progress  fila.v1.Progress in JSON
//   POST /v1/attempts/<token>/children  fila.v1.EnqueueBatchRequest in JSON
// A token that is not open is 410; a bad body 400 naming the field. No
// child is enqueued unless every child checks (PrepareTask against
// `types`, as TaskContext::Enqueue checks it). Never throws.
Reply Route(AttemptTable& attempts, const TaskTypes& types, std::string_view method, std::string_view path,
            std::string_view body);

}  // namespace fila::callbacks
