// Tasks waiting for a per-key limit start when the key frees up.
//
// 30 `sleep` tasks (200 ms) share one key with a concurrency of 1, on two
// workers of 2 slots each. One runs at a time; the others wait in
// PostgreSQL. The test measures, for each task but the first, the time
// from the end of the previous attempt of the key to its own start (the
// attempts' recorded times), and counts the messages the scheduler
// published: a waiting task that is put back in the queue to look again
// costs a publish, a delivery and a claim each time.
#include <signal.h>

#include <algorithm>
#include <cstdio>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

class LimitWake : public FaultTest {};

// "scheduler stopped: published N messages" -> N, or -1.
int64_t Published(const std::string& log) {
  const std::string marker = "scheduler stopped: published ";
  const auto pos = log.rfind(marker);
  if (pos == std::string::npos) return -1;
  return std::stoll(log.substr(pos + marker.size()));
}

TEST_F(LimitWake, AFreedKeyStartsItsNextWaitingTaskAtOnce) {
  constexpr int kTasks = 30;
  NewTask t = Task("sleep", R"({"ms": 200})", {.max_attempts = 1});
  t.limit_key = "wake-test";
  t.limit.max_concurrent = 1;
  auto& scheduler = StartScheduler();
  auto& w1 = StartWorker("w1", 2);
  auto& w2 = StartWorker("w2", 2);
  Enqueue(std::vector<NewTask>(kTasks, t));
  ASSERT_TRUE(WaitAllTerminal(60s)) << Logs();
  EXPECT_EQ(CountState("succeeded"), kTasks) << Logs();
  ExpectInvariants(kTasks);

  // Never two at once (by the recorded times).
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts a JOIN task_attempts b ON a.task_id < b.task_id"
                  " AND a.started_at < b.finished_at AND b.started_at < a.finished_at"),
            0);
  // From the end of one attempt to the start of the next, in ms.
  std::vector<double> gaps;
  for (const auto& row : db_->Rows(
           "SELECT extract(epoch FROM started_at - lag(finished_at) OVER (ORDER BY started_at)) * 1000"
           " FROM task_attempts ORDER BY started_at")) {
    if (!row[0].empty()) gaps.push_back(std::stod(row[0]));
  }
  ASSERT_EQ(gaps.size(), static_cast<size_t>(kTasks - 1));
  std::sort(gaps.begin(), gaps.end());
  const double median = gaps[gaps.size() / 2];
  const double p90 = gaps[gaps.size() * 9 / 10];
  const double max = gaps.back();

  for (auto* p : {&w1, &w2, &scheduler}) p->Signal(SIGTERM);
  for (auto* p : {&w1, &w2, &scheduler}) EXPECT_EQ(p->Wait(30s), 0) << Logs();
  const int64_t published = Published(scheduler.Stderr());
  std::printf("[ metric ] limit key freed -> next waiting task started: median %.0f ms, p90 %.0f ms, "
              "max %.0f ms (%d tasks, concurrency 1)\n",
              median, p90, max, kTasks);
  std::printf("[ metric ] messages published for %d limited tasks: %lld\n", kTasks,
              static_cast<long long>(published));
  EXPECT_LT(median, 100);
  EXPECT_LT(max, 1000);
  // Each task once, and each wake once more at most.
  EXPECT_LE(published, 2 * kTasks);
}

}  // namespace
}  // namespace fila::fault
