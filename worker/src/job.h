#pragma once

// A claimed task on its way to a slot.

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "fila/core/blocking_queue.h"
#include "fila/core/envelope.h"
#include "fila/core/store_types.h"
#include "fila/core/task_types.h"

namespace fila {

// A claimed task waiting for, or running in, a slot.
struct Job {
  Envelope envelope;
  ClaimedTask claim;
  uint64_t epoch = 0;
  uint64_t tag = 0;
};

// Claimed jobs, pushed by the consumer thread, popped by the slots; closed
// when the worker stops.
using JobQueue = BlockingQueue<std::shared_ptr<const Job>>;

// The finish record of an attempt that did not succeed, as core's life cycle
// decides it (DecideEndedAttempt): cancelled when cancellation was requested
// (outcome kCancelled), retried with backoff (scheduled) while attempts
// remain and the error is retryable (not sooner than `retry_after`, when the
// handler named it), else failed or dead.
FinishRecord FailedAttempt(const TaskTypes& types, const std::string& worker_id, const Job& job,
                           Outcome outcome, std::string error, std::string error_kind,
                           bool retryable, std::mt19937_64& rng,
                           std::chrono::milliseconds retry_after = std::chrono::milliseconds(-1));

}  // namespace fila
