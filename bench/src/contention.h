#pragma once

#include <string>
#include <vector>

#include "db.h"
#include "http_load.h"
#include "options.h"
#include "result.h"

// The scenarios of issue 21 ("Performance under contention"): enqueue by
// HTTP at rising rates, end to end at a steady rate of single-task HTTP
// enqueues, a noisy neighbour, starvation of low priorities, and the sweep
// behind docs/bench-latency.svg. Tasks go through the scheduler's HTTP API
// with producer tokens; a 429 counts as "refused, retry after" (backpressure),
// not as a failure.
namespace fila::bench {

Result RunHttpEnqueue(const Options& options, const std::string& log_dir);
Result RunE2eSingle(const Options& options, const std::string& log_dir);
Result RunNoisy(const Options& options, const std::string& log_dir);
Result RunStarve(const Options& options, const std::string& log_dir);
// fila and Celery (pg backend) at each of Options::plot_rates; writes
// Options::plot_data when set.
std::vector<Result> RunPlot(const Options& options, const std::string& log_dir);

// One run of single-task HTTP enqueues at `rate` for `seconds` with the
// workers running: enqueue -> start from the database timestamps.
struct E2e {
  HttpLoadResult load;
  TaskDb::Wait wait;
  double sustained = 0;  // accepted ÷ (last finish − first enqueue)
  std::string cpu;
};
E2e RunE2eAt(const Options& options, int rate, double seconds, const std::string& log_dir);

// Celery with its PostgreSQL result backend at `rate` tasks/s for
// `seconds` (celery_bench.py --rate): p99 enqueue -> start in ms.
struct CelerySteady {
  int64_t tasks = 0;
  double achieved = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double cpu_s = 0;
};
CelerySteady RunCelerySteady(const Options& options, int rate, double seconds, const std::string& log_dir);

}  // namespace fila::bench
