#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fila/clock.h"
#include "fila/task_types.h"

namespace fila::api {

// Feeds Server-Sent Events of task changes. One thread LISTENs on the
// fila_task_events channel (one connection for all subscribers), reads a
// changed task once and sends it to everyone watching it. After a
// reconnect it re-reads every watched task, so a missed notification
// never means a missed state. Thread-safe.
class EventHub final {
 public:
  // Writes one chunk of the event stream; `last` ends it. Returns false
  // when the client is gone.
  using Sink = std::function<bool(const std::string& chunk, bool last)>;

  EventHub(std::string database_url, const TaskTypes& types);
  ~EventHub();
  void Start();
  void Stop();
  // Sends the task's state now and at every change until it is terminal
  // (then the stream ends) or `max_duration` passes.
  void Subscribe(const std::string& task_id, Sink sink, std::chrono::seconds max_duration);

 private:
  struct Subscriber {
    Sink sink;
    std::string last_event;
    Deadline expires;
  };
  void Loop();

  std::string database_url_;
  const TaskTypes& types_;
  std::mutex mutex_;
  std::map<std::string, std::vector<Subscriber>> subscribers_;
  std::vector<std::string> fresh_;  // subscribed since the last pass
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace fila::api
