// Fault: a burst of work must not make a live worker look dead.
//
// Thirty `fanout` tasks (width 100, depth 1) on one 4-slot worker enqueue
// 3,030 child tasks within a second or two (each parent's finish commits
// its 100 children and a join task); the children then run on the same
// worker. Heartbeats every 250 ms; the scheduler's worker timeout is 1.5 s
// and its reaper looks every 100 ms: a heartbeat held back behind finishes
// or children for 1.5 s has the reaper take the worker's tasks back as
// lost, and their own finishes are then fenced out.
//
// The test samples the worker's heartbeat age in the database every few
// milliseconds during the run and prints the largest gap it saw; it
// requires no lost attempt, no reaped task (scheduler log) and no stale
// finish (the worker's exit counters).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "fault_fixture.h"
#include "fila/store_postgres/postgres_store.h"

namespace fila::fault {
namespace {

class Heartbeats : public FaultTest {};

TEST_F(Heartbeats, AChildBurstOnAFourSlotWorkerDelaysNoHeartbeatAndReapsNothing) {
  constexpr int kParents = 30;
  constexpr int kTotal = kParents * (1 + 100 + 1);  // parents, children, joins
  auto& scheduler = StartScheduler({"--worker-timeout-ms", "1500", "--reap-interval-ms", "100"});
  auto& worker = StartWorker("burst", 4, {"--heartbeat-interval-ms", "250"});
  // Registered (its first heartbeat) before the burst starts.
  ASSERT_TRUE(test::WaitFor([&] { return Count("SELECT count(*) FROM workers WHERE id = 'burst'") == 1; }, 30s))
      << Logs();

  std::atomic<bool> sampling{true};
  std::atomic<double> max_age{0};
  std::atomic<int64_t> samples{0};
  std::string sampler_error;
  std::thread sampler([&] {
    try {
      PostgresStore store(db_->url());
      while (sampling) {
        for (const auto& w : store.Monitor(60000).workers) {
          if (w.id != "burst" || w.deregistered) continue;
          max_age = std::max(max_age.load(), w.heartbeat_age_seconds);
          ++samples;
        }
        std::this_thread::sleep_for(5ms);
      }
    } catch (const std::exception& e) {
      sampler_error = e.what();
    }
  });
  struct StopSampler {
    std::thread& t;
    std::atomic<bool>& on;
    ~StopSampler() {
      on = false;
      if (t.joinable()) t.join();
    }
  } stop_sampler{sampler, sampling};

  const auto t0 = std::chrono::steady_clock::now();
  Enqueue("fanout", R"({"width": 100, "depth": 1})", kParents, {.max_attempts = 1});
  const bool done = WaitAllTerminal(80s);
  const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sampling = false;
  sampler.join();
  ASSERT_TRUE(sampler_error.empty()) << sampler_error;
  ASSERT_TRUE(done) << ::testing::PrintToString(db_->Rows("SELECT state, count(*) FROM tasks GROUP BY 1"))
                    << "\n" << Logs();

  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(30s), 0) << Logs();
  const auto counters = ExitCounters(worker.Stderr(), "burst");
  const int64_t stale = counters.count("stale") ? counters.at("stale") : -1;
  const int64_t lost = Count("SELECT count(*) FROM task_attempts WHERE outcome = 'lost'");
  const int64_t reaped = Occurrences(scheduler.Stderr(), "reaped task");
  const double burst_s = std::stod(db_->Scalar(
      "SELECT extract(epoch FROM max(created_at) - min(created_at)) FROM tasks WHERE parent_id IS NOT NULL"));
  std::printf("[ metric ] child burst: %d tasks (%d children enqueued in %.2f s) on 4 slots in %.1f s\n",
              kTotal, kTotal - kParents, burst_s, run_s);
  std::printf("[ metric ] heartbeat gap during the burst: max %.0f ms (interval 250 ms, worker timeout "
              "1500 ms, %lld samples)\n",
              max_age.load() * 1000, static_cast<long long>(samples.load()));
  std::printf("[ metric ] false deaths: %lld lost attempts, %lld reaped (scheduler log), %lld stale "
              "finishes\n",
              static_cast<long long>(lost), static_cast<long long>(reaped), static_cast<long long>(stale));
  EXPECT_EQ(CountState("succeeded"), kTotal);
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(reaped, 0);
  EXPECT_EQ(stale, 0);
  EXPECT_LT(max_age.load(), 1.0) << "a heartbeat was held back for most of the worker timeout";
  ExpectInvariants(kTotal);
}

// A worker whose heartbeats do not get through (a trigger holds them here;
// in production a slow database or a half-open connection) claims nothing
// meanwhile: a task claimed then runs under a heartbeat the reaper sees as
// silent, is taken back as lost from a live worker, and its finish is
// refused. Once beats get through again, the tasks run, none lost.
TEST_F(Heartbeats, ClaimsWaitWhileTheHeartbeatIsHeldUp) {
  StartScheduler({"--worker-timeout-ms", "1500", "--reap-interval-ms", "100"});
  StartWorker("held", 4, {"--heartbeat-interval-ms", "250"});
  ASSERT_TRUE(test::WaitFor([&] { return Count("SELECT count(*) FROM workers WHERE id = 'held'") == 1; }, 30s))
      << Logs();
  db_->Exec("CREATE TABLE test_hold (on_hold boolean)");
  db_->Exec("INSERT INTO test_hold VALUES (true)");
  db_->Exec(
      "CREATE FUNCTION test_hold_beat() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
      " WHILE EXISTS (SELECT 1 FROM test_hold) LOOP PERFORM pg_sleep(0.05); END LOOP;"
      " RETURN NEW; END $$");
  db_->Exec("CREATE TRIGGER test_hold_beat BEFORE UPDATE ON workers FOR EACH ROW"
            " EXECUTE FUNCTION test_hold_beat()");
  std::this_thread::sleep_for(1s);  // a beat is held: overdue after two intervals
  constexpr int kTasks = 8;
  Enqueue("sleep", R"({"ms": 1000})", kTasks, {.max_attempts = 1});
  std::this_thread::sleep_for(4s);  // the reaper sees the worker silent meanwhile
  const int64_t started_while_held = Count("SELECT count(*) FROM task_attempts") +
                                     Count("SELECT count(*) FROM tasks WHERE state = 'running'");
  db_->Exec("DELETE FROM test_hold");
  ASSERT_TRUE(WaitAllTerminal(60s)) << Logs();
  std::printf("[ metric ] heartbeat held 5 s: %lld tasks started meanwhile\n",
              static_cast<long long>(started_while_held));
  EXPECT_EQ(started_while_held, 0) << Logs();
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE outcome = 'lost'"), 0) << Logs();
  EXPECT_EQ(CountState("succeeded"), kTasks) << Logs();
}

}  // namespace
}  // namespace fila::fault
