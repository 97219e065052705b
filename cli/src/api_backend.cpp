// The CLI's task commands over the HTTP API (api_client.h); the messages
// are read and written by the codec the server uses (fila_codec).
#include "api_client.h"
#include "backend.h"
#include "commands.h"
#include "fila/codec/enqueue.h"
#include "fila/codec/monitor.h"
#include "fila/codec/schedules.h"
#include "fila/codec/tasks.h"
#include "fila/core/errors.h"
#include "fila/http/url.h"
#include "fila/v1/api.pb.h"
#include "fila/v1/task.pb.h"

namespace fila::cli {
namespace {

constexpr size_t kBatch = 1000;

using Reply = ApiClient::Reply;

// `text` without the "tasks[0]" + `separator` the API puts before what it
// says of the first task of a batch.
std::string WithoutIndex(const std::string& text, const std::string& separator) {
  const std::string prefix = "tasks[0]" + separator;
  return text.rfind(prefix, 0) == 0 ? text.substr(prefix.size()) : text;
}

class Api final : public Backend {
 public:
  Api(std::string url, std::string token) : api_(std::move(url), std::move(token)) {}

  std::string Describe() const override { return "API " + api_.Url(); }

  // The request goes as given: the server validates it and fills in the
  // type's defaults (PrepareTask), once.
  std::vector<EnqueueResult> Submit(const TaskRequest& request, uint32_t count) override {
    const v1::EnqueueRequest one = codec::ToProto(request);
    std::vector<v1::EnqueueRequest> all(count, one);
    try {
      return EnqueueBatches(all);
    } catch (const PermanentError& e) {
      // Every task of the batch is the same request: the server's
      // "tasks[0]: " says nothing the user needs (they named one task).
      throw PermanentError(WithoutIndex(e.what(), ": "), WithoutIndex(e.field(), "."));
    }
  }

  std::vector<EnqueueResult> SubmitAll(const std::vector<TaskRequest>& requests) override {
    std::vector<v1::EnqueueRequest> all;
    all.reserve(requests.size());
    for (const TaskRequest& r : requests) all.push_back(codec::ToProto(r));
    return EnqueueBatches(all);
  }

  std::optional<TaskView> Get(const std::string& id) override {
    Reply reply = api_.Call("GET", "/v1/tasks/" + EscapeUrlPart(id));
    if (reply.status == 404) return std::nullopt;
    v1::Task task;
    ApiClient::Parse(ApiClient::Expect(reply, {200}), task);
    return codec::FromProto(task);
  }

  std::vector<TaskView> List(const ListFilter& filter) override {
    std::string query = "?limit=" + std::to_string(std::min<uint32_t>(filter.limit, 1000));
    if (filter.state) query += "&state=" + std::string(ToString(*filter.state));
    if (!filter.type.empty()) query += "&type=" + EscapeUrlPart(filter.type);
    if (!filter.queue.empty()) query += "&queue=" + EscapeUrlPart(filter.queue);
    v1::ListTasksResponse page;
    ApiClient::Parse(ApiClient::Expect(api_.Call("GET", "/v1/tasks" + query), {200}), page);
    std::vector<TaskView> out;
    for (const auto& t : page.tasks()) out.push_back(codec::FromProto(t));
    return out;
  }

  std::vector<QueueStateCount> Counts() override {
    v1::ListQueuesResponse queues;
    ApiClient::Parse(ApiClient::Expect(api_.Call("GET", "/v1/queues"), {200}), queues);
    return codec::CountsOf(queues);
  }

  int64_t CountActive() override {
    int64_t active = 0;
    for (const auto& c : Counts()) {
      if (c.state == TaskState::kQueued || c.state == TaskState::kScheduled || c.state == TaskState::kRunning) {
        active += c.count;
      }
    }
    return active;
  }

  std::vector<TaskTreeNode> Tree(const std::string& id) override {
    Reply reply = api_.Call("GET", "/v1/tasks/" + EscapeUrlPart(id) + "/tree");
    if (reply.status == 404) return {};
    v1::TaskTreeResponse tree;
    ApiClient::Parse(ApiClient::Expect(reply, {200}), tree);
    std::vector<TaskTreeNode> out;
    for (const auto& n : tree.nodes()) out.push_back(codec::FromProto(n));
    return out;
  }

  // The API's schedules are those of the token's tenant: `tenant` is not sent.
  ScheduleView AddSchedule(const ScheduleSpec& spec) override {
    v1::Schedule created;
    ApiClient::Parse(
        ApiClient::Expect(api_.Call("POST", "/v1/schedules", ApiClient::Json(codec::ToRequest(spec, DisplayTypes()))),
                          {200, 201}),
        created);
    return codec::FromProto(created);
  }

  std::vector<ScheduleView> ListSchedules(const std::string& /*tenant*/) override {
    v1::ListSchedulesResponse list;
    ApiClient::Parse(ApiClient::Expect(api_.Call("GET", "/v1/schedules"), {200}), list);
    std::vector<ScheduleView> out;
    for (const auto& s : list.schedules()) out.push_back(codec::FromProto(s));
    return out;
  }

  std::vector<QueueStatusView> Queues() override {
    v1::ListQueuesResponse list;
    ApiClient::Parse(ApiClient::Expect(api_.Call("GET", "/v1/queues"), {200}), list);
    std::vector<QueueStatusView> out;
    for (const auto& q : list.queues()) out.push_back(codec::FromProto(q));
    return out;
  }

  void SetQueuePaused(const std::string& queue, bool paused) override {
    ApiClient::Expect(
        api_.Call("POST", "/v1/queues/" + EscapeUrlPart(queue) + (paused ? ":pause" : ":resume"), "{}"),
        {200});
  }

  bool SetSchedulePaused(const std::string& /*tenant*/, const std::string& name, bool paused) override {
    Reply reply = api_.Call("POST", "/v1/schedules/" + EscapeUrlPart(name) + (paused ? ":pause" : ":resume"), "{}");
    if (reply.status == 404) return false;
    ApiClient::Expect(reply, {200});
    return true;
  }

  bool DeleteSchedule(const std::string& /*tenant*/, const std::string& name) override {
    Reply reply = api_.Call("DELETE", "/v1/schedules/" + EscapeUrlPart(name));
    if (reply.status == 404) return false;
    ApiClient::Expect(reply, {200, 204});
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
    constexpr std::chrono::milliseconds kTimeout{5000};
    v1::ListWorkersResponse workers;
    ApiClient::Parse(ApiClient::Expect(api_.Call("GET", "/v1/workers", "", kTimeout), {200}), workers);
    return codec::FromProto(workers);
  }

 private:
  std::vector<EnqueueResult> EnqueueBatches(const std::vector<v1::EnqueueRequest>& requests) {
    std::vector<EnqueueResult> out;
    for (size_t start = 0; start < requests.size(); start += kBatch) {
      v1::EnqueueBatchRequest batch;
      for (size_t i = start; i < std::min(requests.size(), start + kBatch); ++i) *batch.add_tasks() = requests[i];
      v1::EnqueueBatchResponse response;
      ApiClient::Parse(ApiClient::Expect(api_.Call("POST", "/v1/tasks:batch", ApiClient::Json(batch)), {200, 201}),
                       response);
      for (const auto& r : response.tasks()) out.push_back(codec::FromProto(r));
    }
    return out;
  }

  RequestResult Action(const std::string& id, const std::string& verb) {
    Reply reply = api_.Call("POST", "/v1/tasks/" + EscapeUrlPart(id) + ":" + verb, "{}");
    if (reply.status == 404) return {};
    if (reply.status == 409) {
      auto task = Get(id);
      return {true, false, task ? task->state : TaskState::kQueued};
    }
    v1::Task task;
    ApiClient::Parse(ApiClient::Expect(reply, {200}), task);
    return {true, true, codec::StateFromText(task.state())};
  }

  ApiClient api_;
};

}  // namespace

std::unique_ptr<Backend> ApiBackend(const std::string& api_url, const std::string& token) {
  return std::make_unique<Api>(api_url, token);
}

}  // namespace fila::cli
