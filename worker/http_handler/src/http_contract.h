#pragma once

// The contract between the worker and an HTTP handler (docs/handlers.md,
// "HTTP handlers"), without I/O: what is sent for an attempt, and what the
// answer means.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fila/core/handler.h"
#include "fila/core/task_types.h"
#include "fila/http/http_client.h"

namespace fila::http_handler {

// The POST of one attempt to spec.handler.url: the JSON body {id, type,
// type_version, attempt, tenant, payload, deadline, callback} and the
// Fila-* headers. `deadline_unix_ms`: the attempt's deadline on the wall
// clock. The request's own deadline, cancel predicate and size bound are
// the caller's.
HttpRequest DeliveryRequest(const TaskTypeSpec& spec, const TaskContext& ctx, const std::string& callback_url,
                            int64_t deadline_unix_ms);

// The result an answer carries (its body: JSON, or empty), or the error it
// means: PermanentError for a non-JSON 2xx body, a body over
// `max_result_bytes`, a 4xx other than 408/409/429, or a status that is no
// answer (1xx, 3xx); RetryLater (Retry-After, at most a day) or
// TransientError for 408, 409, 429 and 5xx. Messages quote the handler's
// own ({"error": "..."}, {"message": "..."}, {"error": {"message": ...}},
// else the body's text), cut with TruncateText.
std::string ResultOf(const HttpResponse& response, size_t max_result_bytes);

// The message an error body carries, cut; "" for an empty body.
std::string ErrorMessageOf(std::string_view body);

}  // namespace fila::http_handler
