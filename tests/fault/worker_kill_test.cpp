// Fault: workers killed with SIGKILL in the middle of their tasks.
//
// 5,000 `sleep` tasks (5–50 ms each, random per task) run through two
// steady workers and a "victim" worker; the victim is killed with kill -9
// twenty times, each time while it runs tasks, and each time a new one
// takes its place. The scheduler's reaper (--worker-timeout-ms 3000
// --reap-interval-ms 200; workers heartbeat every 500 ms) must notice each
// dead worker and requeue what it was running.
//
// Recovery of one kill = from the kill instant (the database's clock right
// after the SIGKILL) to the moment the last of the tasks that were running
// on the killed worker started its next attempt elsewhere. The test prints
//   [ metric ] kill -9 recovery over 20 kills: median X s, max Y s
// and requires the max to be at most 15 s.
//
// Producers are paced so that at most a few hundred tasks wait in the
// broker: a requeued task goes to the back of its queue, and the figure is
// meant to measure the failure detection and requeue, not the length of a
// backlog.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "fault_fixture.h"
#include "fila/store_postgres/postgres_store.h"

namespace fila::fault {
namespace {

class WorkerKill : public FaultTest {};

struct Kill {
  std::string worker;
  std::string at;  // database clock right after the SIGKILL
  std::vector<std::pair<std::string, std::string>> running;  // (task id, attempt) lost with it
};

TEST_F(WorkerKill, KillNineTwentyTimesLosesNothingAndRecoversQuickly) {
  constexpr int kTasks = 5000;
  constexpr int kKills = 20;
  constexpr int kBacklog = 100;  // tasks queued at most before the producer waits
  const std::vector<std::string> heartbeat{"--heartbeat-interval-ms", "500"};
  std::mt19937 rng(std::random_device{}());

  StartScheduler({"--worker-timeout-ms", "3000", "--reap-interval-ms", "200"});
  StartWorker("steady-1", 1, heartbeat);
  StartWorker("steady-2", 1, heartbeat);

  std::atomic<int> enqueued{0};
  std::atomic<bool> stop_producer{false};
  std::string producer_error;
  std::thread producer([&] {
    try {
      std::mt19937 prng(std::random_device{}());
      PostgresStore store(db_->url());
      // A lost task may be lost again on the next victim: plenty of attempts.
      const TaskOptions options{.max_attempts = 25};
      while (enqueued < kTasks && !stop_producer) {
        if (Count("SELECT count(*) FROM tasks WHERE state = 'queued'") >= kBacklog) {
          std::this_thread::sleep_for(20ms);
          continue;
        }
        std::vector<NewTask> chunk;
        for (int i = 0; i < 50 && enqueued + static_cast<int>(chunk.size()) < kTasks; ++i) {
          const int ms = 5 + static_cast<int>(prng() % 46);  // 5..50
          chunk.push_back(Task("sleep", "{\"ms\": " + std::to_string(ms) + "}", options));
        }
        store.Enqueue(chunk);
        enqueued += static_cast<int>(chunk.size());
      }
    } catch (const std::exception& e) {
      producer_error = e.what();
    }
  });
  struct JoinProducer {
    std::thread& t;
    std::atomic<bool>& stop;
    ~JoinProducer() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join_producer{producer, stop_producer};

  const auto running_on = [&](const std::string& worker) {
    return Count("SELECT count(*) FROM tasks WHERE state = 'running' AND worker = '" + worker + "'");
  };

  std::vector<Kill> kills;
  for (int k = 1; k <= kKills; ++k) {
    const std::string id = "victim-" + std::to_string(k);
    auto& victim = StartWorker(id, 4, heartbeat);
    ASSERT_TRUE(test::WaitFor([&] { return running_on(id) >= 1; }, 30s))
        << id << " never ran a task (enqueued " << enqueued << ")\n" << Logs();
    // Let it work a little (pacing, not an assertion), then kill it while
    // it holds at least three running tasks (of its four slots).
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    ASSERT_TRUE(test::WaitFor([&] { return running_on(id) >= 3; }, 10s)) << id << "\n" << Logs();
    victim.Signal(SIGKILL);
    Kill kill{id, DbNow(), {}};
    const int status = victim.Wait(10s);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << id << " status " << status;
    // The process is gone: whatever is still running under its name was
    // lost with it (the reaper needs 3 s to notice).
    for (const auto& row :
         db_->Rows("SELECT id, attempt FROM tasks WHERE state = 'running' AND worker = '" + id + "'")) {
      kill.running.emplace_back(row[0], row[1]);
    }
    kills.push_back(std::move(kill));
  }
  StartWorker("victim-final", 4, heartbeat);  // the last victim's replacement

  producer.join();
  ASSERT_TRUE(producer_error.empty()) << producer_error;
  ASSERT_EQ(enqueued.load(), kTasks);
  ASSERT_TRUE(WaitAllTerminal(180s))
      << ::testing::PrintToString(db_->Rows("SELECT state, count(*) FROM tasks GROUP BY 1")) << "\n"
      << Logs();

  // Per kill: every task it was running ended as a lost attempt, and
  // started its next attempt elsewhere; recovery is the latest such start.
  std::vector<double> recoveries;
  int64_t lost_total = 0;
  for (const auto& kill : kills) {
    SCOPED_TRACE(kill.worker + " killed at " + kill.at);
    std::string values;
    for (const auto& [id, attempt] : kill.running) {
      values += (values.empty() ? "" : ", ") + std::string("('") + id + "'::uuid, " + attempt + ")";
    }
    EXPECT_FALSE(kill.running.empty()) << "the kill interrupted no task";
    if (values.empty()) continue;
    const auto rows = db_->Rows(
        "WITH lost(id, attempt) AS (VALUES " + values + ") "
        "SELECT l.id, coalesce(a.outcome, '<none>'), "
        "       extract(epoch FROM n.started_at - '" + kill.at + "'::timestamptz) "
        "FROM lost l "
        "LEFT JOIN task_attempts a ON a.task_id = l.id AND a.attempt = l.attempt "
        "LEFT JOIN task_attempts n ON n.task_id = l.id AND n.attempt = l.attempt + 1");
    double recovery = -1;
    for (const auto& row : rows) {
      // A finish that was already on its way to PostgreSQL may still have
      // committed; such a task was not lost.
      if (row[1] == "succeeded") continue;
      EXPECT_EQ(row[1], "lost") << "task " << row[0];
      ++lost_total;
      if (row[2].empty()) {
        ADD_FAILURE() << "task " << row[0] << " has no next attempt with a start time";
        continue;
      }
      recovery = std::max(recovery, std::stod(row[2]));
    }
    if (recovery >= 0) recoveries.push_back(recovery);
    std::printf("  %s: %zu running at the kill, recovered after %.2f s\n", kill.worker.c_str(),
                kill.running.size(), recovery);
  }
  ASSERT_FALSE(recoveries.empty());
  std::sort(recoveries.begin(), recoveries.end());
  const size_t n = recoveries.size();
  const double median = n % 2 ? recoveries[n / 2] : (recoveries[n / 2 - 1] + recoveries[n / 2]) / 2;
  std::printf("[ metric ] kill -9 recovery over %zu kills: median %.2f s, max %.2f s\n", n, median,
              recoveries.back());
  EXPECT_EQ(n, static_cast<size_t>(kKills));
  EXPECT_LE(recoveries.back(), 15.0);

  // Only the victims lost tasks: a live worker's tasks were never reaped,
  // and each lost attempt names the worker that lost it.
  EXPECT_GE(Count("SELECT count(*) FROM task_attempts WHERE outcome = 'lost'"), lost_total);
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE outcome = 'lost' "
                  "AND worker NOT LIKE 'victim-%'"),
            0)
      << ::testing::PrintToString(db_->Rows(
             "SELECT worker, count(*) FROM task_attempts WHERE outcome = 'lost' GROUP BY 1"));
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE worker LIKE 'steady-%' "
                  "AND outcome <> 'succeeded'"),
            0);
  EXPECT_EQ(CountState("succeeded"), kTasks);
  ExpectInvariants(kTasks);
}

}  // namespace
}  // namespace fila::fault
