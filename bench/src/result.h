#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fila::bench {

// One row of the table. Absent optionals print as "—".
struct Result {
  enum class Kind {
    kFilaBurnDown, kFilaBacklog, kFilaSteady, kFilaExec, kFilaHttp, kRawBroker, kCelery, kCeleryPg,
    // Issue 21: contention.
    kHttpEnqueue, kE2eSingle, kNoisy, kStarve, kLimitPg, kLimitRaw, kLimitCombined, kPlot
  };

  Kind kind = Kind::kFilaBurnDown;
  std::string label;
  double tasks_per_s = 0;
  std::optional<double> cpu_s_per_1k;  // fila: scheduler + workers; Celery: its worker tree
  std::optional<int64_t> peak_rss_kb;  // largest VmHWM of one worker process
  std::vector<std::string> notes;
  bool failed = false;

  // For the target checks under the table.
  int offered_rate = 0;                // steady: tasks/s asked for
  std::optional<double> p99_ms;        // steady: enqueue -> start
  std::optional<int64_t> idle_rss_kb;  // steady: a worker's VmRSS before its first task
  std::optional<int64_t> end_rss_kb;   // steady: a worker's VmRSS at the end of the run
  int64_t tasks = 0;
  std::optional<double> builtin_tasks_per_s;  // http: the built-in noop's burn-down in the same run
  // The issue's goal for this row's figure ("≥ 4,000 requests/s at p99 ≤
  // 25 ms") and whether this run met it; printed first in the notes.
  std::string goal;
  std::optional<bool> goal_met;
  std::string figure;  // the row's figure when it is not a rate ("p99 12.3 ms")
  std::optional<double> limit_alone;  // limit (a)+(b): the lower of the two alone
};

}  // namespace fila::bench
