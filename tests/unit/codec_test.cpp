// The codec (fila_codec): every mapping domain -> proto -> wire -> proto ->
// domain, and what it does with bad input.
#include <gtest/gtest.h>

#include <string>

#include "fila/codec/enqueue.h"
#include "fila/codec/monitor.h"
#include "fila/codec/schedules.h"
#include "fila/codec/tasks.h"
#include "fila/codec/tenants.h"
#include "fila/codec/wire.h"
#include "fila/core/errors.h"
#include "fila/core/task_request.h"

namespace fila::codec {
namespace {

// Through both wire forms: JSON (the HTTP API's) and protobuf bytes.
template <typename M>
M ViaJson(const M& m) {
  M out;
  Decode(Format::kJson, Encode(Format::kJson, m), out);
  return out;
}
template <typename M>
M ViaBytes(const M& m) {
  M out;
  Decode(Format::kProtobuf, Encode(Format::kProtobuf, m), out);
  return out;
}

TaskTypes Types() { return TaskTypes::Builtin(TestTypes::kEnabled); }

std::string SleepPayload(int ms) {
  TaskRequest r;
  r.type = "sleep";
  r.payload_form = TaskRequest::PayloadForm::kJson;
  r.payload = R"({"ms": )" + std::to_string(ms) + "}";
  return PrepareTask(r, Types(), TaskLimits{}).payload;
}

// The field PermanentError names when `f` throws it ("<none>" if it does not).
template <typename F>
std::string FieldOfError(F&& f) {
  try {
    f();
  } catch (const PermanentError& e) {
    return e.field();
  }
  return "<none>";
}

TaskView FullTask() {
  TaskView v;
  v.id = "0b0e7c4e-1111-4222-8333-944455556666";
  v.type = "sleep";
  v.queue = "q1";
  v.priority = 7;
  v.state = TaskState::kRunning;
  v.attempt = 2;
  v.max_attempts = 5;
  v.timeout_ms = 1234;
  v.tenant = "acme";
  v.idempotency_key = "key-1";
  v.payload = SleepPayload(25);
  v.trace_id = "trace";
  v.worker = "w-1";
  v.last_error = "boom";
  v.result = std::string("\x01\x00\xff", 3);
  v.progress = 40;
  v.progress_message = "halfway";
  v.created_at_ms = 1700000000123;
  v.run_at_ms = 1700000001000;
  v.started_at_ms = 1700000002000;
  v.finished_at_ms = 0;  // unset stays unset
  v.cancel_requested = true;
  v.parent_id = "0b0e7c4e-0000-4222-8333-944455556666";
  v.limit_key = "acct";
  v.attempts = {{1, "w-0", "failed", "oops", "transient", 1700000001500, 1700000001700, 1700000001900},
                {2, "w-1", "", "", "", 1700000002000, 0, 0}};
  v.depends_on = {"0b0e7c4e-2222-4222-8333-944455556666"};
  return v;
}

void ExpectSameTask(const TaskView& a, const TaskView& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.queue, b.queue);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.timeout_ms, b.timeout_ms);
  EXPECT_EQ(a.tenant, b.tenant);
  EXPECT_EQ(a.idempotency_key, b.idempotency_key);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.trace_id, b.trace_id);
  EXPECT_EQ(a.worker, b.worker);
  EXPECT_EQ(a.last_error, b.last_error);
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(a.progress, b.progress);
  EXPECT_EQ(a.progress_message, b.progress_message);
  EXPECT_EQ(a.created_at_ms, b.created_at_ms);
  EXPECT_EQ(a.run_at_ms, b.run_at_ms);
  EXPECT_EQ(a.started_at_ms, b.started_at_ms);
  EXPECT_EQ(a.finished_at_ms, b.finished_at_ms);
  EXPECT_EQ(a.cancel_requested, b.cancel_requested);
  EXPECT_EQ(a.parent_id, b.parent_id);
  EXPECT_EQ(a.limit_key, b.limit_key);
  EXPECT_EQ(a.type_version, b.type_version);
  EXPECT_EQ(a.depends_on, b.depends_on);
  ASSERT_EQ(a.attempts.size(), b.attempts.size());
  for (size_t i = 0; i < a.attempts.size(); ++i) {
    const auto& x = a.attempts[i];
    const auto& y = b.attempts[i];
    EXPECT_EQ(x.attempt, y.attempt);
    EXPECT_EQ(x.worker, y.worker);
    EXPECT_EQ(x.outcome, y.outcome);
    EXPECT_EQ(x.error, y.error);
    EXPECT_EQ(x.error_kind, y.error_kind);
    EXPECT_EQ(x.started_at_ms, y.started_at_ms);
    EXPECT_EQ(x.finished_at_ms, y.finished_at_ms);
    EXPECT_EQ(x.retry_at_ms, y.retry_at_ms);
  }
}

TEST(CodecWire, FormatOfContentTypes) {
  EXPECT_EQ(FormatOf(""), Format::kJson);
  EXPECT_EQ(FormatOf("", Format::kProtobuf), Format::kProtobuf);
  EXPECT_EQ(FormatOf("application/json; charset=utf-8"), Format::kJson);
  EXPECT_EQ(FormatOf("application/x-protobuf"), Format::kProtobuf);
  EXPECT_EQ(FormatOf("application/protobuf"), Format::kProtobuf);
  EXPECT_EQ(FormatOf("text/plain"), std::nullopt);
  EXPECT_EQ(ContentType(Format::kProtobuf), "application/x-protobuf");
}

TEST(CodecWire, WrongTypeNamesTheField) {
  v1::EnqueueRequest m;
  EXPECT_EQ(FieldOfError([&] { Decode(Format::kJson, R"({"type":"sleep","max_attempts":"many"})", m); }),
            "max_attempts");
  try {
    Decode(Format::kJson, R"({"queue": 5, "type": []})", m);
    FAIL() << "a list is not a string";
  } catch (const PermanentError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("invalid JSON for fila.v1.EnqueueRequest: ", 0), 0u) << e.what();
  }
}

TEST(CodecWire, UnknownFieldsAreErrorsInRequestsOnly) {
  v1::EnqueueRequest m;
  EXPECT_EQ(FieldOfError([&] { Decode(Format::kJson, R"({"type":"sleep","priorty":3})", m); }), "priorty");
  v1::Task t;
  Decode(Format::kJson, R"({"id":"x","added_by_a_newer_server":{"a":1}})", t, Unknown::kIgnore);
  EXPECT_EQ(t.id(), "x");
}

TEST(CodecWire, UnknownEnumNameIsAnError) {
  v1::EnqueueResponse r;
  EXPECT_THROW(Decode(Format::kJson, R"({"id":"x","state":"TASK_STATE_EXPLODED"})", r), PermanentError);
  v1::EnqueueResponse lenient;
  Decode(Format::kJson, R"({"id":"x","state":"TASK_STATE_EXPLODED"})", lenient, Unknown::kIgnore);
  EXPECT_EQ(lenient.id(), "x");
  EXPECT_EQ(FromProto(lenient).state, TaskState::kQueued);
}

TEST(CodecWire, OversizedInputIsRefused) {
  v1::EnqueueRequest m;
  EXPECT_THROW(Decode(Format::kJson, R"({"max_attempts": 5000000000})", m), PermanentError);
  EXPECT_THROW(Decode(Format::kJson, R"({"priority": -1})", m), PermanentError);
  // Deeper than kMaxBodyDepth: refused before protobuf's parser sees it.
  std::string deep = R"({"type":"sleep","args":{"a":)" + std::string(300, '[') + std::string(300, ']') + "}}";
  EXPECT_THROW(Decode(Format::kJson, deep, m), PermanentError);
  EXPECT_THROW(Decode(Format::kProtobuf, std::string("\xff\xff\xff\xff", 4), m), PermanentError);
}

TEST(CodecTasks, TaskRoundTripsThroughBothWireForms) {
  const TaskView v = FullTask();
  const v1::Task p = ToProto(v, Types());
  EXPECT_EQ(p.state(), "running");
  EXPECT_EQ(p.payload_json(), R"({"ms":25,"ignore_cancel":false})");
  EXPECT_FALSE(p.has_finished_at());
  ExpectSameTask(FromProto(ViaJson(p)), v);
  ExpectSameTask(FromProto(ViaBytes(p)), v);
}

TEST(CodecTasks, UnknownTypeHasNoPayloadJson) {
  TaskView v = FullTask();
  v.type = "not.registered";
  EXPECT_EQ(ToProto(v, Types()).payload_json(), "");
}

TEST(CodecTasks, EveryStateRoundTrips) {
  for (TaskState s : {TaskState::kBlocked, TaskState::kQueued, TaskState::kScheduled, TaskState::kRunning,
                      TaskState::kSucceeded, TaskState::kFailed, TaskState::kDead, TaskState::kCancelled}) {
    EXPECT_EQ(FromProto(ToProto(s)), s) << ToString(s);
    EXPECT_EQ(StateFromText(std::string(ToString(s))), s);
  }
  EXPECT_EQ(FromProto(static_cast<v1::TaskState>(99)), TaskState::kQueued);
  EXPECT_EQ(StateFromText("exploded"), TaskState::kQueued);
}

TEST(CodecTasks, TreeNodeAndEnqueueResultRoundTrip) {
  const TaskTreeNode n{"id-1", "sleep", TaskState::kFailed, "id-0", 3, {"id-a", "id-b"}, "bad"};
  const TaskTreeNode back = FromProto(ViaJson(ToProto(n)));
  EXPECT_EQ(back.id, n.id);
  EXPECT_EQ(back.type, n.type);
  EXPECT_EQ(back.state, n.state);
  EXPECT_EQ(back.parent_id, n.parent_id);
  EXPECT_EQ(back.depth, n.depth);
  EXPECT_EQ(back.depends_on, n.depends_on);
  EXPECT_EQ(back.last_error, n.last_error);

  const EnqueueResult r{"id-9", TaskState::kBlocked, false};
  const EnqueueResult r2 = FromProto(ViaJson(ToProto(r)));
  EXPECT_EQ(r2.id, r.id);
  EXPECT_EQ(r2.state, r.state);
  EXPECT_EQ(r2.created, r.created);
}

TEST(CodecTasks, EventCarriesStateProgressAndTime) {
  TaskView v = FullTask();
  const std::string json = Encode(Format::kJson, ToEvent(v, 1700000000123), /*all_fields=*/true);
  EXPECT_EQ(json,
            R"({"id":"0b0e7c4e-1111-4222-8333-944455556666","state":"running",)"
            R"("progress":{"percent":40,"message":"halfway"},"at":"2023-11-14T22:13:20.123Z"})");
}

TaskRequest FullRequest() {
  TaskRequest r;
  r.type = "sleep";
  r.queue = "q1";
  r.priority = 0;  // explicit 0: not the type's default
  r.max_attempts = 4;
  r.timeout_ms = 9000;
  r.retry_base_ms = 50;
  r.retry_cap_ms = 500;
  r.tenant = "acme";
  r.idempotency_key = "k";
  r.trace_id = "t";
  r.run_at_ms = 1700000000000;
  r.delay_ms = 0;
  r.depends_on = {"0b0e7c4e-2222-4222-8333-944455556666"};
  r.limit_key = "acct-1";
  r.limit_concurrency = 2;
  r.limit_rate = 60;
  r.limit_period_ms = 60000;
  r.payload_form = TaskRequest::PayloadForm::kJson;
  r.payload = R"({"ms": 5})";
  return r;
}

TEST(CodecEnqueue, RequestRoundTripsThroughBothWireForms) {
  const TaskRequest r = FullRequest();
  for (const auto& m : {ViaJson(ToProto(r)), ViaBytes(ToProto(r))}) {
    EXPECT_EQ(m.tenant(), "acme");
    const TaskRequest b = ToTaskRequest(m, m.tenant());
    EXPECT_EQ(b.type, r.type);
    EXPECT_EQ(b.queue, r.queue);
    EXPECT_EQ(b.priority, r.priority);
    EXPECT_EQ(b.max_attempts, r.max_attempts);
    EXPECT_EQ(b.timeout_ms, r.timeout_ms);
    EXPECT_EQ(b.retry_base_ms, r.retry_base_ms);
    EXPECT_EQ(b.retry_cap_ms, r.retry_cap_ms);
    EXPECT_EQ(b.tenant, r.tenant);
    EXPECT_EQ(b.idempotency_key, r.idempotency_key);
    EXPECT_EQ(b.trace_id, r.trace_id);
    EXPECT_EQ(b.run_at_ms, r.run_at_ms);
    EXPECT_EQ(b.delay_ms, r.delay_ms);
    EXPECT_EQ(b.depends_on, r.depends_on);
    EXPECT_EQ(b.limit_key, r.limit_key);
    EXPECT_EQ(b.limit_concurrency, r.limit_concurrency);
    EXPECT_EQ(b.limit_rate, r.limit_rate);
    EXPECT_EQ(b.limit_period_ms, r.limit_period_ms);
    EXPECT_EQ(b.payload_form, r.payload_form);
    EXPECT_EQ(b.payload, r.payload);
  }
}

TEST(CodecEnqueue, UnsetOptionsStayUnset) {
  TaskRequest r;
  r.type = "sleep";
  const v1::EnqueueRequest m = ViaJson(ToProto(r));
  EXPECT_FALSE(m.has_priority());
  const TaskRequest b = ToTaskRequest(m, "default");
  EXPECT_FALSE(b.priority);
  EXPECT_FALSE(b.max_attempts);
  EXPECT_FALSE(b.timeout_ms);
  EXPECT_FALSE(b.limit_key);
  EXPECT_EQ(b.payload_form, TaskRequest::PayloadForm::kNone);
}

TEST(CodecEnqueue, ArgsAndRunAtTextAreRead) {
  v1::EnqueueRequest m;
  Decode(Format::kJson, R"({"type":"sleep","args":{"ms":5},"run_at":"2026-12-01T06:00:00-03:00"})", m);
  const TaskRequest r = ToTaskRequest(m, "t");
  EXPECT_EQ(r.payload_form, TaskRequest::PayloadForm::kJson);
  EXPECT_EQ(r.payload, R"({"ms":5})");
  EXPECT_EQ(r.run_at_ms, 1796115600000);
  EXPECT_EQ(r.tenant, "t");
  m.set_run_at_unix_ms(1);
  EXPECT_EQ(FieldOfError([&] { ToTaskRequest(m, "t"); }), "run_at");
  m.set_run_at_unix_ms(0);
  m.set_run_at("tomorrow");
  EXPECT_EQ(FieldOfError([&] { ToTaskRequest(m, "t"); }), "run_at");
}

TEST(CodecEnqueue, ValuesTheMessageCannotCarryAreRefused) {
  auto with = [](auto change) {
    TaskRequest r = FullRequest();
    change(r);
    return FieldOfError([&] { ToProto(r); });
  };
  EXPECT_EQ(with([](TaskRequest& r) { r.max_attempts = 0; }), "max_attempts");
  EXPECT_EQ(with([](TaskRequest& r) { r.timeout_ms = 0; }), "timeout_ms");
  EXPECT_EQ(with([](TaskRequest& r) { r.priority = -1; }), "priority");
  EXPECT_EQ(with([](TaskRequest& r) { r.retry_cap_ms = int64_t{1} << 33; }), "retry_cap_ms");
  EXPECT_EQ(with([](TaskRequest& r) { r.limit_rate = -5; }), "limit_rate");
  EXPECT_EQ(with([](TaskRequest&) {}), "<none>");
}

TEST(CodecEnqueue, PreparedTaskTravelsAsTheRequestItCameFrom) {
  const TaskTypes types = Types();
  const int64_t now = 1700000000000;
  TaskRequest r = FullRequest();
  r.run_at_ms = now + 1000;
  const NewTask task = PrepareTask(r, types, TaskLimits{}, now);
  EXPECT_EQ(task.limit_key, "tenant:acme:acct-1");
  const v1::EnqueueRequest m = ViaJson(ToProto(RequestOf(task)));
  EXPECT_EQ(m.limit_key(), "acct-1");  // as the producer named it
  const NewTask again = PrepareTask(ToTaskRequest(m, m.tenant()), types, TaskLimits{}, now);
  EXPECT_EQ(again.type, task.type);
  EXPECT_EQ(again.queue, task.queue);
  EXPECT_EQ(again.priority, task.priority);
  EXPECT_EQ(again.max_attempts, task.max_attempts);
  EXPECT_EQ(again.timeout_ms, task.timeout_ms);
  EXPECT_EQ(again.retry_base_ms, task.retry_base_ms);
  EXPECT_EQ(again.retry_cap_ms, task.retry_cap_ms);
  EXPECT_EQ(again.tenant, task.tenant);
  EXPECT_EQ(again.idempotency_key, task.idempotency_key);
  EXPECT_EQ(again.payload, task.payload);
  EXPECT_EQ(again.trace_id, task.trace_id);
  EXPECT_EQ(again.run_at_ms, task.run_at_ms);
  EXPECT_EQ(again.depends_on, task.depends_on);
  EXPECT_EQ(again.limit_key, task.limit_key);
  EXPECT_EQ(again.limit, task.limit);
}

TEST(CodecMonitor, SnapshotRoundTrips) {
  MonitorSnapshot s;
  s.taken_at_ms = 1700000000500;
  s.stale_after_seconds = 12.5;
  s.workers_hidden = 3;
  s.outbox_rows = 7;
  s.outbox_lag_seconds = 1.25;
  WorkerView w;
  w.id = "w-1";
  w.hostname = "h";
  w.pid = 42;
  w.queues = {"a", "b"};
  w.concurrency = 8;
  w.started_at_ms = 1700000000000;
  w.heartbeat_age_seconds = 0.5;
  w.stale = true;
  w.deregistered = true;
  w.succeeded = 10;
  w.failed = 2;
  w.finished_by_queue = {{"a", 9}, {"b", 3}};
  w.running = {{"t-1", "sleep", "a", 2, 3.5, 60, "m"}};
  s.workers = {w};
  QueueSample q;
  q.queue = "a";
  q.blocked = 1;
  q.queued = 2;
  q.scheduled = 3;
  q.running = 4;
  q.oldest_queued_age_seconds = 9.5;
  s.queues = {q};
  for (const auto& m : {ViaJson(ToProto(s)), ViaBytes(ToProto(s))}) {
    const MonitorSnapshot b = FromProto(m);
    EXPECT_EQ(b.taken_at_ms, s.taken_at_ms);
    EXPECT_EQ(b.stale_after_seconds, s.stale_after_seconds);
    EXPECT_EQ(b.workers_hidden, s.workers_hidden);
    EXPECT_EQ(b.outbox_rows, s.outbox_rows);
    EXPECT_EQ(b.outbox_lag_seconds, s.outbox_lag_seconds);
    ASSERT_EQ(b.workers.size(), 1u);
    const WorkerView& x = b.workers[0];
    EXPECT_EQ(x.id, w.id);
    EXPECT_EQ(x.hostname, w.hostname);
    EXPECT_EQ(x.pid, w.pid);
    EXPECT_EQ(x.queues, w.queues);
    EXPECT_EQ(x.concurrency, w.concurrency);
    EXPECT_EQ(x.started_at_ms, w.started_at_ms);
    EXPECT_EQ(x.heartbeat_age_seconds, w.heartbeat_age_seconds);
    EXPECT_EQ(x.stale, w.stale);
    EXPECT_EQ(x.deregistered, w.deregistered);
    EXPECT_EQ(x.succeeded, w.succeeded);
    EXPECT_EQ(x.failed, w.failed);
    EXPECT_EQ(x.finished_by_queue, w.finished_by_queue);
    ASSERT_EQ(x.running.size(), 1u);
    EXPECT_EQ(x.running[0].id, "t-1");
    EXPECT_EQ(x.running[0].attempt, 2u);
    EXPECT_EQ(x.running[0].elapsed_seconds, 3.5);
    EXPECT_EQ(x.running[0].progress, 60);
    EXPECT_EQ(x.running[0].progress_message, "m");
    ASSERT_EQ(b.queues.size(), 1u);
    EXPECT_EQ(b.queues[0].queue, "a");
    EXPECT_EQ(b.queues[0].blocked, 1);
    EXPECT_EQ(b.queues[0].queued, 2);
    EXPECT_EQ(b.queues[0].scheduled, 3);
    EXPECT_EQ(b.queues[0].running, 4);
    EXPECT_EQ(b.queues[0].oldest_queued_age_seconds, 9.5);
  }
}

TEST(CodecMonitor, QueueStatusRoundTripsAndUnknownStatesAreLeftOut) {
  QueueStatusView q{"a", {{TaskState::kQueued, 5}, {TaskState::kDead, 2}}, 1.5, 0.25};
  v1::ListQueuesResponse list;
  *list.add_queues() = ToProto(q);
  (*list.mutable_queues(0)->mutable_counts())["exploded"] = 99;
  list = ViaJson(list);
  const QueueStatusView b = FromProto(list.queues(0));
  EXPECT_EQ(b.queue, "a");
  EXPECT_EQ(b.counts, q.counts);
  EXPECT_EQ(b.oldest_queued_age_seconds, 1.5);
  EXPECT_EQ(b.mean_run_seconds, 0.25);
  const auto counts = CountsOf(list);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].queue, "a");
  EXPECT_EQ(counts[0].state, TaskState::kQueued);
  EXPECT_EQ(counts[1].count, 2);
  EXPECT_FALSE(b.paused);
  EXPECT_EQ(b.paused_at_ms, 0);
}

TEST(CodecMonitor, AQueuesPauseRoundTrips) {
  QueueStatusView q{"pdf", {}, 0, 0, true, "token t1", 1700000000123};
  v1::ListQueuesResponse list;
  *list.add_queues() = ToProto(q);
  const QueueStatusView b = FromProto(ViaJson(list).queues(0));
  EXPECT_TRUE(b.paused);
  EXPECT_EQ(b.paused_by, "token t1");
  EXPECT_EQ(b.paused_at_ms, 1700000000123);
}

TEST(CodecSchedules, ScheduleRoundTripsAndItsSlotIsARequest) {
  ScheduleView v;
  v.spec.tenant = "acme";
  v.spec.name = "nightly";
  v.spec.cron = "0 6 * * *";
  v.spec.timezone = "America/Sao_Paulo";
  v.spec.type = "sleep";
  v.spec.queue = "q1";
  v.spec.priority = 3;
  v.spec.payload = SleepPayload(7);
  v.spec.max_attempts = 2;
  v.spec.timeout_ms = 1000;
  v.spec.catch_up = "latest";
  v.paused = true;
  v.next_fire_at_ms = 1700000060000;
  v.last_slot_at_ms = 1700000000000;
  v.last_task_id = "id-7";
  v.fired = 11;
  v.missed = 1;
  const v1::Schedule m = ViaJson(ToProto(v, Types()));
  EXPECT_EQ(m.payload_json(), R"({"ms":7,"ignore_cancel":false})");
  const ScheduleView b = FromProto(m);
  EXPECT_EQ(b.spec.name, v.spec.name);
  EXPECT_EQ(b.spec.cron, v.spec.cron);
  EXPECT_EQ(b.spec.timezone, v.spec.timezone);
  EXPECT_EQ(b.spec.type, v.spec.type);
  EXPECT_EQ(b.spec.queue, v.spec.queue);
  EXPECT_EQ(b.spec.priority, v.spec.priority);
  EXPECT_EQ(b.spec.max_attempts, v.spec.max_attempts);
  EXPECT_EQ(b.spec.timeout_ms, v.spec.timeout_ms);
  EXPECT_EQ(b.spec.catch_up, v.spec.catch_up);
  EXPECT_EQ(b.paused, v.paused);
  EXPECT_EQ(b.next_fire_at_ms, v.next_fire_at_ms);
  EXPECT_EQ(b.last_slot_at_ms, v.last_slot_at_ms);
  EXPECT_EQ(b.last_task_id, v.last_task_id);
  EXPECT_EQ(b.fired, v.fired);
  EXPECT_EQ(b.missed, v.missed);

  const TaskRequest slot = SlotRequest(m, "acme");
  const NewTask task = PrepareTask(slot, Types(), TaskLimits{});
  EXPECT_EQ(task.payload, v.spec.payload);
  EXPECT_EQ(task.priority, 3u);
  EXPECT_EQ(task.max_attempts, 2u);
  EXPECT_EQ(task.tenant, "acme");
}

TEST(CodecTenants, TenantRoundTrips) {
  TenantSettings t;
  t.name = "acme";
  t.exists = true;
  t.bindings = {{"queue", {"a", "b"}}, {"upload_target", {"https://x/"}}};
  t.max_waiting = 0;  // set to 0 is not unset
  t.min_cron_interval_s = 60;
  t.weight = 3;
  for (const auto& m : {ViaJson(ToProto(t)), ViaBytes(ToProto(t))}) {
    const TenantSettings b = FromProto(m);
    EXPECT_EQ(b.name, t.name);
    EXPECT_EQ(b.exists, t.exists);
    EXPECT_EQ(b.bindings, t.bindings);
    EXPECT_EQ(b.max_waiting, t.max_waiting);
    EXPECT_EQ(b.max_schedules, std::nullopt);
    EXPECT_EQ(b.min_cron_interval_s, t.min_cron_interval_s);
    EXPECT_EQ(b.weight, t.weight);
  }
}

}  // namespace
}  // namespace fila::codec
