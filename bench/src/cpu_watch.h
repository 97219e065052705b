#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

// What bounds a scenario: the CPU seconds (utime + stime from
// /proc/<pid>/stat) each process group spent between Start and Note, next to
// the wall time × the machine's cores.
namespace fila::bench {

class Fleet;

class CpuWatch final {
 public:
  // Groups: fila-scheduler and fila-workers of `fleet` (may be null),
  // PostgreSQL (the postmaster serving `database_url` and its backends),
  // RabbitMQ's beam.smp (from FILA_BENCH_STACK_DIR, which scripts/bench
  // sets, when given) and fila-bench itself (the load generator).
  CpuWatch(const std::string& database_url, const Fleet* fleet);
  // Reads the start figures now (again).
  void Start();
  // "CPU s over 10.2 s wall (2 cores: 20.4 core-s): postgres 6.1, …"; call
  // it before the fleet stops (a dead process has no figures).
  std::string Note() const;

 private:
  std::vector<std::pair<std::string, double>> Read() const;

  const Fleet* fleet_;
  pid_t postmaster_ = 0;
  pid_t rabbitmq_ = 0;
  std::vector<std::pair<std::string, double>> start_;
  std::vector<double> machine_start_;  // /proc/stat's cpu line
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace fila::bench
