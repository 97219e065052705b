#pragma once

// Shared fixture of the fault tests (tests/fault/*_test.cpp): a fresh
// migrated database and a unique queue per test, real fila-scheduler and
// fila-worker processes, and the end-of-test invariants every fault test
// asserts over SQL:
//
//   - every task is terminal (none queued, scheduled, running or blocked);
//   - none is lost (the tasks table holds exactly what was enqueued);
//   - no task has more than one successful attempt recorded, and each
//     succeeded task has exactly one, at its final (fencing) attempt number;
//   - no two task_attempts rows share (task_id, attempt), and none is beyond
//     the task's current attempt.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fila/core/state_store.h"
#include "fila/test_support/netns.h"
#include "support/harness.h"

namespace fila::fault {

using namespace std::chrono_literals;

// Per-task settings of Enqueue (0 = the type's default where the store allows).
struct TaskOptions {
  uint32_t priority = 0;
  uint32_t max_attempts = 3;
  uint32_t timeout_ms = 60000;
  uint32_t retry_base_ms = 0;
  uint32_t retry_cap_ms = 0;
};

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A NewTask for this test's queue, its payload given as JSON.
  NewTask Task(const std::string& type, const std::string& payload_json,
               const TaskOptions& options = {}) const;
  // Enqueues through the store (one transaction per 1,000); returns the ids.
  std::vector<std::string> Enqueue(const std::vector<NewTask>& tasks);
  std::vector<std::string> Enqueue(const std::string& type, const std::string& payload_json,
                                   int count, const TaskOptions& options = {});

  // Processes live until the test ends (then SIGKILLed) unless stopped before.
  test::Process& StartScheduler(std::vector<std::string> args = {});
  test::Process& StartWorker(const std::string& id, int concurrency,
                             std::vector<std::string> extra_args = {});
  // Like StartWorker, inside `ns` (ip netns exec): the database and broker
  // URLs lead to its forwarders, and /metrics listens on its address
  // (reachable from here while the link is up).
  test::Process& StartWorkerIn(const test::NetNs& ns, const std::string& id, int concurrency,
                               std::vector<std::string> extra_args = {});

  // SQL on the test database.
  int64_t Count(const std::string& sql) const { return db_->Count(sql); }
  // Like Count, but -1 instead of throwing (while PostgreSQL is down).
  int64_t CountOrMinusOne(const std::string& sql) const;
  int64_t CountState(const std::string& state) const;
  // Tasks not terminal: queued, scheduled, running or blocked.
  int64_t CountActive() const;
  std::string State(const std::string& id) const;
  // The database's clock, as a timestamptz literal.
  std::string DbNow() const;
  // Waits until no task is active (polling; tolerates a database outage).
  bool WaitAllTerminal(std::chrono::milliseconds timeout) const;

  // The invariants listed at the top of this file, for `total` tasks.
  void ExpectInvariants(int64_t total) const;

  // Counters of the worker's exit line ("worker ID stopped: claimed=.. ..."),
  // empty when the line is missing.
  static std::map<std::string, int64_t> ExitCounters(const std::string& stderr_text,
                                                     const std::string& worker_id);
  // How many times `needle` occurs in `text` (log lines of a kind).
  static int64_t Occurrences(const std::string& text, const std::string& needle);
  // The last `lines` lines of `text`.
  static std::string Tail(const std::string& text, size_t lines = 30);
  // The tails of every process's stderr, for failure messages.
  std::string Logs(size_t lines = 30) const;

  std::unique_ptr<test::TestDatabase> db_;
  // The server SetUp creates db_ on (see TestDatabase); empty: the stack's.
  // A test with servers of its own sets it before FaultTest::SetUp.
  std::string base_database_url_;
  std::string queue_;
  std::map<std::string, std::string> env_;

 private:
  struct Named {
    std::string name;
    std::unique_ptr<test::Process> process;
  };
  std::vector<Named> processes_;
};

// Stops one service of scripts/stack ("pg" or "rmq") for a test and makes
// sure it runs again when the test ends, however it ends. Refuses (throws)
// unless the stack of FILA_STACK_DIR is the one the tests' URLs point at, so
// a misconfigured run never stops somebody else's servers.
class StackOutage final {
 public:
  explicit StackOutage(std::string service);
  ~StackOutage();
  StackOutage(const StackOutage&) = delete;
  StackOutage& operator=(const StackOutage&) = delete;

  void Stop();   // scripts/stack stop-<service>
  void Start();  // scripts/stack start-<service>

 private:
  std::string service_;
  bool stopped_ = false;
};

}  // namespace fila::fault
