#pragma once

// Shared by the observability tests: a fresh database, a real fila-scheduler
// and fila-worker serving /metrics on loopback, a scenario that makes every
// metric of the dashboard appear, what dashboards/fila.json queries, and the
// outside tools that judge the daemons' output (promtool, prometheus).

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/harness.h"

namespace fila::obs {

// A new, empty folder under $TMPDIR (or /tmp).
std::string NewTempDir();

// The full path of `name` found on PATH, or "" when it is not installed.
std::string FindOnPath(const std::string& name);

// A program outside the build (promtool, prometheus) as a child process:
// stdin is `input`, stdout and stderr go to files in `dir`. SIGKILLed when
// dropped while still running.
class Tool final {
 public:
  Tool(const std::string& path, const std::vector<std::string>& args, const std::string& dir,
       const std::string& input = "");
  ~Tool();
  Tool(const Tool&) = delete;
  Tool& operator=(const Tool&) = delete;

  void Signal(int signal);
  // Waits for exit; the raw wait status, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  int pid_ = -1;
  int status_ = -1;
  std::string out_path_;
  std::string err_path_;
};

// Family name -> type ("counter", "histogram", ...), from the
// "# TYPE <name> <type>" lines of a Prometheus text exposition.
std::map<std::string, std::string> MetricFamilies(const std::string& exposition);

// The PromQL of every panel target of dashboards/fila.json.
std::vector<std::string> DashboardExprs();
// The template variables' queries (label_values(...)), by variable name.
std::map<std::string, std::string> DashboardVariableQueries();
// Every fila_[a-z0-9_]+ token in the exprs and the variable queries.
std::set<std::string> DashboardMetricTokens();
// The Prometheus rules file of dashboards/README.md (its yaml block).
std::string ReadmeAlertRules();
// Every fila_[a-z0-9_]+ token in `text`.
std::set<std::string> MetricTokens(const std::string& text);

// Percent-encodes `s` for a URL query string.
std::string UrlEncode(const std::string& s);

class Observability : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts fila-scheduler with metrics on a free loopback port, queue gauges
  // sampled every 200 ms and a reaper that declares a worker lost after
  // 1.5 s, so the scenario runs in seconds.
  test::Process& StartScheduler();
  // Starts fila-worker on queue_ with a 200 ms heartbeat.
  test::Process& StartWorker(const std::string& id, int concurrency);
  // `fila enqueue <args> --queue <queue_>` through the CLI; the task ids.
  std::vector<std::string> Enqueue(std::vector<std::string> args);
  int64_t CountState(const std::string& state);

  // A scheduler and a worker that ran `count` noop tasks to success; sets
  // scheduler_ and worker_.
  void RunNoopTasks(int count);
  // A scheduler and a worker that saw every kind of event the dashboard
  // shows: successes, a retry, a dead task, a poison message, a redelivery
  // and a lease expiry (a first worker is SIGKILLed while it runs a task);
  // sets scheduler_ and worker_ (the surviving worker).
  void RunEveryKindOfTask();

  // "HOST:PORT" of a daemon's metrics server (from its log line).
  std::string MetricsAddress(const test::Process& process);
  // GET /metrics of a daemon; fails the test unless 200.
  std::string Scrape(const test::Process& process);
  // Every process's stderr, for failure messages.
  std::string Logs() const;

  std::string dir_;  // scratch folder, removed at the end
  std::unique_ptr<test::TestDatabase> db_;
  std::string queue_;
  std::map<std::string, std::string> env_;
  std::vector<std::unique_ptr<test::Process>> processes_;
  test::Process* scheduler_ = nullptr;
  test::Process* worker_ = nullptr;
};

}  // namespace fila::obs
