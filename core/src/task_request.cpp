#include "fila/task_request.h"

#include "fila/errors.h"

namespace fila {
namespace {

constexpr size_t kMaxKeyBytes = 255;

uint32_t InRange(std::optional<int64_t> value, int64_t fallback, int64_t min, int64_t max,
                 const std::string& field, const std::string& what) {
  int64_t v = value.value_or(fallback);
  if (v < min || v > max) {
    throw PermanentError(what + " must be between " + std::to_string(min) + " and " +
                             std::to_string(max) + ", got " + std::to_string(v),
                         field);
  }
  return static_cast<uint32_t>(v);
}

void CheckText(const std::string& value, size_t max, const std::string& field) {
  if (value.size() > max) {
    throw PermanentError(field + " is longer than " + std::to_string(max) + " bytes", field);
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) throw PermanentError(field + " holds control characters", field);
  }
}

}  // namespace

NewTask PrepareTask(const TaskRequest& r, const TaskTypes& types, const TaskLimits& limits) {
  const TaskTypeSpec& spec = types.Get(r.type);
  NewTask task;
  task.type = r.type;
  task.queue = r.queue.empty() ? spec.default_queue : r.queue;
  ValidateQueueName(task.queue);
  task.priority = InRange(r.priority, 0, 0, 9, "priority", "priority");
  task.max_attempts = InRange(r.max_attempts, spec.retry.max_attempts, 1, limits.max_attempts,
                              "max_attempts", "max attempts");
  task.timeout_ms = InRange(r.timeout_ms, spec.default_timeout.count(), 1, limits.max_timeout_ms,
                            "timeout_ms", "timeout (ms)");
  task.retry_base_ms = InRange(r.retry_base_ms, 0, 0, limits.max_timeout_ms, "retry_base_ms",
                               "retry base (ms)");
  task.retry_cap_ms =
      InRange(r.retry_cap_ms, 0, 0, limits.max_timeout_ms, "retry_cap_ms", "retry cap (ms)");
  if (task.retry_cap_ms > 0 && task.retry_base_ms > task.retry_cap_ms) {
    throw PermanentError("retry base must not exceed the retry cap", "retry_base_ms");
  }
  if (r.tenant.empty()) throw PermanentError("tenant must not be empty", "tenant");
  CheckText(r.tenant, 64, "tenant");
  task.tenant = r.tenant;
  CheckText(r.idempotency_key, kMaxKeyBytes, "idempotency_key");
  task.idempotency_key = r.idempotency_key;
  CheckText(r.trace_id, 128, "trace_id");
  task.trace_id = r.trace_id;
  if (r.run_at_ms < 0) throw PermanentError("run_at must not be negative", "run_at_unix_ms");
  task.run_at_ms = r.run_at_ms;
  if (r.payload.size() > limits.max_payload_bytes) {
    throw PayloadTooLarge("payload of " + std::to_string(r.payload.size()) +
                              " bytes is over the limit of " +
                              std::to_string(limits.max_payload_bytes),
                          "payload");
  }
  switch (r.payload_form) {
    case TaskRequest::PayloadForm::kNone:
      task.payload = types.PayloadFromJson(r.type, "");
      break;
    case TaskRequest::PayloadForm::kJson:
      task.payload = types.PayloadFromJson(r.type, r.payload);
      break;
    case TaskRequest::PayloadForm::kBytes:
      types.ValidatePayload(r.type, r.payload);
      task.payload = r.payload;
      break;
  }
  return task;
}

}  // namespace fila
