// Fault: a handler that fails with transient errors before it succeeds.
//
// 20 `flaky` tasks with fail_times 3, max_attempts 5, retry_base_ms 100,
// retry_cap_ms 400 (scheduler --sweep-interval-ms 50). Each succeeds on
// attempt 4. For each failed attempt i the worker records the retry instant;
// the delay must be full jitter under the exponential ceiling:
//   retry_at - finished_at <= min(cap, base * 2^(i-1))   (+50 ms for clock rounding)
//   retry_at >= started_at of the failed attempt (the worker decides the
//   delay before the finisher commits, so finished_at, the commit's time,
//   may lie after a short delay's retry_at on a loaded machine)
// and attempt i+1 starts at or after retry_at (and soon after it: the
// scheduler releases due tasks every 50 ms). Over the 60 delays the jitter
// must be visible: not constant, and reaching above the previous ceiling.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

class Retry : public FaultTest {};

TEST_F(Retry, FlakyTaskBacksOffUnderTheJitterCeilingAndSucceedsOnAttemptFour) {
  constexpr int kTasks = 20;
  constexpr double kBaseMs = 100, kCapMs = 400, kToleranceMs = 50;
  Enqueue("flaky", R"({"fail_times": 3})", kTasks,
          {.max_attempts = 5, .retry_base_ms = 100, .retry_cap_ms = 400});
  StartScheduler({"--sweep-interval-ms", "50"});
  StartWorker("w1", 8);
  ASSERT_TRUE(WaitAllTerminal(60s)) << Logs();

  EXPECT_EQ(CountState("succeeded"), kTasks);
  EXPECT_EQ(Count("SELECT count(*) FROM tasks WHERE attempt <> 4"), 0);
  const auto rows = db_->Rows(
      "SELECT a.task_id, a.attempt, a.outcome, a.error_kind, "
      "       extract(epoch FROM a.retry_at - a.finished_at) * 1000, "
      "       extract(epoch FROM n.started_at - a.retry_at) * 1000, "
      "       extract(epoch FROM a.retry_at - a.started_at) * 1000 "
      "FROM task_attempts a "
      "LEFT JOIN task_attempts n ON n.task_id = a.task_id AND n.attempt = a.attempt + 1 "
      "ORDER BY a.task_id, a.attempt");
  ASSERT_EQ(rows.size(), static_cast<size_t>(kTasks * 4));

  std::map<int, std::vector<double>> delays;  // by failed attempt number
  for (const auto& row : rows) {
    const int attempt = std::stoi(row[1]);
    SCOPED_TRACE("task " + row[0] + " attempt " + row[1]);
    if (attempt == 4) {
      EXPECT_EQ(row[2], "succeeded");
      EXPECT_EQ(row[4], "") << "retry_at on the successful attempt";
      continue;
    }
    EXPECT_EQ(row[2], "failed");
    EXPECT_EQ(row[3], "transient");
    ASSERT_FALSE(row[4].empty()) << "no retry_at on a failed attempt";
    ASSERT_FALSE(row[5].empty()) << "no next attempt with a start time";
    const double delay = std::stod(row[4]);
    const double ceiling = std::min(kCapMs, kBaseMs * std::pow(2.0, attempt - 1));
    EXPECT_GE(std::stod(row[6]), -1.0) << "retry_at before the failed attempt even started";
    EXPECT_LE(delay, ceiling + kToleranceMs) << "ceiling " << ceiling << " ms";
    const double start_after = std::stod(row[5]);
    EXPECT_GE(start_after, -1.0) << "next attempt started before its retry_at";  // 1 ms: rounding
    EXPECT_LE(start_after, 1000.0) << "next attempt left waiting long after its retry_at";
    delays[attempt].push_back(delay);
  }

  // The jitter is real and the ceiling grows: with delays uniform in
  // [0, 400] ms, all 20 third-retry delays at or below 150 ms (first
  // ceiling + tolerance) has probability 0.375^20, about 3e-9.
  for (auto& [attempt, d] : delays) {
    std::sort(d.begin(), d.end());
    std::printf("  retry after attempt %d: min %.0f ms, median %.0f ms, max %.0f ms (ceiling %.0f ms)\n", attempt,
                d.front(), d[d.size() / 2], d.back(), std::min(kCapMs, kBaseMs * std::pow(2.0, attempt - 1)));
    EXPECT_GT(d.back() - d.front(), 10.0) << "attempt " << attempt << ": no jitter";
  }
  ASSERT_EQ(delays[3].size(), static_cast<size_t>(kTasks));
  EXPECT_GT(delays[3].back(), kBaseMs + kToleranceMs) << "the ceiling did not grow with the attempt";
  ExpectInvariants(kTasks);
}

}  // namespace
}  // namespace fila::fault
