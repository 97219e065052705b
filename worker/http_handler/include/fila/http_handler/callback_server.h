#pragma once

// The worker's callback server: how a handler running outside the worker
// (an HTTP sidecar, in any language) reports progress and enqueues child
// tasks while its attempt runs (docs/handlers.md, "HTTP handlers").
//
//   POST <callback>/progress  {"percent": 40, "message": "..."}
//   POST <callback>/children  {"tasks": [EnqueueRequest, ...]}
//
// <callback> is http://HOST:PORT/v1/attempts/<token>, one unguessable token
// per attempt: both calls go through that attempt's own TaskContext, so
// they are fenced by the attempt exactly as TaskContext::Progress and
// TaskContext::Enqueue are. Once the attempt ends its token is dead (410).

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "fila/core/handler.h"
#include "fila/core/task_types.h"

namespace fila {

struct CallbackServerOptions {
  // HOST:PORT, HOST an IP address (IPv6 in brackets) or localhost; port 0
  // picks a free one.
  std::string listen = "127.0.0.1:0";
  // Callbacks served at once; more wait for a thread (in the kernel's
  // accept queue).
  int threads = 4;
  // A larger request body is refused (413) unread.
  size_t max_body_bytes = size_t{4} << 20;
  // The longest a request may take to arrive in full (408 past it).
  std::chrono::milliseconds body_timeout{10000};
};

class CallbackServer final {
 public:
  // Listens at once. Throws PermanentError for a malformed address and
  // TransientError when it cannot listen there. `types` checks children
  // before any is enqueued (the same check as TaskContext::Enqueue); it
  // must outlive the server.
  CallbackServer(CallbackServerOptions options, const TaskTypes& types);
  // Stops serving (waits for callbacks in flight).
  ~CallbackServer();
  CallbackServer(const CallbackServer&) = delete;
  CallbackServer& operator=(const CallbackServer&) = delete;

  // HOST:PORT it listens on (the port it got for port 0).
  const std::string& Address() const;

  // The callbacks of one attempt, open while this object lives. Its
  // destructor closes them and waits for those in flight: after it, no
  // callback touches the context again. Thread-safe.
  class Attempt {
   public:
    virtual ~Attempt() = default;
    // http://HOST:PORT/v1/attempts/<token>: a secret, never logged.
    virtual const std::string& Url() const = 0;
  };
  // Opens the callbacks of the attempt `context` runs. `context` must
  // outlive the returned object.
  std::unique_ptr<Attempt> Open(TaskContext& context);

  // Attempts open now (for tests and metrics).
  size_t OpenAttempts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fila
