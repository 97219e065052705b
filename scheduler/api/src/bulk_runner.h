#pragma once

// Runs the bulk jobs of POST /v1/bulk in the background: one thread with
// its own database connection takes a running job no one holds (a lease,
// so a job of a scheduler that died is taken up by another once its lease
// expires) and applies it batch by batch, each batch one transaction with
// the job's progress (ConsoleStore::BulkStep): never one giant
// transaction, never half a batch.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "fila/core/console_store.h"

namespace fila::api {

struct BulkRunnerOptions {
  uint32_t batch = 500;                          // tasks per transaction
  uint32_t lease_ms = 30000;                     // a job's hold, renewed by every batch
  std::chrono::milliseconds poll{1000};          // looks for jobs this often without a Wake
};

class BulkRunner final {
 public:
  using Factory = std::function<std::unique_ptr<ConsoleStore>()>;
  BulkRunner(Factory factory, BulkRunnerOptions options = {});
  ~BulkRunner();
  void Start();
  // A job was created: look now. Thread-safe.
  void Wake();
  // Stops between two batches and joins.
  void Stop();

 private:
  void Loop();
  // Runs one leased job to its end (or until Stop). False when no job was free.
  bool RunOne(ConsoleStore& store);

  Factory factory_;
  BulkRunnerOptions options_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;   // guarded by mutex_
  bool woken_ = false;  // guarded by mutex_
};

}  // namespace fila::api
