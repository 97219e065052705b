// Delayed tasks, cron schedules and leader election, through real
// PostgreSQL, RabbitMQ and fila processes.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <thread>

#include "fila/core/clock.h"
#include "fila/core/time_text.h"
#include "workflow_fixture.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;
using Scheduling = WorkflowTest;

TEST_F(Scheduling, ThousandDelayedTasksStartOnTime) {
  auto scheduler = Scheduler();
  auto w1 = Worker("delay-a", 8);
  auto w2 = Worker("delay-b", 8);
  // Test probe: when each task was released (scheduled -> queued).
  db_->Exec(
      "CREATE TABLE released (id uuid, at timestamptz);"
      "CREATE FUNCTION probe_release() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "INSERT INTO released VALUES (NEW.id, clock_timestamp()); RETURN NULL; END $$;"
      "CREATE TRIGGER probe_release AFTER UPDATE OF state ON tasks FOR EACH ROW "
      "WHEN (OLD.state = 'scheduled' AND NEW.state = 'queued') EXECUTE FUNCTION probe_release()");
  // 1,000 tasks due over 2 s, starting 2 s from now, spread 2 ms apart.
  const int64_t start = NowUnixMs() + 2000;
  db_->Exec(
      "INSERT INTO tasks (type, queue, priority, state, max_attempts, timeout_ms, run_at) "
      "SELECT 'noop', '" + queue_ + "', 0, 'scheduled', 1, 10000, "
      "to_timestamp((" + std::to_string(start) + " + g * 2) / 1000.0) FROM generate_series(0, 999) g");
  ASSERT_TRUE(WaitAllTerminal(60s));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE state = 'succeeded'"), 1000);
  // Lateness: from the due time to the start of the attempt (release,
  // publish, delivery and claim).
  auto percentile = [&](double p, const std::string& from) {
    return std::stod(db_->Scalar(
        "SELECT percentile_cont(" + std::to_string(p) + ") WITHIN GROUP (ORDER BY extract(epoch FROM " +
        from + " - t.run_at) * 1000) FROM tasks t JOIN released r ON r.id = t.id"));
  };
  ASSERT_EQ(db_->Count("SELECT count(*) FROM released"), 1000);
  const double release_p50 = percentile(0.5, "r.at");
  const double release_p99 = percentile(0.99, "r.at");
  const double p50 = percentile(0.5, "t.started_at");
  const double p99 = percentile(0.99, "t.started_at");
  const double max = percentile(1.0, "t.started_at");
  std::cout << "delay lateness over 1000 tasks: released p50 " << release_p50 << " ms, p99 "
            << release_p99 << " ms; started p50 " << p50 << " ms, p99 " << p99 << " ms, max "
            << max << " ms\n";
  RecordProperty("release_lateness_p99_ms", std::to_string(release_p99));
  RecordProperty("start_lateness_p99_ms", std::to_string(p99));
  EXPECT_LT(release_p99, 100.0);
  EXPECT_GE(std::stod(db_->Scalar("SELECT min(extract(epoch FROM started_at - run_at)) FROM tasks")),
            0.0)
      << "a task started before it was due";
  EXPECT_LT(p99, 250.0);
}

TEST_F(Scheduling, DelayAndAtFromTheCommandLine) {
  auto scheduler = Scheduler();
  auto worker = Worker("delay-cli", 2);
  const std::string delayed = Enqueue("noop", "{}", {"--delay", "1500ms"});
  const std::string at = Enqueue("noop", "{}", {"--at", FormatTimestamp(NowUnixMs() + 3000)});
  EXPECT_EQ(State(delayed), "scheduled");
  EXPECT_EQ(State(at), "scheduled");
  ASSERT_TRUE(WaitAllTerminal(30s));
  // run_at is the CLI's clock + 1.5 s; created_at the commit's time, a
  // little later on a loaded machine.
  EXPECT_GE(std::stod(db_->Scalar("SELECT extract(epoch FROM run_at - created_at) FROM tasks "
                                  "WHERE id = '" + delayed + "'")),
            1.0);
  EXPECT_GE(std::stod(db_->Scalar("SELECT extract(epoch FROM started_at - run_at) FROM tasks "
                                  "WHERE id = '" + delayed + "'")),
            0.0)
      << "started before it was due";
  RunResult bad = RunFila("fila", {"enqueue", "noop", "--queue", queue_, "--at", "2026-12-01 06:00"},
                          env_);
  EXPECT_EQ(bad.ExitCode(), 2);
  EXPECT_NE(bad.err.find("RFC 3339"), std::string::npos) << bad.err;
}

// Which of `schedulers` logged that it leads (the first that did), or -1.
int Leader(std::vector<std::unique_ptr<Process>>& schedulers) {
  for (size_t i = 0; i < schedulers.size(); ++i) {
    if (schedulers[i] && schedulers[i]->Running() &&
        schedulers[i]->Stderr().find("became leader") != std::string::npos) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

TEST_F(Scheduling, CronFiresEachSlotOnceWithTwoSchedulersAndAKilledLeader) {
  Fila({"schedules", "add", "--name", "every-second", "--cron", "* * * * * *", "--type", "noop",
        "--queue", queue_});
  std::vector<std::unique_ptr<Process>> schedulers;
  schedulers.push_back(Scheduler());
  schedulers.push_back(Scheduler());
  auto worker = Worker("cron", 4);
  int leader = -1;
  ASSERT_TRUE(WaitFor([&] { return (leader = Leader(schedulers)) >= 0; }, 20s));
  ASSERT_TRUE(WaitFor([&] { return db_->Count("SELECT count(*) FROM tasks") >= 3; }, 20s));

  // Kill the leader; the other must take over within 5 s.
  const auto killed_at = SteadyClock::now();
  schedulers[leader]->Signal(SIGKILL);
  schedulers[leader]->Wait(5s);
  const int other = 1 - leader;
  ASSERT_TRUE(WaitFor(
      [&] { return schedulers[other]->Stderr().find("became leader") != std::string::npos; }, 10s));
  const double takeover =
      std::chrono::duration<double>(SteadyClock::now() - killed_at).count();
  std::cout << "take-over after " << takeover << " s\n";
  EXPECT_LT(takeover, 5.0);
  const int64_t before = db_->Count("SELECT count(*) FROM tasks");
  ASSERT_TRUE(
      WaitFor([&] { return db_->Count("SELECT count(*) FROM tasks") >= before + 3; }, 20s));
  Fila({"schedules", "pause", "every-second"});
  std::this_thread::sleep_for(300ms);  // a firing in flight commits
  ASSERT_TRUE(WaitAllTerminal(30s));

  // One task per slot, slots one second apart with none missing (the
  // take-over's slots were late, not missed), each run once.
  EXPECT_EQ(db_->Count("SELECT count(*) - count(DISTINCT idempotency_key) FROM tasks"), 0);
  const int64_t tasks = db_->Count("SELECT count(*) FROM tasks");
  const int64_t span_s = db_->Count(
      "SELECT (max(split_part(idempotency_key, ':', 3)::bigint) - "
      "min(split_part(idempotency_key, ':', 3)::bigint)) / 1000 FROM tasks");
  EXPECT_EQ(tasks, span_s + 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts"), tasks);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE state = 'succeeded'"), tasks);
  std::string list = Fila({"schedules", "list"});
  EXPECT_NE(list.find("every-second"), std::string::npos);
  EXPECT_NE(list.find("paused"), std::string::npos) << list;
}

TEST_F(Scheduling, CatchUpSkipsOrRunsTheLatestMissedSlot) {
  Fila({"schedules", "add", "--name", "skip", "--cron", "* * * * *", "--type", "noop", "--queue",
        queue_});
  Fila({"schedules", "add", "--name", "latest", "--cron", "* * * * *", "--type", "noop", "--queue",
        queue_, "--catch-up", "latest"});
  // As if the schedulers were down for the last ten minutes.
  db_->Exec("UPDATE schedules SET next_fire_at = date_trunc('minute', now()) - interval '10 minutes'");
  auto scheduler = Scheduler({"--cron-grace", "1"});
  ASSERT_TRUE(WaitFor([&] { return db_->Count("SELECT count(*) FROM schedules WHERE missed > 0") == 2; },
                      20s));
  // Exactly one run for "latest" (its newest missed slot), none for "skip".
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE idempotency_key LIKE 'schedule:latest:%'"), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE idempotency_key LIKE 'schedule:skip:%'"), 0);
  EXPECT_GE(db_->Count("SELECT missed FROM schedules WHERE name = 'skip'"), 10);
  EXPECT_GE(db_->Count("SELECT missed FROM schedules WHERE name = 'latest'"), 9);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM schedules WHERE next_fire_at <= now()"), 0);
}

}  // namespace
}  // namespace fila::test
