#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fila/metrics.h"
#include "fila/task_request.h"
#include "fila/task_types.h"
#include "fila/tenant_gate.h"

namespace fila {

struct ApiOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT
  TaskLimits limits;                       // payload size, timeouts, attempts
  size_t max_body_bytes = 2 * 1024 * 1024; // a whole request body
  uint32_t max_batch = 1000;
  size_t database_connections = 8;
  // A token is checked against the database at most this often; revoking
  // takes effect within it.
  std::chrono::milliseconds token_cache_ttl{std::chrono::seconds(5)};
  // An event stream ends when its task is terminal, or after this long.
  std::chrono::seconds event_stream_max{std::chrono::hours(1)};
};

// The producer and operator HTTP API (/v1, JSON or protobuf). Every call
// needs `Authorization: Bearer <token>`; producers see only their tenant's
// tasks, operators all. Thread-safe; serves on cpprestsdk's thread pool.
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
  void Stop();
  // The port actually bound (useful with port 0).
  uint16_t Port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fila
