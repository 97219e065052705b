#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fila/core/clock.h"
#include "fila/core/task_types.h"

namespace fila {
class PostgresStore;
}

namespace fila::api {

// Feeds Server-Sent Events of task changes. One thread LISTENs on the
// fila_task_events channel (one connection for all subscribers), reads a
// changed task once and sends it to everyone watching it. After a
// reconnect it re-reads every watched task, so a missed notification
// never means a missed state.
//
// Only the hub's thread calls sinks, and never with a lock held: a sink
// that is slow cannot stall Subscribe (request threads) or other streams.
// Its loop survives every error (logged, backed off, retried). Thread-safe.
class EventHub final {
 public:
  // Queues one chunk of the event stream; `last` ends it. An empty chunk
  // that is not `last` only asks whether the reader is still there. Must
  // not block. Returns false when the reader is gone or has fallen too far
  // behind: the hub then drops it and never calls the sink again.
  using Sink = std::function<bool(const std::string& chunk, bool last)>;

  EventHub(std::string database_url, const TaskTypes& types);
  ~EventHub();
  void Start();
  // Ends every stream (each sink gets `last`) and the thread. Subscribe
  // after Stop ends the new stream at once.
  void Stop();
  // Sends the task's state now and at every change until it is terminal
  // (then the stream ends) or `max_duration` passes. Never blocks.
  void Subscribe(const std::string& task_id, Sink sink, std::chrono::seconds max_duration);

 private:
  struct Subscriber {
    Sink sink;
    std::string last_event;
    Deadline expires;
  };
  struct Joining {
    std::string task_id;
    Subscriber subscriber;
  };
  void Loop();
  void Pass(PostgresStore& store, std::chrono::steady_clock::time_point& next_keepalive);

  std::string database_url_;
  const TaskTypes& types_;
  std::mutex mutex_;               // guards joining_ and stopped_ only
  std::vector<Joining> joining_;   // subscribed since the last pass
  bool stopped_ = false;
  // Owned by the hub's thread (by Stop once the thread has ended).
  std::map<std::string, std::vector<Subscriber>> subscribers_;
  std::set<std::string> stale_;  // watched tasks to read again
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace fila::api
