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
//
// AVanishedPrimaryCostsSecondsNotMinutes: the same, with the primary cut off
// without a FIN first (iptables, root only), so that only the client
// timeouts (keepalives, tcp_user_timeout, connect_timeout) get the
// processes off their half-open connections.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

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
  // The port of host `index` of the URL (0: node 1, the first primary).
  int Port(size_t index) const {
    size_t at = url_.find('@');
    for (size_t i = 0; i < index && at != std::string::npos; ++i) at = url_.find(',', at + 1);
    const size_t colon = at == std::string::npos ? at : url_.find(':', at);
    if (colon == std::string::npos) throw std::runtime_error("no port in " + url_);
    return std::stoi(url_.substr(colon + 1));
  }
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

// Drops every packet to and from 127.0.0.1:`port` except those of the
// connection from local port `spared` (the standby's replication): to the
// clients the server vanishes without a FIN or a RST, as a host that loses
// power or its network does. Root and iptables only; removed when the
// object dies.
class Blackhole final {
 public:
  Blackhole(int port, int spared) {
    const std::string p = std::to_string(port), e = std::to_string(spared);
    rules_ = {"INPUT -i lo -p tcp --dport " + p + " ! --sport " + e + " -j DROP",
              "INPUT -i lo -p tcp --sport " + p + " ! --dport " + e + " -j DROP"};
    for (const auto& rule : rules_) {
      if (std::system(("iptables -w -I " + rule).c_str()) != 0) throw std::runtime_error("iptables -I " + rule);
      added_.push_back(rule);
    }
  }
  ~Blackhole() {
    for (const auto& rule : added_) {
      if (std::system(("iptables -w -D " + rule).c_str()) != 0) {
        std::fprintf(stderr, "could not remove iptables rule %s\n", rule.c_str());
      }
    }
  }
  Blackhole(const Blackhole&) = delete;
  Blackhole& operator=(const Blackhole&) = delete;

  static bool Available() { return ::geteuid() == 0 && std::system("iptables -w -L INPUT -n >/dev/null 2>&1") == 0; }

 private:
  std::vector<std::string> rules_;
  std::vector<std::string> added_;
};

class PgFailover : public FaultTest {
 protected:
  static constexpr int kLate = 1000;  // enqueued after the promotion

  void SetUp() override {
    if (::access((std::string(kPgBin) + "/pg_basebackup").c_str(), X_OK) != 0) {
      GTEST_SKIP() << "PostgreSQL 15 server tools not installed (" << kPgBin << ")";
    }
    pair_ = std::make_unique<StandbyPair>();
    // The tests' own connections must not wait minutes for an unreachable host either.
    base_database_url_ = pair_->url() + "&connect_timeout=2";
    FaultTest::SetUp();
    // The processes get the hosts alone: fila must add target_session_attrs.
    env_["FILA_DATABASE_URL"] = db_->url().substr(0, db_->url().find('?'));
  }

  void TearDown() override {
    FaultTest::TearDown();
    pair_.reset();
  }

  int64_t Succeeded() const { return CountOrMinusOne("SELECT count(*) FROM tasks WHERE state = 'succeeded'"); }
  static std::string Since(double at) { return "finished_at > to_timestamp(" + std::to_string(at) + ")"; }

  // A scheduler and two workers with 4 slots each.
  void StartAll() {
    run_start_ = std::chrono::steady_clock::now();
    processes_ = {&StartScheduler(), &StartWorker("w1", 4), &StartWorker("w2", 4)};
    for (auto* p : processes_) pids_.push_back(p->pid());
  }

  // Every task ended; each succeeded once; the same processes still run and
  // each worker finished tasks after `since`.
  void FinishAndCheck(int total, double since) {
    ASSERT_TRUE(WaitAllTerminal(180s))
        << ::testing::PrintToString(db_->Rows("SELECT state, count(*) FROM tasks GROUP BY 1")) << "\n"
        << Logs();
    run_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start_).count();
    for (size_t i = 0; i < processes_.size(); ++i) {
      EXPECT_TRUE(processes_[i]->Running() && ::kill(pids_[i], 0) == 0)
          << "process " << pids_[i] << " did not survive the failover\n"
          << Logs();
    }
    EXPECT_EQ(CountState("succeeded"), total);
    ExpectInvariants(total);
    for (const std::string id : {"w1", "w2"}) {
      EXPECT_GT(Count("SELECT count(*) FROM task_attempts WHERE worker = '" + id + "' AND " + Since(since)), 0)
          << id << " finished nothing on the new primary\n"
          << Logs();
    }
  }

  // Seconds from `stop_at` to the first finish after `stopped_at` (when the
  // old primary was gone: any later finish is the new primary's).
  double TimeToRecovery(double stop_at, double stopped_at) const {
    return std::stod(db_->Scalar("SELECT coalesce(extract(epoch FROM min(finished_at)), 0) FROM task_attempts WHERE " +
                                 Since(stopped_at))) -
           stop_at;
  }

  void PrintThroughput(const std::string& label, int total, double stopped_at) const {
    std::printf("  attempts by outcome: %s\n",
                ::testing::PrintToString(
                    db_->Rows("SELECT outcome, count(*) FROM task_attempts GROUP BY 1 ORDER BY 1"))
                    .c_str());
    std::printf("[ metric ] %s: %d tasks in %.1f s, %.0f tasks/s overall; %lld finished on the new primary\n",
                label.c_str(), total, run_s_, total / run_s_,
                static_cast<long long>(Count("SELECT count(*) FROM task_attempts WHERE " + Since(stopped_at))));
  }

  std::unique_ptr<StandbyPair> pair_;
  std::vector<test::Process*> processes_;
  std::vector<int> pids_;
  std::chrono::steady_clock::time_point run_start_;
  double run_s_ = 0;
};

TEST_F(PgFailover, StandbyPromotedMidRunLosesNothing) {
  constexpr int kTasks = 10000;
  const TaskOptions options{.max_attempts = 5};
  Enqueue("sleep", R"({"ms": 10})", kTasks - kLate, options);
  StartAll();
  ASSERT_TRUE(test::WaitFor([&] { return Succeeded() >= 3000; }, 120s)) << Logs();

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

  FinishAndCheck(kTasks, reconnect_at);
  if (HasFatalFailure()) return;
  std::printf("  %lld of %d tasks succeeded at the promotion; rejoin %.1f s\n",
              static_cast<long long>(succeeded_at_promotion), kTasks, rejoined_at - promoted_at);
  std::printf("[ metric ] pg failover: time to recovery %.2f s (primary stop to first finish on the new primary; "
              "stop %.2f s, promote %.2f s)\n",
              TimeToRecovery(stop_at, stopped_at), stopped_at - stop_at, promoted_at - stopped_at);
  PrintThroughput("pg failover", kTasks, stopped_at);
}

// The primary vanishes without a word (its packets dropped, then stopped;
// only the standby's replication passes, so nothing committed is lost) and
// the standby is promoted. The clients' connections are then half-open:
// without keepalives and tcp_user_timeout a statement waits ~15 minutes for
// TCP to give up and the leader's LISTEN connection hours. fila's defaults
// must bring the run back within seconds.
TEST_F(PgFailover, AVanishedPrimaryCostsSecondsNotMinutes) {
  if (!Blackhole::Available()) GTEST_SKIP() << "needs root and iptables to drop packets";
  constexpr int kTasks = 3000;
  const TaskOptions options{.max_attempts = 5};
  Enqueue("sleep", R"({"ms": 10})", kTasks - kLate, options);
  StartAll();
  ASSERT_TRUE(test::WaitFor([&] { return Succeeded() >= 500; }, 120s)) << Logs();

  const int primary = pair_->Port(0);
  pqxx::connection admin("postgresql://postgres@127.0.0.1:" + std::to_string(primary) + "/postgres");
  const int replication = pqxx::nontransaction(admin).exec1("SELECT client_port FROM pg_stat_replication")[0].as<int>();
  admin.disconnect();
  Blackhole blackhole(primary, replication);
  const double stop_at = WallSeconds();
  pair_->Command("stop-pg-primary");
  const double stopped_at = WallSeconds();
  pair_->Command("promote");
  const double promoted_at = WallSeconds();
  Enqueue("sleep", R"({"ms": 10})", kLate, options);

  FinishAndCheck(kTasks, stopped_at);
  if (HasFatalFailure()) return;
  const double recovery = TimeToRecovery(stop_at, stopped_at);
  std::printf("[ metric ] pg vanished: time to recovery %.2f s (primary cut off to first finish on the new "
              "primary; promote %.2f s)\n",
              recovery, promoted_at - stopped_at);
  PrintThroughput("pg vanished", kTasks, stopped_at);
  EXPECT_LT(recovery, 60.0) << "a half-open connection held the run up\n" << Logs();
}

}  // namespace
}  // namespace fila::fault
