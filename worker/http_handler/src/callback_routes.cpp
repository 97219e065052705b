#include "callback_routes.h"

#include <nlohmann/json.hpp>

#include <vector>

#include "fila/codec/enqueue.h"
#include "fila/codec/wire.h"
#include "fila/core/errors.h"
#include "fila/core/task_request.h"
#include "fila/core/text_limit.h"
#include "fila/v1/api.pb.h"
#include "fila/v1/task.pb.h"

namespace fila::callbacks {
namespace {

using Json = nlohmann::json;

// Progress messages are shown by `fila top` and the API: a line, not a log.
constexpr size_t kMaxProgressMessage = 1024;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json ErrorJson(std::string_view code, std::string_view message, std::string_view field) {
  Json j{{"code", code}, {"message", TruncateText(message)}};
  if (!field.empty()) j["field"] = TruncateText(field, 256);
  return j;
}

Reply Progress(TaskContext& ctx, std::string_view body) {
  v1::Progress m;
  codec::Decode(codec::Format::kJson, body, m);
  if (m.percent() < 0 || m.percent() > 100) {
    return ErrorReply(400, "invalid_argument", "percent must be 0..100", "percent");
  }
  ctx.Progress(m.percent(), TruncateText(m.message(), kMaxProgressMessage));
  return {200, "{}"};
}

Reply Children(TaskContext& ctx, const TaskTypes& types, std::string_view body) {
  v1::EnqueueBatchRequest m;
  codec::Decode(codec::Format::kJson, body, m);
  const TaskLimits limits;
  if (m.tasks().empty()) return ErrorReply(400, "invalid_argument", "tasks is empty", "tasks");
  if (static_cast<size_t>(m.tasks_size()) > limits.max_children) {
    return ErrorReply(400, "invalid_argument",
                      "at most " + std::to_string(limits.max_children) + " child tasks per attempt", "tasks");
  }
  // Every child is checked before any is enqueued: a bad one leaves none.
  std::vector<TaskRequest> requests;
  for (int i = 0; i < m.tasks_size(); ++i) {
    const std::string at = "tasks[" + std::to_string(i) + "]";
    try {
      TaskRequest r = codec::ToTaskRequest(m.tasks(i), ctx.Tenant());
      (void)PrepareTask(r, types, limits);
      requests.push_back(std::move(r));
    } catch (const PermanentError& e) {
      return ErrorReply(400, "invalid_argument", at + ": " + e.what(), e.field().empty() ? at : at + "." + e.field());
    }
  }
  Json ids = Json::array();
  for (size_t i = 0; i < requests.size(); ++i) {
    try {
      ids.push_back(ctx.Enqueue(requests[i]));
    } catch (const PermanentError& e) {
      // Only the attempt's own limit can refuse a checked child (its
      // children so far and these past max_children).
      Json error = ErrorJson("invalid_argument", "tasks[" + std::to_string(i) + "]: " + e.what(), "tasks");
      error["ids"] = ids;  // enqueued all the same, with the attempt
      return {400, Dump(error)};
    }
  }
  return {200, Dump(Json{{"ids", ids}})};
}

}  // namespace

Reply ErrorReply(int status, std::string_view code, std::string_view message, std::string_view field) {
  return {status, Dump(ErrorJson(code, message, field))};
}

Reply Route(AttemptTable& attempts, const TaskTypes& types, std::string_view method, std::string_view path,
            std::string_view body) {
  if (!path.starts_with(kAttemptsPath)) return ErrorReply(404, "not_found", "no such path");
  std::string_view rest = path.substr(kAttemptsPath.size());
  const auto slash = rest.find('/');
  const std::string_view token = rest.substr(0, slash);
  const std::string_view call = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (!WellFormedToken(token) || (call != "progress" && call != "children")) {
    return ErrorReply(404, "not_found", "no such path: POST <callback>/progress or <callback>/children");
  }
  if (method != "POST") return ErrorReply(405, "method_not_allowed", "callbacks are POST requests");
  Reply reply;
  try {
    const bool open = attempts.With(token, [&](TaskContext& ctx) {
      reply = call == "progress" ? Progress(ctx, body) : Children(ctx, types, body);
    });
    if (!open) {
      return ErrorReply(410, "gone", "this attempt has ended (or never was): its callbacks are refused");
    }
  } catch (const PermanentError& e) {
    return ErrorReply(400, "invalid_argument", e.what(), e.field());
  } catch (const TransientError& e) {
    return ErrorReply(503, "unavailable", e.what());
  } catch (const std::exception& e) {
    return ErrorReply(500, "internal", e.what());
  }
  return reply;
}

}  // namespace fila::callbacks
