#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <string>
#include <string_view>

#include "fila/core/clock.h"
#include "fila/core/errors.h"
#include "fila/core/task_request.h"
#include "fila/core/task_types.h"

namespace fila {

// What a handler sees of the task it runs. Owned by the worker runtime;
// valid for the duration of the handler call. Methods are safe to call from
// the handler's thread; Cancelled() may also be polled from helper threads.
class TaskContext {
 public:
  virtual ~TaskContext() = default;
  virtual const std::string& TaskId() const = 0;
  virtual const std::string& Type() const = 0;
  virtual uint32_t Attempt() const = 0;
  virtual const std::string& Payload() const = 0;  // serialized payload message
  // Past this point the attempt has timed out: I/O should use it as its own
  // deadline.
  virtual Deadline TaskDeadline() const = 0;
  // True once the deadline passed, the task was cancelled or the worker is
  // shutting down: the handler should stop soon and throw or return.
  virtual bool Cancelled() const = 0;
  // Waits up to `duration`; returns false early when cancelled.
  virtual bool SleepFor(std::chrono::milliseconds duration) = 0;
  // Reports progress (0..100). Writes are coalesced and fenced by attempt.
  virtual void Progress(int percent, std::string_view message) = 0;
  // The queue the task came from.
  virtual const std::string& Queue() const {
    static const std::string kDefault = "default";
    return kDefault;
  }
  // The tenant that owns the task (its children belong to it too).
  virtual const std::string& Tenant() const {
    static const std::string kDefault = "default";
    return kDefault;
  }
  // Enqueues a child task. It is committed with this attempt's finish, and
  // only if the attempt succeeds: a failed or retried parent leaves no
  // orphans (a retry enqueues its children again). Returns the child's id
  // at once, so a later child may depend on it (fan-in: a join task whose
  // depends_on lists its siblings). Throws PermanentError for a bad request
  // (unknown type, bad payload, ...), as an enqueue would.
  virtual std::string Enqueue(const TaskRequest& /*request*/) {
    throw PermanentError("this task context cannot enqueue child tasks");
  }
  // Runs piece(0) .. piece(count - 1), at most `max_parallel` at once, and
  // returns how many ran to completion once every started piece returned.
  // Bounded parallelism without a thread of the handler's own: the
  // worker's context runs the pieces on a worker-wide pool
  // (FILA_WORKER_PARALLELISM threads), this default runs them one by one
  // on the calling thread. No piece starts once Cancelled() is true or one
  // piece threw; the first exception is rethrown here. Pieces may run on
  // other threads: they may call Cancelled() but not Progress, Enqueue or
  // ForEach; `done(n)` (optional) runs on the calling thread as pieces
  // finish, n of them so far, for Progress.
  virtual size_t ForEach(size_t count, size_t /*max_parallel*/, const std::function<void(size_t)>& piece,
                         const std::function<void(size_t)>& done = {}) {
    size_t n = 0;
    for (; n < count && !Cancelled(); ++n) {
      piece(n);
      if (done) done(n + 1);
    }
    return n;
  }
};

// Runs one task. Returns the result bytes (stored with the task). Throws
// PermanentError for bad input (no retry), TransientError (or anything else)
// for failures worth retrying.
using Handler = std::function<std::string(TaskContext&)>;

// Makes the handler of a type registered as data from its spec: an HTTP
// handler (HandlerSpec::kHttp) or a command (kExec). Thread-safe.
class HandlerFactory {
 public:
  virtual ~HandlerFactory() = default;
  // PermanentError when the spec's kind is not one this factory runs.
  virtual Handler Make(const TaskTypeSpec& spec) = 0;
};

// The handlers of a worker: compiled-in ones by type name, and those of
// registered types made by a factory, once per (type, version).
// Register and SetFactory before the worker runs; For is thread-safe.
class HandlerRegistry final {
 public:
  void Register(std::string type, Handler handler) {
    handlers_.insert_or_assign(std::move(type), std::move(handler));
  }
  // The factory of the registered types whose handler is of `kind`
  // (kHttp, kExec); one per kind, the last one set wins.
  void SetFactory(HandlerSpec::Kind kind, std::shared_ptr<HandlerFactory> factory) {
    factories_[kind] = std::move(factory);
  }
  const Handler* Find(std::string_view type) const {
    auto it = handlers_.find(type);
    return it == handlers_.end() ? nullptr : &it->second;
  }
  // The handler of `spec`: compiled in (kBuiltin) or made by the factory.
  // Null when there is none. PermanentError from the factory propagates.
  std::shared_ptr<const Handler> For(const TaskTypeSpec& spec) const {
    if (spec.handler.kind == HandlerSpec::Kind::kBuiltin) {
      const Handler* h = Find(spec.name);
      return h == nullptr ? nullptr : std::shared_ptr<const Handler>(std::shared_ptr<void>(), h);
    }
    auto factory = factories_.find(spec.handler.kind);
    if (factory == factories_.end() || !factory->second) return nullptr;
    const auto key = std::make_pair(spec.name, spec.version);
    std::lock_guard lock(made_mutex_);
    auto it = made_.find(key);
    if (it == made_.end()) it = made_.emplace(key, std::make_shared<const Handler>(factory->second->Make(spec))).first;
    return it->second;
  }

 private:
  std::map<std::string, Handler, std::less<>> handlers_;
  std::map<HandlerSpec::Kind, std::shared_ptr<HandlerFactory>> factories_;
  mutable std::mutex made_mutex_;
  mutable std::map<std::pair<std::string, uint32_t>, std::shared_ptr<const Handler>> made_;
};

}  // namespace fila
