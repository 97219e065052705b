#include "fila/core/task_request.h"

#include <algorithm>
#include <cctype>

#include "fila/core/errors.h"
#include "fila/core/tenant.h"
#include "fila/core/uuid.h"

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

// The task's limit: each field from the request when given, else the
// type's. The key is needed only when some limit applies.
void ResolveLimit(const TaskRequest& r, const TaskTypeSpec& spec, NewTask& task) {
  constexpr int64_t kMaxCount = 1000000;
  constexpr int64_t kMaxPeriodMs = 7LL * 24 * 3600 * 1000;
  LimitSpec& limit = task.limit;
  limit = spec.limit;
  if (r.limit_concurrency) {
    limit.max_concurrent =
        InRange(r.limit_concurrency, 0, 0, kMaxCount, "limit_concurrency", "limit concurrency");
  }
  if (r.limit_rate) limit.rate = InRange(r.limit_rate, 0, 0, kMaxCount, "limit_rate", "limit rate");
  if (r.limit_period_ms) {
    limit.period = std::chrono::milliseconds(
        InRange(r.limit_period_ms, 0, 0, kMaxPeriodMs, "limit_period_ms", "limit period (ms)"));
  }
  if (limit.rate > 0 && limit.period.count() == 0) {
    throw PermanentError("a limit rate needs a period", "limit_period_ms");
  }
  if (limit.Empty()) {
    limit = {};
    return;
  }
  if (r.limit_key && !r.limit_key->empty()) {
    CheckText(*r.limit_key, kMaxKeyBytes - 80, "limit_key");
    // A producer's key lives in its tenant's namespace: it can neither
    // delay another tenant's tasks nor the keys of the types and handlers
    // ("<type>:<field value>", and what handlers use with a KeyLimiter).
    task.limit_key = "tenant:" + r.tenant + ":" + *r.limit_key;  // see ProducerLimitKey
  } else if (!spec.limit_key_field.empty()) {
    const std::string value = PayloadField(spec, task.payload, spec.limit_key_field);
    if (value.empty()) {
      throw PermanentError("payload." + spec.limit_key_field + " is needed as the limit key",
                           "payload." + spec.limit_key_field);
    }
    task.limit_key = r.type + ":" + value;
  } else {
    task.limit_key = spec.limit_key.empty() ? r.type : spec.limit_key;
  }
  CheckText(task.limit_key, kMaxKeyBytes, "limit_key");
}

}  // namespace

NewTask PrepareTask(const TaskRequest& r, const TaskTypes& types, const TaskLimits& limits,
                    int64_t now_ms) {
  // One version from here on: a new one registered meanwhile does not mix in.
  const std::shared_ptr<const TaskTypeSpec> held = types.Get(r.type);
  const TaskTypeSpec& spec = *held;
  if (!spec.tenants.empty() && std::find(spec.tenants.begin(), spec.tenants.end(), r.tenant) == spec.tenants.end()) {
    // Another tenant's type does not exist, as far as this one can tell.
    throw PermanentError("unknown task type '" + r.type.substr(0, 128) + "'", "type");
  }
  NewTask task;
  task.type = r.type;
  task.type_version = spec.version;
  task.queue = r.queue.empty() ? spec.default_queue : r.queue;
  ValidateQueueName(task.queue);
  task.priority = InRange(r.priority, spec.default_priority, 0, 9, "priority", "priority");
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
  ValidateTenantName(r.tenant);
  task.tenant = r.tenant;
  CheckText(r.idempotency_key, kMaxKeyBytes, "idempotency_key");
  task.idempotency_key = r.idempotency_key;
  CheckText(r.trace_id, 128, "trace_id");
  task.trace_id = r.trace_id;
  if (r.run_at_ms < 0) throw PermanentError("run_at must not be negative", "run_at_unix_ms");
  if (r.delay_ms < 0 || r.delay_ms > limits.max_delay_ms) {
    throw PermanentError("delay must be between 0 and " + std::to_string(limits.max_delay_ms) +
                             " ms, got " + std::to_string(r.delay_ms),
                         "delay_ms");
  }
  if (r.delay_ms > 0 && r.run_at_ms > 0) {
    throw PermanentError("give a delay or a run_at time, not both", "delay_ms");
  }
  task.run_at_ms = r.delay_ms > 0 ? now_ms + r.delay_ms : r.run_at_ms;
  if (task.run_at_ms > now_ms + limits.max_delay_ms) {
    throw PermanentError("run_at is more than " + std::to_string(limits.max_delay_ms / 86400000) +
                             " days ahead",
                         "run_at_unix_ms");
  }
  if (r.depends_on.size() > limits.max_depends_on) {
    throw PermanentError("more than " + std::to_string(limits.max_depends_on) + " dependencies",
                         "depends_on");
  }
  for (const auto& parent : r.depends_on) {
    if (!IsUuid(parent)) {
      throw PermanentError("depends_on holds '" + parent.substr(0, 64) + "', not a task id",
                           "depends_on");
    }
  }
  task.depends_on = r.depends_on;
  if (r.payload.size() > limits.max_payload_bytes) {
    throw PayloadTooLarge("payload of " + std::to_string(r.payload.size()) +
                              " bytes is over the limit of " +
                              std::to_string(limits.max_payload_bytes),
                          "payload");
  }
  switch (r.payload_form) {
    case TaskRequest::PayloadForm::kNone:
      task.payload = PayloadFromJson(spec, "");
      break;
    case TaskRequest::PayloadForm::kJson:
      task.payload = PayloadFromJson(spec, r.payload);
      break;
    case TaskRequest::PayloadForm::kBytes:
      ValidatePayload(spec, r.payload);
      task.payload = r.payload;
      break;
  }
  if (spec.check) spec.check(task.payload, limits);
  // Stored for the console's `where` filters ("null" when it cannot be
  // shown). A large payload (an inline document) is not copied: it would
  // double the row for a search nobody runs on document text.
  constexpr size_t kMaxArgsJson = 16 * 1024;
  if (std::string json = PayloadToJson(spec, task.payload);
      json.starts_with("{") && json.size() <= kMaxArgsJson &&
      json.find("\\u0000") == std::string::npos) {  // jsonb refuses NUL
    task.args_json = std::move(json);
  }
  ResolveLimit(r, spec, task);
  return task;
}

std::string ProducerLimitKey(const std::string& tenant, const std::string& stored) {
  const std::string prefix = "tenant:" + tenant + ":";
  return stored.rfind(prefix, 0) == 0 ? stored.substr(prefix.size()) : stored;
}

ScheduleSpec ScheduleOf(const NewTask& task, std::string name, std::string cron,
                        std::string timezone, std::string catch_up) {
  ScheduleSpec spec;
  spec.tenant = task.tenant;
  spec.name = std::move(name);
  spec.cron = std::move(cron);
  spec.timezone = timezone.empty() ? "UTC" : std::move(timezone);
  spec.type = task.type;
  spec.queue = task.queue;
  spec.priority = task.priority;
  spec.payload = task.payload;
  spec.max_attempts = task.max_attempts;
  spec.timeout_ms = task.timeout_ms;
  spec.catch_up = catch_up.empty() ? "skip" : std::move(catch_up);
  return spec;
}

}  // namespace fila
