#include "http_contract.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "fila/core/errors.h"
#include "fila/core/text_limit.h"
#include "fila/core/time_text.h"

namespace fila::http_handler {
namespace {

using Json = nlohmann::json;

// An error's message is one line of an attempt's record, not a document.
constexpr size_t kMaxMessage = 1024;
// A Retry-After beyond this is taken as this.
constexpr double kMaxRetryAfterSeconds = 24 * 3600;

std::string Quoted(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string_view Trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string Answered(long status, std::string_view body) {
  const std::string message = ErrorMessageOf(body);
  return "the HTTP handler answered " + std::to_string(status) + (message.empty() ? "" : ": " + message);
}

}  // namespace

HttpRequest DeliveryRequest(const TaskTypeSpec& spec, const TaskContext& ctx, const std::string& callback_url,
                            int64_t deadline_unix_ms) {
  const std::string deadline = FormatTimestamp(deadline_unix_ms);
  const std::string attempt = std::to_string(ctx.Attempt());
  // The payload goes in as the JSON text the schema renders, not re-parsed.
  std::string body;
  body.reserve(ctx.Payload().size() * 2 + 256);
  body += "{\"id\":" + Quoted(ctx.TaskId());
  body += ",\"type\":" + Quoted(ctx.Type());
  body += ",\"type_version\":" + std::to_string(spec.version);
  body += ",\"attempt\":" + attempt;
  body += ",\"tenant\":" + Quoted(ctx.Tenant());
  body += ",\"payload\":" + PayloadToJson(spec, ctx.Payload());
  body += ",\"deadline\":" + Quoted(deadline);
  body += ",\"callback\":" + Quoted(callback_url);
  body += "}";
  HttpRequest r;
  r.method = "POST";
  r.url = spec.handler.url;
  r.source = UrlSource::kOperator;  // the type's URL is the operator's
  r.headers = {{"Content-Type", "application/json"},
               {"Accept", "application/json"},
               {"Fila-Task-Id", ctx.TaskId()},
               {"Fila-Attempt", attempt},
               {"Fila-Deadline", deadline},
               {"Fila-Type", ctx.Type()},
               // No "Expect: 100-continue" round trip before large bodies.
               {"Expect", ""}};
  r.body = std::move(body);
  return r;
}

std::string ErrorMessageOf(std::string_view body) {
  const std::string_view text = Trimmed(body);
  if (text.empty()) return {};
  // nlohmann's parser keeps its own stack: no recursion on the body's depth.
  const Json j = Json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_object()) {
    for (const char* key : {"error", "message"}) {
      auto it = j.find(key);
      if (it == j.end()) continue;
      if (it->is_string()) return TruncateText(it->get<std::string>(), kMaxMessage);
      if (it->is_object()) {
        auto inner = it->find("message");
        if (inner != it->end() && inner->is_string()) return TruncateText(inner->get<std::string>(), kMaxMessage);
      }
    }
  }
  return TruncateText(text, kMaxMessage);
}

std::string ResultOf(const HttpResponse& response, size_t max_result_bytes) {
  const long status = response.status;
  if (status >= 200 && status < 300) {
    const std::string_view result = Trimmed(response.body);
    if (max_result_bytes > 0 && result.size() > max_result_bytes) {
      throw PermanentError("the HTTP handler's result of " + std::to_string(result.size()) +
                           " bytes is over the type's max_result_bytes of " + std::to_string(max_result_bytes));
    }
    if (!result.empty() && !Json::accept(result.begin(), result.end())) {
      throw PermanentError("the HTTP handler answered " + std::to_string(status) + " with a body that is not JSON (" +
                           std::to_string(response.body.size()) + " bytes): " + TruncateText(result, 200));
    }
    return std::string(result);
  }
  if (status == 408 || status == 409 || status == 429 || (status >= 500 && status < 600)) {
    const double after = RetryAfterSeconds(response);
    if (after >= 0) {
      const auto ms = static_cast<int64_t>(std::ceil(std::min(after, kMaxRetryAfterSeconds) * 1000));
      const std::string asked = TruncateText(response.Header("retry-after"), 64);
      throw RetryLater(Answered(status, response.body) + " (Retry-After: " + asked + ")",
                       std::chrono::milliseconds(ms));
    }
    throw TransientError(Answered(status, response.body));
  }
  if (status >= 400 && status < 500) throw PermanentError(Answered(status, response.body));
  throw PermanentError("the HTTP handler answered " + std::to_string(status) + ", which is not an answer to a task" +
                       " (2xx: done; 4xx: failed; 408, 409, 429, 5xx: try again)");
}

}  // namespace fila::http_handler
