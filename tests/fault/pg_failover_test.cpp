// Fault: PostgreSQL fails over to its streaming standby in the middle of a
// 10,000-task run through a scheduler and two workers.
//
// The pair runs in a stack folder of its own (`FILA_STACK_PG_STANDBY=1
// scripts/stack up-pg`: a primary and a standby made with pg_basebackup -R,
// asynchronous streaming); RabbitMQ is the tests' stack's. Every process
// gets the pair's two hosts without target_session_attrs: fila adds
// read-write, so whatever connects lands on the primary. Once 3,000 tasks succeeded the
// primary is stopped (fast shutdown: it sends every WAL record to the
// standby before it exits, so nothing committed is lost; with asynchronous
// streaming an unclean crash could lose the last commits, see
// docs/operations.md) and the standby promoted. Then the old primary is
// rebuilt as a standby (rejoin-pg), first in the URL, and every session is
// ended: each component must reconnect past the standby to the primary.
// The last 1,000 tasks are enqueued only then, so the scheduler's relay
// must publish from the new primary too.
//
// Expected: every task succeeds, recorded once (fault_fixture's invariants,
// checked on the new primary); the same processes run at the end (no
// restart needed) and both workers finished tasks after reconnecting.
// Prints the time to recovery (from the stop to the first finish on the
// new primary) and the throughput.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A PostgreSQL primary and its streaming standby (scripts/stack-pg-standby.sh)
// in a state folder of their own, purged when the object dies.
class StandbyPair final {
 public:
  StandbyPair() {
    std::string pattern = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + std::string("/fila-pgfo-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    // Only this command may see it: the tests' own stack stays without a standby.
    ::setenv("FILA_STACK_PG_STANDBY", "1", 1);
    try {
      test::StackCommand("up-pg", dir_);
    } catch (...) {
      ::unsetenv("FILA_STACK_PG_STANDBY");
      Purge();
      throw;
    }
    ::unsetenv("FILA_STACK_PG_STANDBY");
    const std::string env = test::StackOutput("env", dir_);
    const std::string key = "FILA_DATABASE_URL='";
    const auto at = env.find(key);
    const auto end = at == std::string::npos ? at : env.find('\'', at + key.size());
    if (end == std::string::npos) {
      Purge();
      throw std::runtime_error("scripts/stack env printed no database URL:\n" + env);
    }
    url_ = env.substr(at + key.size(), end - at - key.size());
  }
  ~StandbyPair() { Purge(); }
  StandbyPair(const StandbyPair&) = delete;
  StandbyPair& operator=(const StandbyPair&) = delete;

  const std::string& url() const { return url_; }
  void Command(const std::string& sub) const { test::StackCommand(sub, dir_); }

 private:
  void Purge() {
    try {
      test::StackCommand("down --purge", dir_);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "standby pair: down --purge failed: %s\n", e.what());
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string dir_;
  std::string url_;
};

class PgFailover : public FaultTest {
 protected:
  static constexpr int kTasks = 10000;
  static constexpr int kLate = 1000;       // enqueued after the promotion
  static constexpr int kStopAfter = 3000;  // succeeded tasks before the primary stops

  void SetUp() override {
    if (::access((std::string(kPgBin) + "/pg_basebackup").c_str(), X_OK) != 0) {
      GTEST_SKIP() << "PostgreSQL 15 server tools not installed (" << kPgBin << ")";
    }
    pair_ = std::make_unique<StandbyPair>();
    base_database_url_ = pair_->url();
    FaultTest::SetUp();
  }

  void TearDown() override {
    FaultTest::TearDown();
    pair_.reset();
  }

  int64_t Succeeded() const { return CountOrMinusOne("SELECT count(*) FROM tasks WHERE state = 'succeeded'"); }

  std::unique_ptr<StandbyPair> pair_;
};

TEST_F(PgFailover, StandbyPromotedMidRunLosesNothing) {
  // The processes get the hosts alone: fila must add target_session_attrs.
  env_["FILA_DATABASE_URL"] = db_->url().substr(0, db_->url().find('?'));
  const TaskOptions options{.max_attempts = 5};
  Enqueue("sleep", R"({"ms": 10})", kTasks - kLate, options);
  const auto run_start = std::chrono::steady_clock::now();
  std::vector<test::Process*> processes{&StartScheduler(), &StartWorker("w1", 4), &StartWorker("w2", 4)};
  std::vector<int> pids;
  for (auto* p : processes) pids.push_back(p->pid());
  ASSERT_TRUE(test::WaitFor([&] { return Succeeded() >= kStopAfter; }, 120s)) << Logs();

  const double stop_at = WallSeconds();
  pair_->Command("stop-pg-primary");
  const double stopped_at = WallSeconds();
  pair_->Command("promote");
  const double promoted_at = WallSeconds();
  const int64_t succeeded_at_promotion = Succeeded();

  // The old primary comes back as a standby, first in the URL. Every
  // session is then ended, so every component reconnects: a connection
  // that took the standby would fail each write (25006) from then on.
  pair_->Command("rejoin-pg");
  const double rejoined_at = WallSeconds();
  db_->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()");
  const double reconnect_at = WallSeconds();
  // Only the new primary's outbox can get these to the workers.
  Enqueue("sleep", R"({"ms": 10})", kLate, options);

  ASSERT_TRUE(WaitAllTerminal(180s))
      << ::testing::PrintToString(db_->Rows("SELECT state, count(*) FROM tasks GROUP BY 1")) << "\n"
      << Logs();
  const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  for (size_t i = 0; i < processes.size(); ++i) {
    EXPECT_TRUE(processes[i]->Running() && ::kill(pids[i], 0) == 0)
        << "process " << pids[i] << " did not survive the failover\n"
        << Logs();
  }
  EXPECT_EQ(CountState("succeeded"), kTasks);
  ExpectInvariants(kTasks);

  auto since = [](double at) { return "finished_at > to_timestamp(" + std::to_string(at) + ")"; };
  for (const std::string id : {"w1", "w2"}) {
    EXPECT_GT(Count("SELECT count(*) FROM task_attempts WHERE worker = '" + id + "' AND " + since(reconnect_at)),
              0)
        << id << " finished nothing after reconnecting with the standby first in the URL\n"
        << Logs();
  }
  // The old primary was down from `stopped_at` on: any later finish is the new primary's.
  const double first_finish = std::stod(db_->Scalar(
      "SELECT coalesce(extract(epoch FROM min(finished_at)), 0) FROM task_attempts WHERE " + since(stopped_at)));
  const int64_t finished_after = Count("SELECT count(*) FROM task_attempts WHERE " + since(stopped_at));
  std::printf("  %lld of %d tasks succeeded at the promotion; rejoin %.1f s; attempts by outcome: %s\n",
              static_cast<long long>(succeeded_at_promotion), kTasks, rejoined_at - promoted_at,
              ::testing::PrintToString(
                  db_->Rows("SELECT outcome, count(*) FROM task_attempts GROUP BY 1 ORDER BY 1"))
                  .c_str());
  std::printf(
      "[ metric ] pg failover: time to recovery %.2f s (primary stop to first finish on the new primary; "
      "stop %.2f s, promote %.2f s)\n",
      first_finish - stop_at, stopped_at - stop_at, promoted_at - stopped_at);
  std::printf("[ metric ] pg failover: %d tasks in %.1f s, %.0f tasks/s overall; %lld finished on the new "
              "primary\n",
              kTasks, run_s, kTasks / run_s, static_cast<long long>(finished_after));
}

}  // namespace
}  // namespace fila::fault
