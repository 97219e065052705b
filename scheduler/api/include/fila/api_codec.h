#pragma once

// The wire format of enqueue requests and API responses, shared by the HTTP
// API and the AMQP ingest: protobuf messages, serialized or in protobuf's
// JSON mapping, chosen by content type.

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "fila/monitor.h"
#include "fila/state_store.h"
#include "fila/task_request.h"
#include "fila/task_types.h"
#include "fila/v1/api.pb.h"
#include "fila/v1/task.pb.h"

namespace fila::api {

enum class Format { kJson, kProtobuf };

inline constexpr std::string_view kJsonType = "application/json";
inline constexpr std::string_view kProtobufType = "application/x-protobuf";

// The format of a Content-Type or Accept value (`when_empty` if there is
// none); nullopt when unsupported.
std::optional<Format> FormatOf(std::string_view content_type, Format when_empty = Format::kJson);
std::string_view ContentType(Format format);

// Throws PermanentError (naming the field where protobuf says which) when
// `body` is not a valid `message` in `format`. Unknown JSON fields are errors.
void Decode(Format format, std::string_view body, google::protobuf::Message& message);
// `all_fields`: print empty fields too, for responses with a fixed shape.
std::string Encode(Format format, const google::protobuf::Message& message,
                   bool all_fields = false);

v1::Task ToProto(const TaskView& view, const TaskTypes& types);
v1::TaskState ToProto(TaskState state);
// GET /v1/workers: each queue's counts carry all four unfinished states.
v1::ListWorkersResponse ToProto(const MonitorSnapshot& snapshot);

// The TaskRequest of an EnqueueRequest, for `tenant` (each front end
// decides whom to trust with the request's own tenant field).
TaskRequest ToTaskRequest(const v1::EnqueueRequest& request, std::string tenant);

}  // namespace fila::api
