#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "fila/core/broker.h"
#include "fila/core/metrics.h"
#include "fila/core/task_admin_store.h"
#include "fila/core/task_request.h"
#include "fila/core/task_types.h"
#include "fila/core/tenant_gate.h"

namespace fila {

struct IngestOptions {
  // Unacked ingest deliveries this replica holds at once; also the most a
  // batch can hold, since deliveries stay unacked until their commit.
  uint16_t prefetch = 256;
  // Deliveries already received are enqueued together, up to this many, in
  // one transaction.
  size_t max_batch = 500;
  TaskLimits limits;
  // How long Run() waits for a delivery before it looks at `stop` again.
  std::chrono::milliseconds poll{500};
  // Backoff between attempts to commit a batch while the database is down.
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{5000};
  // The tenants a request may name (--ingest-tenants); the first is the
  // tenant of a request that names none. Empty: any tenant, and any queue
  // (whoever may publish to fila.ingest is trusted like an operator).
  std::vector<std::string> tenants;
};

// The logical queue AMQP producers publish EnqueueRequests to (RabbitMQ:
// "fila.ingest", also reachable through exchange fila.tasks, key "ingest").
inline constexpr char kIngestQueue[] = "ingest";

// The AMQP front end of fila-scheduler: consumes fila.v1.EnqueueRequest
// messages (protobuf when the content type is application/x-protobuf or
// empty, protobuf JSON mapping when application/json) from the ingest
// queue, validates them like the HTTP API (PrepareTask) and enqueues them,
// then answers each with a fila.v1.EnqueueResponse (same format as the
// request) sent to its reply_to with its correlation_id.
//
// Trust: the tenant is the message's `tenant` field ("default" when empty).
// Unlike HTTP there is no token: whoever may publish to fila.ingest is
// trusted by its broker credentials. With IngestOptions::tenants set, a
// request may name only those tenants (permission_denied otherwise) and
// uses queues as a producer of its tenant would; without, any tenant and
// any queue, like an operator token. Bindings and the waiting-task quota of
// the tenant (`gate`) apply either way (permission_denied,
// resource_exhausted).
//
// Guarantees: a delivery is acked only after its task committed (or after
// it was answered with an error: bad requests are answered, never
// dead-lettered), so a crash or lost connection redelivers it; a producer
// that needs exactly one task per request sets idempotency_key. While the
// database is down the batch is retried with backoff and stays unacked;
// nothing is lost and nothing crashes. Every scheduler replica runs one:
// more replicas, more ingest throughput.
//
// Runs on the calling thread, which owns `consumer` and `store`.
class IngestConsumer final {
 public:
  IngestConsumer(IngestOptions options, Consumer& consumer, TaskAdminStore& store,
                 const TaskTypes& types, TenantGate& gate,
                 SchedulerMetrics& metrics = NoSchedulerMetrics());
  // Subscribes and serves until `stop` is set (or Wakeup() after it was):
  // finishes the batch in hand, then stops consuming. Unacked deliveries go
  // back to the queue when the consumer is destroyed.
  void Run(const std::atomic<bool>& stop);
  // Thread-safe: makes Run() look at `stop` now instead of at its next poll.
  void Wakeup() { consumer_.Wakeup(); }

  uint64_t Enqueued() const { return enqueued_.load(); }  // answered with a task id
  uint64_t Errors() const { return errors_.load(); }      // answered with an error

 private:
  struct Item;

  // Enqueues the valid requests of `batch` in one transaction, retrying
  // while the database is down, then answers and acks every delivery.
  void Process(std::vector<Delivery> batch, const std::atomic<bool>& stop);
  // Commits the prepared tasks of `items` (store_.EnqueueEach: one
  // transaction, a refused request fails alone), retrying
  // TransientError with backoff, and makes their answers. Gives up on a
  // request when `stop` is set while the database is down, or when its
  // delivery went stale on a reconnect: it stays unacked and unanswered.
  void Commit(std::vector<Item>& items, const std::atomic<bool>& stop);
  // Waits out one backoff step, still calling the consumer (heartbeats):
  // deliveries arriving meanwhile are kept in held_ for the next batch.
  void HoldWhileWaiting(std::chrono::milliseconds wait, const std::atomic<bool>& stop);
  // Sends the item's reply, then acks its delivery.
  void Answer(Item& item);

  IngestOptions options_;
  Consumer& consumer_;
  TaskAdminStore& store_;
  const TaskTypes& types_;
  TenantGate& gate_;
  SchedulerMetrics& metrics_;
  std::deque<Delivery> held_;
  uint64_t latest_epoch_ = 0;
  std::atomic<uint64_t> enqueued_{0};
  std::atomic<uint64_t> errors_{0};
};

}  // namespace fila
