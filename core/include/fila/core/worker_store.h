#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fila/core/store_types.h"

namespace fila {

// What a worker needs of the durable task state: claims, finishes,
// progress, heartbeats and cancel requests, each fenced by attempt.
// Implementations say their thread safety (PostgresStore: one instance per
// owning thread). Connection and serialization failures throw
// TransientError; bad input throws PermanentError.
class WorkerStore {
 public:
  virtual ~WorkerStore() = default;

  // queued -> running for every id still queued, attempt + 1, in one
  // statement. Ids that are not claimable are reported, not thrown.
  virtual ClaimResult Claim(std::span<const std::string> ids, const std::string& worker,
                            uint32_t lease_ms) = 0;
  // Applies finishes in one transaction, each guarded by (id, attempt,
  // state = running). Returns, per record, whether it applied; a stale
  // attempt applies nothing.
  virtual std::vector<bool> Finish(std::span<const FinishRecord> records) = 0;
  // Writes progress of running tasks, each fenced by attempt.
  virtual void RecordProgress(std::span<const ProgressUpdate> updates) = 0;
  // Records the worker as alive and extends the leases of its running
  // tasks among `worker.held`. Returns whether an operator drained the
  // worker (ConsoleStore::DrainWorker): it must take no new task.
  virtual bool Heartbeat(const WorkerInfo& worker, uint32_t lease_ms) = 0;
  // Removes a worker that stopped cleanly.
  virtual void Deregister(const std::string& worker_id) = 0;
  // Running attempts of `worker_id` whose cancellation was requested.
  virtual std::vector<AttemptRef> CancelRequested(const std::string& worker_id) = 0;
};

}  // namespace fila
