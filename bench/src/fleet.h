#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "options.h"
#include "procs.h"

namespace fila::bench {

// The fila daemons of one scenario, all on its database and queue: one
// fila-scheduler (outbox relay only: no HTTP API, no ingest, no metrics)
// and Options::workers fila-workers with Options::concurrency slots each.
// Destroying it kills whatever still runs.
class Fleet final {
 public:
  Fleet(const Options& options, std::string database_url, std::string queue, std::string log_dir);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  void StartScheduler();
  // The same with the HTTP API on a free loopback port; returns its URL
  // (http://127.0.0.1:PORT). Ready once a token's GET /v1/queues answers.
  std::string StartSchedulerWithApi();
  void StartWorkers();
  pid_t scheduler_pid() const { return scheduler_ ? scheduler_->pid() : 0; }
  std::vector<pid_t> worker_pids() const;
  // BenchError, with the daemon's log tail, when one has exited.
  void CheckAlive();

  struct Usage {
    double scheduler_cpu_s = 0;
    double workers_cpu_s = 0;
    int64_t worker_peak_rss_kb = 0;  // max VmHWM over the workers
    int64_t worker_rss_kb = 0;       // max VmRSS over the workers, now
  };
  // From /proc, now (call it before Stop: the figures die with the process).
  Usage Sample();
  // SIGTERM, workers first (they drain), then the scheduler. BenchError
  // when one exits non-zero.
  void Stop();

 private:
  EnvVars Env() const;
  void SpawnScheduler(EnvVars env);

  const Options& options_;
  std::string database_url_;
  std::string queue_;
  std::string log_dir_;
  std::unique_ptr<Child> scheduler_;
  std::vector<std::unique_ptr<Child>> workers_;
};

}  // namespace fila::bench
