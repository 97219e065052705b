#include "fila/codec/tasks.h"

#include "time_support.h"

namespace fila::codec {

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

TaskState FromProto(v1::TaskState state) {
  switch (state) {
    case v1::TASK_STATE_BLOCKED: return TaskState::kBlocked;
    case v1::TASK_STATE_SCHEDULED: return TaskState::kScheduled;
    case v1::TASK_STATE_RUNNING: return TaskState::kRunning;
    case v1::TASK_STATE_SUCCEEDED: return TaskState::kSucceeded;
    case v1::TASK_STATE_FAILED: return TaskState::kFailed;
    case v1::TASK_STATE_DEAD: return TaskState::kDead;
    case v1::TASK_STATE_CANCELLED: return TaskState::kCancelled;
    default: return TaskState::kQueued;
  }
}

TaskState StateFromText(const std::string& text) { return ParseTaskState(text).value_or(TaskState::kQueued); }

v1::Attempt ToProto(const AttemptView& a) {
  v1::Attempt p;
  p.set_attempt(a.attempt);
  p.set_worker(a.worker);
  p.set_outcome(a.outcome);
  p.set_error(a.error);
  p.set_error_kind(a.error_kind);
  SetTime(a.started_at_ms, [&] { return p.mutable_started_at(); });
  SetTime(a.finished_at_ms, [&] { return p.mutable_finished_at(); });
  SetTime(a.retry_at_ms, [&] { return p.mutable_retry_at(); });
  return p;
}

AttemptView FromProto(const v1::Attempt& a) {
  return {a.attempt(),          a.worker(),           a.outcome(),       a.error(), a.error_kind(),
          Ms(a.started_at()), Ms(a.finished_at()), Ms(a.retry_at())};
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
  for (const auto& a : v.attempts) *t.add_attempts() = ToProto(a);
  return t;
}

TaskView FromProto(const v1::Task& t) {
  TaskView v;
  v.id = t.id();
  v.type = t.type();
  v.type_version = t.type_version();
  v.queue = t.queue();
  v.priority = t.priority();
  v.state = StateFromText(t.state());
  v.attempt = t.attempt();
  v.max_attempts = t.max_attempts();
  v.timeout_ms = t.timeout_ms();
  v.tenant = t.tenant();
  v.idempotency_key = t.idempotency_key();
  v.payload = t.payload();
  v.trace_id = t.trace_id();
  v.worker = t.worker();
  v.last_error = t.last_error();
  v.result = t.result();
  v.progress = t.progress().percent();
  v.progress_message = t.progress().message();
  v.cancel_requested = t.cancel_requested();
  v.parent_id = t.parent_id();
  v.limit_key = t.limit_key();
  v.depends_on.assign(t.depends_on().begin(), t.depends_on().end());
  v.created_at_ms = Ms(t.created_at());
  v.run_at_ms = Ms(t.run_at());
  v.started_at_ms = Ms(t.started_at());
  v.finished_at_ms = Ms(t.finished_at());
  for (const auto& a : t.attempts()) v.attempts.push_back(FromProto(a));
  return v;
}

v1::TaskTreeNode ToProto(const TaskTreeNode& n) {
  v1::TaskTreeNode node;
  node.set_id(n.id);
  node.set_type(n.type);
  node.set_state(std::string(ToString(n.state)));
  node.set_parent_id(n.parent_id);
  node.set_depth(n.depth);
  for (const auto& d : n.depends_on) node.add_depends_on(d);
  node.set_last_error(n.last_error);
  return node;
}

TaskTreeNode FromProto(const v1::TaskTreeNode& n) {
  return {n.id(),    n.type(), StateFromText(n.state()), n.parent_id(), n.depth(), {n.depends_on().begin(), n.depends_on().end()},
          n.last_error()};
}

v1::TaskEvent ToEvent(const TaskView& task, int64_t at_ms) {
  v1::TaskEvent event;
  event.set_id(task.id);
  event.set_state(std::string(ToString(task.state)));
  event.mutable_progress()->set_percent(task.progress);
  event.mutable_progress()->set_message(task.progress_message);
  SetTime(at_ms, [&] { return event.mutable_at(); });
  return event;
}

v1::EnqueueResponse ToProto(const EnqueueResult& result) {
  v1::EnqueueResponse r;
  r.set_id(result.id);
  r.set_state(ToProto(result.state));
  r.set_created(result.created);
  return r;
}

EnqueueResult FromProto(const v1::EnqueueResponse& r) { return {r.id(), FromProto(r.state()), r.created()}; }

v1::Task EnqueuedTask(const EnqueueResult& result, const NewTask& task) {
  v1::Task out;
  out.set_id(result.id);
  out.set_state(std::string(ToString(result.state)));
  out.set_created(result.created);
  out.set_type(task.type);
  out.set_queue(task.queue);
  out.set_priority(task.priority);
  out.set_tenant(task.tenant);
  out.set_idempotency_key(task.idempotency_key);
  return out;
}

}  // namespace fila::codec
