#include "event_hub.h"

#include <spdlog/spdlog.h>

#include <google/protobuf/util/time_util.h>

#include <set>

#include "fila/api_codec.h"
#include "fila/errors.h"
#include "fila/postgres_store.h"
#include "fila/process.h"

namespace fila::api {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kPoll{200};
constexpr std::chrono::seconds kKeepAlive{15};

std::string EventText(const TaskView& task) {
  v1::TaskEvent event;
  event.set_id(task.id);
  event.set_state(std::string(ToString(task.state)));
  event.mutable_progress()->set_percent(task.progress);
  event.mutable_progress()->set_message(task.progress_message);
  *event.mutable_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  return "event: task\ndata: " + Encode(Format::kJson, event, /*all_fields=*/true) + "\n\n";
}

// Whether two event texts differ in more than their timestamp.
bool SameState(const std::string& a, const std::string& b) {
  auto cut = [](const std::string& s) { return s.substr(0, s.find("\"at\"")); };
  return !a.empty() && cut(a) == cut(b);
}

}  // namespace

EventHub::EventHub(std::string database_url, const TaskTypes& types)
    : database_url_(std::move(database_url)), types_(types) {}

EventHub::~EventHub() { Stop(); }

void EventHub::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void EventHub::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  for (auto& [id, subs] : subscribers_) {
    for (auto& s : subs) s.sink("", true);
  }
  subscribers_.clear();
}

void EventHub::Subscribe(const std::string& task_id, Sink sink, std::chrono::seconds max_duration) {
  std::lock_guard lock(mutex_);
  subscribers_[task_id].push_back({std::move(sink), "", SteadyClock::now() + max_duration});
  fresh_.push_back(task_id);
}

void EventHub::Loop() {
  PostgresStore store(database_url_);
  store.Listen("fila_task_events");
  int failures = 0;
  auto next_keepalive = SteadyClock::now() + kKeepAlive;
  while (!stop_) {
    try {
      std::set<std::string> changed;
      for (auto& id : store.AwaitPayloads(kPoll)) changed.insert(std::move(id));
      const bool missed = store.Reconnected();
      std::vector<std::string> watched;
      {
        std::lock_guard lock(mutex_);
        for (auto& id : fresh_) changed.insert(std::move(id));
        fresh_.clear();
        for (const auto& [id, subs] : subscribers_) {
          if (missed) changed.insert(id);
          watched.push_back(id);
        }
      }
      for (const auto& id : changed) {
        if (std::find(watched.begin(), watched.end(), id) == watched.end()) continue;
        auto task = store.GetTask(id);
        std::string text = task ? EventText(*task) : "";
        bool terminal = !task || IsTerminal(task->state);
        std::lock_guard lock(mutex_);
        auto& subs = subscribers_[id];
        std::erase_if(subs, [&](Subscriber& s) {
          if (!text.empty() && !SameState(s.last_event, text)) {
            if (!s.sink(text, terminal)) return true;
            s.last_event = text;
          } else if (terminal) {
            s.sink("", true);
          }
          return terminal;
        });
        if (subs.empty()) subscribers_.erase(id);
      }
      const auto now = SteadyClock::now();
      const bool keepalive = now >= next_keepalive;
      if (keepalive) next_keepalive = now + kKeepAlive;
      std::lock_guard lock(mutex_);
      for (auto it = subscribers_.begin(); it != subscribers_.end();) {
        std::erase_if(it->second, [&](Subscriber& s) {
          if (now >= s.expires) {
            s.sink("", true);
            return true;
          }
          // A comment line: keeps proxies from timing out and finds gone clients.
          return keepalive && !s.sink(": keep-alive\n\n", false);
        });
        it = it->second.empty() ? subscribers_.erase(it) : std::next(it);
      }
      failures = 0;
    } catch (const Error& e) {
      spdlog::warn("task events: {}; retrying", e.what());
      SleepUnlessStopped(milliseconds(std::min(100 << std::min(failures++, 5), 3000)), stop_);
    }
  }
}

}  // namespace fila::api
