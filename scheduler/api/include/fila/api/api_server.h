#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fila/core/backlog_board.h"
#include "fila/core/metrics.h"
#include "fila/core/task_request.h"
#include "fila/core/task_types.h"
#include "fila/core/tenant_gate.h"

namespace fila {

// How much the API takes on at once; 0 turns a limit off. Past a global
// limit the answer is 503, past a tenant's or a client's share 429, both
// with Retry-After and Connection: close (no body is read).
struct ApiLimits {
  size_t in_flight = 256;            // requests being read or handled, all callers
  size_t in_flight_per_tenant = 64;  // of one tenant (known once its token is checked)
  size_t in_flight_per_client = 64;  // from one client address (a proxy is one client)
  size_t streams = 1000;             // open event streams, all tenants
  size_t streams_per_tenant = 50;    // of one tenant
};

// Single enqueues (POST /v1/tasks) are committed in groups, and refused
// 429 with Retry-After before they reach the database when it falls
// behind (docs/operations.md, "Backpressure"). 0 turns a bound off.
struct ApiBackpressure {
  std::chrono::milliseconds max_commit_latency{250};  // recent group commits slower than this
  int64_t max_backlog = 1000000;                      // tasks queued, not yet started
  size_t max_queued = 4096;   // single enqueues waiting for a group commit (never 0)
  size_t max_group = 256;     // tasks committed together at most
  size_t committers = 2;      // group commits in flight at once
  // The sampler's counts of queued tasks by tenant; null: no backlog bound.
  // Must outlive the server.
  const BacklogBoard* backlog = nullptr;
};

struct ApiOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT
  TaskLimits limits;                       // payload size, timeouts, attempts
  size_t max_body_bytes = 2 * 1024 * 1024; // a whole request body
  uint32_t max_batch = 1000;
  size_t database_connections = 8;
  // Threads of the HTTP server (cpprestsdk's pool, one per process: the
  // first server started sets it; 0 keeps cpprestsdk's 40). Single
  // enqueues hold none while they wait for their group commit; other
  // routes hold one while they query the database. Every thread more is
  // woken for a share of the requests' hand-overs: 16 threads cost the
  // scheduler 40 % more CPU per single enqueue than 4 (docs/operations.md).
  size_t threads = 4;
  // A token is checked against the database at most this often; revoking
  // takes effect within it.
  std::chrono::milliseconds token_cache_ttl{std::chrono::seconds(5)};
  // An event stream ends when its task is terminal, or after this long.
  std::chrono::seconds event_stream_max{std::chrono::hours(1)};
  // A request body must be in within this after its headers (else 408).
  std::chrono::milliseconds body_timeout{std::chrono::seconds(10)};
  ApiLimits admission;
  ApiBackpressure backpressure;
  // The web console's static files at /ui (docs/console.md); off: /ui is 404.
  bool console = true;
};

// The producer and operator HTTP API (/v1, JSON or protobuf). Every call
// needs `Authorization: Bearer <token>`, checked from the headers before
// any body is read; producers see only their tenant's tasks, operators
// all. No request thread waits for a client: bodies are read
// asynchronously within `body_timeout` and `max_body_bytes`. Thread-safe;
// serves on cpprestsdk's thread pool.
class ApiServer final {
 public:
  // `tenants` (bindings and quotas every enqueue is checked against) and
  // `metrics` (default: none recorded) must outlive the server.
  ApiServer(ApiOptions options, std::string database_url, const TaskTypes& types, TenantGate& tenants,
            SchedulerMetrics& metrics = NoSchedulerMetrics());
  ~ApiServer();
  // Starts listening. PermanentError for a malformed address,
  // TransientError when the address cannot be bound.
  void Start();
  // Ends every event stream, answers new requests 503 and waits for the
  // ones being handled; returns within `budget` whatever the clients do.
  // The listener stays open and the server's state allocated (cpprestsdk's
  // continuations may still use it): the process is expected to exit.
  void Stop(std::chrono::milliseconds budget = std::chrono::seconds(10));
  // The port actually bound (useful with port 0).
  uint16_t Port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fila
