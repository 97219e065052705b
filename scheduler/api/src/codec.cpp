#include "fila/api_codec.h"
#include "fila/time_text.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "fila/errors.h"
#include "fila/json_depth.h"

namespace fila::api {
namespace {

namespace pb = google::protobuf;

// protobuf 3.21 words JSON errors as "(field): message" or
// "field: Cannot find field."; the field is reported separately.
std::string FieldOf(const std::string& message) {
  if (!message.empty() && message.front() == '(') {
    auto close = message.find(')');
    if (close != std::string::npos && close > 1) return message.substr(1, close - 1);
  }
  if (auto pos = message.find(": Cannot find field"); pos != std::string::npos && pos > 0) {
    return message.substr(0, pos);
  }
  return {};
}

// Sets the timestamp field only when the time is known (0 means unset).
template <typename Setter>
void SetTime(int64_t unix_ms, Setter&& mutable_field) {
  if (unix_ms != 0) *mutable_field() = pb::util::TimeUtil::MillisecondsToTimestamp(unix_ms);
}

}  // namespace

std::optional<Format> FormatOf(std::string_view content_type, Format when_empty) {
  auto semicolon = content_type.find(';');
  std::string_view base = content_type.substr(0, semicolon);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  if (base.empty()) return when_empty;
  if (base == kJsonType || base == "*/*") return Format::kJson;
  if (base == kProtobufType || base == "application/protobuf") return Format::kProtobuf;
  return std::nullopt;
}

std::string_view ContentType(Format format) {
  return format == Format::kJson ? kJsonType : kProtobufType;
}

void Decode(Format format, std::string_view body, pb::Message& message) {
  if (format == Format::kProtobuf) {
    if (!message.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      throw PermanentError("body is not a valid " + message.GetDescriptor()->full_name() +
                           " protobuf message");
    }
    return;
  }
  CheckJsonDepth(body, kMaxBodyDepth, "invalid JSON for " + message.GetDescriptor()->full_name(), "");
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = pb::util::JsonStringToMessage(pb::StringPiece(body.data(), body.size()), &message,
                                              options);
  if (!status.ok()) {
    std::string text(status.message());
    throw PermanentError("invalid JSON for " + message.GetDescriptor()->full_name() + ": " + text,
                         FieldOf(text));
  }
}

std::string Encode(Format format, const pb::Message& message, bool all_fields) {
  if (format == Format::kProtobuf) return message.SerializeAsString();
  std::string json;
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = all_fields;
  (void)pb::util::MessageToJsonString(message, &json, options);
  return json;
}

v1::TaskState ToProto(TaskState state) {
  switch (state) {
    case TaskState::kBlocked: return v1::TASK_STATE_BLOCKED;
    case TaskState::kQueued: return v1::TASK_STATE_QUEUED;
    case TaskState::kScheduled: return v1::TASK_STATE_SCHEDULED;
    case TaskState::kRunning: return v1::TASK_STATE_RUNNING;
    case TaskState::kSucceeded: return v1::TASK_STATE_SUCCEEDED;
    case TaskState::kFailed: return v1::TASK_STATE_FAILED;
    case TaskState::kDead: return v1::TASK_STATE_DEAD;
    case TaskState::kCancelled: return v1::TASK_STATE_CANCELLED;
  }
  return v1::TASK_STATE_UNSPECIFIED;
}

v1::Task ToProto(const TaskView& v, const TaskTypes& types) {
  v1::Task t;
  t.set_id(v.id);
  t.set_type(v.type);
  t.set_queue(v.queue);
  t.set_priority(v.priority);
  t.set_state(std::string(ToString(v.state)));
  t.set_attempt(v.attempt);
  t.set_max_attempts(v.max_attempts);
  t.set_timeout_ms(v.timeout_ms);
  t.set_tenant(v.tenant);
  t.set_idempotency_key(v.idempotency_key);
  t.set_payload(v.payload);
  t.set_type_version(v.type_version);
  if (types.Contains(v.type, v.type_version)) {
    t.set_payload_json(types.PayloadToJson(v.type, v.payload, v.type_version));
  }
  t.set_trace_id(v.trace_id);
  t.set_worker(v.worker);
  t.set_last_error(v.last_error);
  t.set_result(v.result);
  t.mutable_progress()->set_percent(v.progress);
  t.mutable_progress()->set_message(v.progress_message);
  t.set_cancel_requested(v.cancel_requested);
  t.set_parent_id(v.parent_id);
  t.set_limit_key(v.limit_key);
  for (const auto& d : v.depends_on) t.add_depends_on(d);
  SetTime(v.created_at_ms, [&] { return t.mutable_created_at(); });
  SetTime(v.run_at_ms, [&] { return t.mutable_run_at(); });
  SetTime(v.started_at_ms, [&] { return t.mutable_started_at(); });
  SetTime(v.finished_at_ms, [&] { return t.mutable_finished_at(); });
  for (const auto& a : v.attempts) {
    auto* p = t.add_attempts();
    p->set_attempt(a.attempt);
    p->set_worker(a.worker);
    p->set_outcome(a.outcome);
    p->set_error(a.error);
    p->set_error_kind(a.error_kind);
    SetTime(a.started_at_ms, [&] { return p->mutable_started_at(); });
    SetTime(a.finished_at_ms, [&] { return p->mutable_finished_at(); });
    SetTime(a.retry_at_ms, [&] { return p->mutable_retry_at(); });
  }
  return t;
}

v1::ListWorkersResponse ToProto(const MonitorSnapshot& s) {
  v1::ListWorkersResponse out;
  SetTime(s.taken_at_ms, [&] { return out.mutable_taken_at(); });
  out.set_stale_after_seconds(s.stale_after_seconds);
  out.set_workers_hidden(s.workers_hidden);
  out.set_outbox_rows(s.outbox_rows);
  out.set_outbox_lag_seconds(s.outbox_lag_seconds);
  for (const auto& w : s.workers) {
    auto* p = out.add_workers();
    p->set_id(w.id);
    p->set_hostname(w.hostname);
    p->set_pid(w.pid);
    for (const auto& q : w.queues) p->add_queues(q);
    p->set_concurrency(w.concurrency);
    SetTime(w.started_at_ms, [&] { return p->mutable_started_at(); });
    p->set_heartbeat_age_seconds(w.heartbeat_age_seconds);
    p->set_stale(w.stale);
    p->set_deregistered(w.deregistered);
    p->set_succeeded(w.succeeded);
    p->set_failed(w.failed);
    for (const auto& [queue, n] : w.finished_by_queue) (*p->mutable_finished_by_queue())[queue] = n;
    for (const auto& t : w.running) {
      auto* r = p->add_running();
      r->set_id(t.id);
      r->set_type(t.type);
      r->set_queue(t.queue);
      r->set_attempt(t.attempt);
      r->set_elapsed_seconds(t.elapsed_seconds);
      r->mutable_progress()->set_percent(t.progress);
      r->mutable_progress()->set_message(t.progress_message);
    }
  }
  for (const auto& q : s.queues) {
    auto* p = out.add_queues();
    p->set_queue(q.queue);
    auto& counts = *p->mutable_counts();
    counts["blocked"] = q.blocked;
    counts["queued"] = q.queued;
    counts["scheduled"] = q.scheduled;
    counts["running"] = q.running;
    p->set_oldest_queued_age_seconds(q.oldest_queued_age_seconds);
  }
  return out;
}

static std::optional<int64_t> Positive(uint32_t value) {
  return value == 0 ? std::nullopt : std::optional<int64_t>(value);
}

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
      (void)pb::util::MessageToJsonString(m.args(), &r.payload);
      break;
    case v1::EnqueueRequest::BODY_NOT_SET:
      break;
  }
  return r;
}

}  // namespace fila::api
