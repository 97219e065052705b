#include "fila/codec/enqueue.h"

#include <google/protobuf/util/json_util.h>

#include <limits>

#include "fila/core/errors.h"
#include "fila/core/time_text.h"

namespace fila::codec {
namespace {

std::optional<int64_t> Positive(uint32_t value) {
  return value == 0 ? std::nullopt : std::optional<int64_t>(value);
}

// A value of an unsigned field whose 0 means "unset" (`min` 1) or is a
// value like any other (`min` 0).
uint32_t Carried(const std::optional<int64_t>& value, int64_t min, const char* field, const char* what) {
  if (!value) return 0;
  constexpr int64_t kMax = std::numeric_limits<uint32_t>::max();
  if (*value < min || *value > kMax) {
    throw PermanentError(std::string(what) + " must be between " + std::to_string(min) + " and " +
                             std::to_string(kMax) + ", got " + std::to_string(*value),
                         field);
  }
  return static_cast<uint32_t>(*value);
}

}  // namespace

TaskRequest ToTaskRequest(const v1::EnqueueRequest& m, std::string tenant) {
  TaskRequest r;
  r.type = m.type();
  r.queue = m.queue();
  if (m.has_priority()) r.priority = m.priority();
  r.max_attempts = Positive(m.max_attempts());
  r.timeout_ms = Positive(m.timeout_ms());
  r.retry_base_ms = Positive(m.retry_base_ms());
  r.retry_cap_ms = Positive(m.retry_cap_ms());
  r.tenant = std::move(tenant);
  r.idempotency_key = m.idempotency_key();
  r.trace_id = m.trace_id();
  r.run_at_ms = m.run_at_unix_ms();
  if (!m.run_at().empty()) {
    if (r.run_at_ms != 0) throw PermanentError("give run_at or run_at_unix_ms, not both", "run_at");
    r.run_at_ms = ParseTimestamp(m.run_at(), "run_at");
  }
  r.delay_ms = m.delay_ms();
  r.depends_on.assign(m.depends_on().begin(), m.depends_on().end());
  if (!m.limit_key().empty()) r.limit_key = m.limit_key();
  if (m.limit_concurrency() > 0) r.limit_concurrency = m.limit_concurrency();
  if (m.limit_rate() > 0) r.limit_rate = m.limit_rate();
  if (m.limit_period_ms() > 0) r.limit_period_ms = m.limit_period_ms();
  switch (m.body_case()) {
    case v1::EnqueueRequest::kPayload:
      r.payload_form = TaskRequest::PayloadForm::kBytes;
      r.payload = m.payload();
      break;
    case v1::EnqueueRequest::kPayloadJson:
      r.payload_form = TaskRequest::PayloadForm::kJson;
      r.payload = m.payload_json();
      break;
    case v1::EnqueueRequest::kArgs:
      r.payload_form = TaskRequest::PayloadForm::kJson;
      (void)google::protobuf::util::MessageToJsonString(m.args(), &r.payload);
      break;
    case v1::EnqueueRequest::BODY_NOT_SET:
      break;
  }
  return r;
}

v1::EnqueueRequest ToProto(const TaskRequest& r) {
  v1::EnqueueRequest m;
  m.set_type(r.type);
  m.set_queue(r.queue);
  if (r.priority) m.set_priority(Carried(r.priority, 0, "priority", "priority"));
  m.set_max_attempts(Carried(r.max_attempts, 1, "max_attempts", "max attempts"));
  m.set_timeout_ms(Carried(r.timeout_ms, 1, "timeout_ms", "timeout (ms)"));
  m.set_retry_base_ms(Carried(r.retry_base_ms, 0, "retry_base_ms", "retry base (ms)"));
  m.set_retry_cap_ms(Carried(r.retry_cap_ms, 0, "retry_cap_ms", "retry cap (ms)"));
  m.set_tenant(r.tenant);
  m.set_idempotency_key(r.idempotency_key);
  m.set_trace_id(r.trace_id);
  m.set_run_at_unix_ms(r.run_at_ms);
  m.set_delay_ms(r.delay_ms);
  for (const auto& d : r.depends_on) m.add_depends_on(d);
  if (r.limit_key) m.set_limit_key(*r.limit_key);
  m.set_limit_concurrency(Carried(r.limit_concurrency, 0, "limit_concurrency", "limit concurrency"));
  m.set_limit_rate(Carried(r.limit_rate, 0, "limit_rate", "limit rate"));
  m.set_limit_period_ms(Carried(r.limit_period_ms, 0, "limit_period_ms", "limit period (ms)"));
  switch (r.payload_form) {
    case TaskRequest::PayloadForm::kBytes: m.set_payload(r.payload); break;
    case TaskRequest::PayloadForm::kJson: m.set_payload_json(r.payload); break;
    case TaskRequest::PayloadForm::kNone: break;
  }
  return m;
}

TaskRequest RequestOf(const NewTask& t) {
  TaskRequest r;
  r.type = t.type;
  r.queue = t.queue;
  r.priority = t.priority;
  r.max_attempts = t.max_attempts;
  r.timeout_ms = t.timeout_ms;
  if (t.retry_base_ms > 0) r.retry_base_ms = t.retry_base_ms;
  if (t.retry_cap_ms > 0) r.retry_cap_ms = t.retry_cap_ms;
  r.tenant = t.tenant;
  r.idempotency_key = t.idempotency_key;
  r.trace_id = t.trace_id;
  r.run_at_ms = t.run_at_ms;
  r.depends_on = t.depends_on;
  // As the producer named it (PrepareTask puts it in the tenant's
  // namespace again); a key the type derived, PrepareTask derives again.
  if (const std::string own = ProducerLimitKey(t.tenant, t.limit_key); own != t.limit_key) r.limit_key = own;
  if (t.limit.max_concurrent > 0) r.limit_concurrency = t.limit.max_concurrent;
  if (t.limit.rate > 0) r.limit_rate = t.limit.rate;
  if (t.limit.period.count() > 0) r.limit_period_ms = t.limit.period.count();
  r.payload_form = TaskRequest::PayloadForm::kBytes;
  r.payload = t.payload;
  return r;
}

}  // namespace fila::codec
