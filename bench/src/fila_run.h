#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "db.h"
#include "fila/core/state_store.h"
#include "fila/store_postgres/postgres_store.h"
#include "fleet.h"
#include "options.h"
#include "scenarios.h"

// Steps shared by the fila scenarios (burn-down, backlog, steady state).
namespace fila::bench {

// A migrated database and a queue name of one scenario's own.
struct FilaSetup {
  FilaSetup(const Options& options, const std::string& log_dir);
  ScratchDatabase db;
  std::string queue;
};

// Deletes the broker queue of a scenario's fila queue when the scenario
// ends, however it ends (declare it before the Fleet: it runs after the
// daemons are gone).
struct BrokerQueueCleanup {
  std::string amqp_url;
  std::string queue;
  ~BrokerQueueCleanup();
};

// A noop task on `queue` with the type's defaults, as `fila enqueue` makes it.
NewTask NoopTask(const std::string& queue);

// Enqueues `count` copies of `task` in transactions of 1,000 (as `fila
// enqueue --count` and POST /v1/tasks:batch do). Returns the seconds it took.
double EnqueueCopies(PostgresStore& store, const NewTask& task, int64_t count);

// Polls until the relay has published every outbox row, or as many as a
// dispatch window lets it (the count holds for 2 s); returns when the count
// last moved.
std::chrono::steady_clock::time_point AwaitOutboxEmpty(PostgresStore& store, Fleet& fleet,
                                                       const std::string& what);
// Polls until no task of `queue` is queued, scheduled or running. A daemon
// that exits, or no progress for two minutes, is a BenchError.
void AwaitDrained(TaskDb& db, Fleet& fleet, const std::string& queue, int64_t total,
                  const std::string& what);
// BenchError, loudly, unless `expected` tasks of `queue` exist and all
// succeeded: a benchmark that loses tasks must not report a rate. Returns
// how many tasks needed more than one attempt (0 in a healthy run).
int64_t VerifyAllSucceeded(TaskDb& db, const std::string& queue, int64_t expected,
                           const std::string& what);

// "1,234,567"
std::string Thousands(double value);
// "12.3 MiB"
std::string Mib(int64_t kb);

}  // namespace fila::bench
