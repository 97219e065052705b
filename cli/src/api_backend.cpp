// The CLI's task commands over the HTTP API (libcurl, JSON bodies).
#include <curl/curl.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "backend.h"
#include "commands.h"
#include "fila/errors.h"
#include "fila/postgres_store.h"
#include "fila/task_request.h"
#include "fila/v1/api.pb.h"
#include "fila/v1/task.pb.h"

namespace fila::cli {
namespace {

namespace pb = google::protobuf;

constexpr size_t kBatch = 1000;

struct Reply {
  long status = 0;
  std::string body;
};

size_t Append(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

std::string Escape(const std::string& text) {
  char* escaped = curl_easy_escape(nullptr, text.c_str(), static_cast<int>(text.size()));
  std::string out = escaped ? escaped : "";
  curl_free(escaped);
  return out;
}

int64_t Ms(const pb::Timestamp& t) {
  return t.seconds() == 0 && t.nanos() == 0 ? 0 : pb::util::TimeUtil::TimestampToMilliseconds(t);
}

TaskState StateOf(v1::TaskState state) {
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

TaskView FromProto(const v1::Task& t) {
  TaskView v;
  v.id = t.id();
  v.type = t.type();
  v.type_version = t.type_version();
  v.queue = t.queue();
  v.priority = t.priority();
  v.state = ParseTaskState(t.state()).value_or(TaskState::kQueued);
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
  v.created_at_ms = Ms(t.created_at());
  v.run_at_ms = Ms(t.run_at());
  v.started_at_ms = Ms(t.started_at());
  v.finished_at_ms = Ms(t.finished_at());
  for (const auto& a : t.attempts()) {
    v.attempts.push_back({a.attempt(), a.worker(), a.outcome(), a.error(), a.error_kind(),
                          Ms(a.started_at()), Ms(a.finished_at()), Ms(a.retry_at())});
  }
  return v;
}

MonitorSnapshot FromProto(const v1::ListWorkersResponse& m) {
  MonitorSnapshot s;
  s.taken_at_ms = Ms(m.taken_at());
  s.stale_after_seconds = m.stale_after_seconds();
  s.workers_hidden = m.workers_hidden();
  s.outbox_rows = m.outbox_rows();
  s.outbox_lag_seconds = m.outbox_lag_seconds();
  for (const auto& p : m.workers()) {
    WorkerView w;
    w.id = p.id();
    w.hostname = p.hostname();
    w.pid = p.pid();
    w.queues.assign(p.queues().begin(), p.queues().end());
    w.concurrency = p.concurrency();
    w.started_at_ms = Ms(p.started_at());
    w.heartbeat_age_seconds = p.heartbeat_age_seconds();
    w.stale = p.stale();
    w.deregistered = p.deregistered();
    w.succeeded = p.succeeded();
    w.failed = p.failed();
    w.finished_by_queue.insert(p.finished_by_queue().begin(), p.finished_by_queue().end());
    for (const auto& t : p.running()) {
      w.running.push_back({t.id(), t.type(), t.queue(), t.attempt(), t.elapsed_seconds(),
                           t.progress().percent(), t.progress().message()});
    }
    s.workers.push_back(std::move(w));
  }
  for (const auto& q : m.queues()) {
    QueueSample sample;
    sample.queue = q.queue();
    auto count = [&](const char* state) {
      auto it = q.counts().find(state);
      return it == q.counts().end() ? int64_t{0} : it->second;
    };
    sample.blocked = count("blocked");
    sample.queued = count("queued");
    sample.scheduled = count("scheduled");
    sample.running = count("running");
    sample.oldest_queued_age_seconds = q.oldest_queued_age_seconds();
    s.queues.push_back(std::move(sample));
  }
  return s;
}

class Api final : public Backend {
 public:
  Api(std::string url, std::string token) : url_(std::move(url)), token_(std::move(token)) {
    while (!url_.empty() && url_.back() == '/') url_.pop_back();
    curl_global_init(CURL_GLOBAL_ALL);
  }

  std::string Describe() const override { return "API " + url_; }

  std::vector<EnqueueResult> Enqueue(const std::vector<NewTask>& tasks) override {
    std::vector<EnqueueResult> out;
    for (size_t start = 0; start < tasks.size(); start += kBatch) {
      v1::EnqueueBatchRequest batch;
      for (size_t i = start; i < std::min(tasks.size(), start + kBatch); ++i) {
        const NewTask& t = tasks[i];
        auto* r = batch.add_tasks();
        r->set_type(t.type);
        r->set_queue(t.queue);
        r->set_priority(t.priority);
        r->set_max_attempts(t.max_attempts);
        r->set_timeout_ms(t.timeout_ms);
        r->set_tenant(t.tenant);
        r->set_idempotency_key(t.idempotency_key);
        r->set_payload(t.payload);
        r->set_trace_id(t.trace_id);
        r->set_run_at_unix_ms(t.run_at_ms);
        r->set_retry_base_ms(t.retry_base_ms);
        r->set_retry_cap_ms(t.retry_cap_ms);
        for (const auto& d : t.depends_on) r->add_depends_on(d);
        // As the producer named it (the API puts it in the tenant's
        // namespace); a key the type derived, the API derives again.
        const std::string own = ProducerLimitKey(t.tenant, t.limit_key);
        if (own != t.limit_key) r->set_limit_key(own);
        r->set_limit_concurrency(t.limit.max_concurrent);
        r->set_limit_rate(t.limit.rate);
        r->set_limit_period_ms(static_cast<uint32_t>(t.limit.period.count()));
      }
      v1::EnqueueBatchResponse response;
      Parse(Expect(Call("POST", "/v1/tasks:batch", Json(batch)), {200, 201}), response);
      for (const auto& r : response.tasks()) {
        out.push_back({r.id(), StateOf(r.state()), r.created()});
      }
    }
    return out;
  }

  std::optional<TaskView> Get(const std::string& id) override {
    Reply reply = Call("GET", "/v1/tasks/" + Escape(id));
    if (reply.status == 404) return std::nullopt;
    v1::Task task;
    Parse(Expect(reply, {200}), task);
    return FromProto(task);
  }

  std::vector<TaskView> List(const ListFilter& filter) override {
    std::string query = "?limit=" + std::to_string(std::min<uint32_t>(filter.limit, 1000));
    if (filter.state) query += "&state=" + std::string(ToString(*filter.state));
    if (!filter.type.empty()) query += "&type=" + Escape(filter.type);
    if (!filter.queue.empty()) query += "&queue=" + Escape(filter.queue);
    v1::ListTasksResponse page;
    Parse(Expect(Call("GET", "/v1/tasks" + query), {200}), page);
    std::vector<TaskView> out;
    for (const auto& t : page.tasks()) out.push_back(FromProto(t));
    return out;
  }

  std::vector<QueueStateCount> Counts() override {
    v1::ListQueuesResponse queues;
    Parse(Expect(Call("GET", "/v1/queues"), {200}), queues);
    std::vector<QueueStateCount> out;
    for (const auto& q : queues.queues()) {
      for (const auto& [state, count] : q.counts()) {
        if (auto s = ParseTaskState(state)) out.push_back({q.queue(), *s, count});
      }
    }
    return out;
  }

  int64_t CountActive() override {
    int64_t active = 0;
    for (const auto& c : Counts()) {
      if (c.state == TaskState::kQueued || c.state == TaskState::kScheduled ||
          c.state == TaskState::kRunning) {
        active += c.count;
      }
    }
    return active;
  }

  std::vector<TaskTreeNode> Tree(const std::string& id) override {
    Reply reply = Call("GET", "/v1/tasks/" + Escape(id) + "/tree");
    if (reply.status == 404) return {};
    v1::TaskTreeResponse tree;
    Parse(Expect(reply, {200}), tree);
    std::vector<TaskTreeNode> out;
    for (const auto& n : tree.nodes()) {
      out.push_back({n.id(), n.type(), ParseTaskState(n.state()).value_or(TaskState::kQueued),
                     n.parent_id(), n.depth(), {n.depends_on().begin(), n.depends_on().end()},
                     n.last_error()});
    }
    return out;
  }

  // The API's schedules are those of the token's tenant: `tenant` is not sent.
  ScheduleView AddSchedule(const ScheduleSpec& spec) override {
    v1::Schedule m;
    m.set_name(spec.name);
    m.set_cron(spec.cron);
    m.set_timezone(spec.timezone);
    m.set_type(spec.type);
    m.set_queue(spec.queue);
    m.set_priority(spec.priority);
    m.set_payload_json(PayloadJson(spec));
    m.set_max_attempts(spec.max_attempts);
    m.set_timeout_ms(spec.timeout_ms);
    m.set_catch_up(spec.catch_up);
    v1::Schedule created;
    Parse(Expect(Call("POST", "/v1/schedules", Json(m)), {200, 201}), created);
    return ScheduleFromProto(created);
  }

  std::vector<ScheduleView> ListSchedules(const std::string& /*tenant*/) override {
    v1::ListSchedulesResponse list;
    Parse(Expect(Call("GET", "/v1/schedules"), {200}), list);
    std::vector<ScheduleView> out;
    for (const auto& s : list.schedules()) out.push_back(ScheduleFromProto(s));
    return out;
  }

  bool SetSchedulePaused(const std::string& /*tenant*/, const std::string& name,
                         bool paused) override {
    Reply reply = Call("POST", "/v1/schedules/" + Escape(name) + (paused ? ":pause" : ":resume"), "{}");
    if (reply.status == 404) return false;
    Expect(reply, {200});
    return true;
  }

  bool DeleteSchedule(const std::string& /*tenant*/, const std::string& name) override {
    Reply reply = Call("DELETE", "/v1/schedules/" + Escape(name));
    if (reply.status == 404) return false;
    Expect(reply, {200, 204});
    return true;
  }

  RequestResult Cancel(const std::string& id) override { return Action(id, "cancel"); }
  RequestResult Replay(const std::string& id) override { return Action(id, "retry"); }

  int64_t ReplayDead(const std::string& type) override {
    ListFilter filter;
    filter.state = TaskState::kDead;
    filter.type = type;
    filter.limit = 1000;
    int64_t replayed = 0;
    // Each replayed task leaves the dead state, so the first page refills.
    for (auto page = List(filter); !page.empty(); page = List(filter)) {
      int64_t before = replayed;
      for (const auto& t : page) replayed += Replay(t.id).changed ? 1 : 0;
      if (replayed == before) break;
    }
    return replayed;
  }

  MonitorSnapshot Monitor() override {
    // Short: top refreshes every second and shows a hung server as an error.
    constexpr long kTimeoutMs = 5000;
    v1::ListWorkersResponse workers;
    Parse(Expect(Call("GET", "/v1/workers", "", kTimeoutMs), {200}), workers);
    return FromProto(workers);
  }

 private:
  static std::string PayloadJson(const ScheduleSpec& spec) {
    return DisplayTypes().PayloadToJson(spec.type, spec.payload);
  }

  static ScheduleView ScheduleFromProto(const v1::Schedule& s) {
    ScheduleView v;
    v.spec.name = s.name();
    v.spec.cron = s.cron();
    v.spec.timezone = s.timezone();
    v.spec.type = s.type();
    v.spec.queue = s.queue();
    v.spec.priority = s.priority();
    v.spec.max_attempts = s.max_attempts();
    v.spec.timeout_ms = s.timeout_ms();
    v.spec.catch_up = s.catch_up();
    v.paused = s.paused();
    v.next_fire_at_ms = Ms(s.next_fire_at());
    v.last_slot_at_ms = Ms(s.last_slot_at());
    v.last_task_id = s.last_task_id();
    v.fired = s.fired();
    v.missed = s.missed();
    return v;
  }

  RequestResult Action(const std::string& id, const std::string& verb) {
    Reply reply = Call("POST", "/v1/tasks/" + Escape(id) + ":" + verb, "{}");
    if (reply.status == 404) return {};
    if (reply.status == 409) {
      auto task = Get(id);
      return {true, false, task ? task->state : TaskState::kQueued};
    }
    v1::Task task;
    Parse(Expect(reply, {200}), task);
    return {true, true, ParseTaskState(task.state()).value_or(TaskState::kQueued)};
  }

  static std::string Json(const pb::Message& message) {
    std::string json;
    pb::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    (void)pb::util::MessageToJsonString(message, &json, options);
    return json;
  }

  static void Parse(const Reply& reply, pb::Message& message) {
    pb::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;  // newer servers may add fields
    if (!pb::util::JsonStringToMessage(reply.body, &message, options).ok()) {
      throw TransientError("the API answered with an unreadable body");
    }
  }

  // Turns an error status into the matching fila error.
  const Reply& Expect(const Reply& reply, std::initializer_list<long> ok) const {
    for (long status : ok) {
      if (reply.status == status) return reply;
    }
    v1::ErrorResponse error;
    pb::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    bool parsed = pb::util::JsonStringToMessage(reply.body, &error, options).ok();
    std::string message = parsed && !error.message().empty()
                              ? error.message()
                              : "HTTP " + std::to_string(reply.status);
    if (reply.status == 0 || reply.status == 503 || reply.status >= 500) {
      throw TransientError("API unavailable: " + message);
    }
    throw PermanentError(message, parsed ? error.field() : "");
  }

  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             long timeout_ms = 30000) {
    Reply reply;
    CURL* curl = curl_easy_init();
    if (curl == nullptr) throw TransientError("cannot start an HTTP client");
    std::string auth = "Authorization: Bearer " + token_;
    curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    std::string url = url_ + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // fila top calls from a second thread
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
    if (method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (code != CURLE_OK) {
      throw TransientError(std::string("cannot reach the API: ") + curl_easy_strerror(code));
    }
    return reply;
  }

  std::string url_;
  std::string token_;
};

}  // namespace

std::unique_ptr<Backend> ApiBackend(const std::string& api_url, const std::string& token) {
  return std::make_unique<Api>(api_url, token);
}

}  // namespace fila::cli
