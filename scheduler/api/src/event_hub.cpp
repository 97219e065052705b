#include "event_hub.h"

#include <spdlog/spdlog.h>

#include <set>

#include "fila/codec/tasks.h"
#include "fila/codec/wire.h"
#include "fila/core/backoff.h"
#include "fila/core/clock.h"
#include "fila/core/errors.h"
#include "fila/core/process.h"
#include "fila/store_postgres/postgres_store.h"

namespace fila::api {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kPoll{200};
constexpr std::chrono::seconds kKeepAlive{15};

std::string EventText(const TaskView& task) {
  const v1::TaskEvent event = codec::ToEvent(task, NowUnixMs());
  return "event: task\ndata: " + codec::Encode(codec::Format::kJson, event, /*all_fields=*/true) + "\n\n";
}

// Whether two event texts differ in more than their timestamp.
bool SameState(const std::string& a, const std::string& b) {
  auto cut = [](const std::string& s) { return s.substr(0, s.find("\"at\"")); };
  return !a.empty() && cut(a) == cut(b);
}

// Calls a sink; a sink that throws counts as gone.
bool Call(const EventHub::Sink& sink, const std::string& chunk, bool last) {
  try {
    return sink(chunk, last);
  } catch (const std::exception& e) {
    spdlog::debug("task events: a stream failed: {}", e.what());
    return false;
  }
}

}  // namespace

EventHub::EventHub(std::string database_url, const TaskTypes& types)
    : database_url_(std::move(database_url)), types_(types) {}

EventHub::~EventHub() { Stop(); }

void EventHub::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void EventHub::Stop() {
  std::vector<Joining> joining;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    joining.swap(joining_);
  }
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (auto& j : joining) Call(j.subscriber.sink, "", true);
  for (auto& [id, subs] : subscribers_) {
    for (auto& s : subs) Call(s.sink, "", true);
  }
  subscribers_.clear();
}

void EventHub::Subscribe(const std::string& task_id, Sink sink, std::chrono::seconds max_duration) {
  {
    std::lock_guard lock(mutex_);
    if (!stopped_) {
      joining_.push_back({task_id, {std::move(sink), "", SteadyClock::now() + max_duration}});
      return;
    }
  }
  Call(sink, "", true);
}

void EventHub::Loop() {
  int failures = 0;
  auto next_keepalive = SteadyClock::now() + kKeepAlive;
  std::unique_ptr<PostgresStore> store;
  while (!stop_) {
    try {
      if (!store) {
        auto fresh = std::make_unique<PostgresStore>(database_url_);
        fresh->Listen("fila_task_events");
        store = std::move(fresh);
        for (const auto& [id, subs] : subscribers_) stale_.insert(id);  // missed meanwhile
      }
      Pass(*store, next_keepalive);
      failures = 0;
    } catch (const std::exception& e) {
      // Every error class: the hub must outlive any of them.
      spdlog::warn("task events: {}; retrying", e.what());
      if (dynamic_cast<const TransientError*>(&e) == nullptr) store.reset();
      SleepUnlessStopped(Backoff(failures++, milliseconds(3000)), stop_);
    }
  }
}

void EventHub::Pass(PostgresStore& store, std::chrono::steady_clock::time_point& next_keepalive) {
  for (auto& id : store.AwaitPayloads(kPoll)) stale_.insert(std::move(id));
  const bool missed = store.Reconnected();
  std::vector<Joining> joining;
  {
    std::lock_guard lock(mutex_);
    joining.swap(joining_);
  }
  for (auto& j : joining) {
    stale_.insert(j.task_id);
    subscribers_[j.task_id].push_back(std::move(j.subscriber));
  }
  if (missed) {
    for (const auto& [id, subs] : subscribers_) stale_.insert(id);
  }
  // An id leaves stale_ only once read: a failed read is retried next pass.
  while (!stale_.empty()) {
    const std::string id = *stale_.begin();
    auto found = subscribers_.find(id);
    if (found == subscribers_.end()) {
      stale_.erase(stale_.begin());
      continue;
    }
    auto task = store.GetTask(id);
    stale_.erase(stale_.begin());
    const std::string text = task ? EventText(*task) : "";
    const bool terminal = !task || IsTerminal(task->state);
    std::erase_if(found->second, [&](Subscriber& s) {
      if (!text.empty() && !SameState(s.last_event, text)) {
        if (!Call(s.sink, text, terminal)) return true;
        s.last_event = text;
      } else if (terminal) {
        Call(s.sink, "", true);
      }
      return terminal;
    });
    if (found->second.empty()) subscribers_.erase(found);
  }
  const auto now = SteadyClock::now();
  const bool keepalive = now >= next_keepalive;
  if (keepalive) next_keepalive = now + kKeepAlive;
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    std::erase_if(it->second, [&](Subscriber& s) {
      if (now >= s.expires) {
        Call(s.sink, "", true);
        return true;
      }
      // A comment line keeps proxies from timing out and finds gone
      // clients; between them an empty chunk only checks the reader.
      return !Call(s.sink, keepalive ? ": keep-alive\n\n" : "", false);
    });
    it = it->second.empty() ? subscribers_.erase(it) : std::next(it);
  }
}

}  // namespace fila::api
