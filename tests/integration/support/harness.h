#pragma once

// Support for integration tests against the real PostgreSQL and RabbitMQ of
// scripts/stack: a fresh database per test, real fila processes, and SQL
// checks. Not product code: it may use libpqxx directly.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fila::test {

struct StackUrls {
  std::string database_url;  // the stack's base database
  std::string amqp_url;
};

// The stack's URLs: from FILA_DATABASE_URL / FILA_AMQP_URL when set,
// otherwise from `scripts/stack up` + `scripts/stack env`. With the
// management API (FILA_AMQP_MGMT_URL), amqp_url names a RabbitMQ virtual
// host of this process's own, deleted at exit, so that tests run side by
// side never share a queue. Both are exported to the processes tests start.
// FILA_TEST_STACK_DIR names a stack of the test's own instead (ctest sets it
// for the tests that stop its servers, tests/fault/CMakeLists.txt): started
// if down, its URLs replace the shared stack's, and it becomes
// FILA_STACK_DIR for the stack commands of the test and of the processes it
// starts (FILA_TEST_RMQ_RESTART_CMD).
const StackUrls& Stack();

// A random lowercase suffix for database and queue names.
std::string RandomName(const std::string& prefix);

// A new, migrated database dropped when the object dies; on the server of
// `base_url` (default: Stack().database_url), whose database it replaces.
class TestDatabase final {
 public:
  explicit TestDatabase(bool migrate = true, std::string base_url = {});
  ~TestDatabase();
  const std::string& url() const { return url_; }
  // The first column of the first row of `sql`, as text ("" for NULL).
  std::string Scalar(const std::string& sql) const;
  int64_t Count(const std::string& sql) const { return std::stoll(Scalar(sql)); }
  // Every row of `sql`, columns as text.
  std::vector<std::vector<std::string>> Rows(const std::string& sql) const;
  void Exec(const std::string& sql) const;
  // From now on, Scalar, Rows and Exec open their sessions with
  // statement_timeout 0, so that a timeout a test sets on the database
  // (ALTER DATABASE ... SET statement_timeout) never fires on its checks.
  void IgnoreDatabaseTimeouts();

 private:
  std::string name_;
  std::string base_url_;
  std::string url_;
  std::string session_url_;  // url_, or url_ with session options
};

// A fila binary running as a child process; stdout and stderr go to files.
class Process final {
 public:
  // `binary` is a name in the build's bin folder (fila, fila-worker, ...),
  // or an absolute path (/usr/bin/python3 for the fake upstreams).
  Process(const std::string& binary, std::vector<std::string> args,
          std::map<std::string, std::string> env = {});
  ~Process();  // SIGKILLs the process if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int pid() const { return pid_; }
  void Signal(int signal);
  bool Running();
  // Waits for exit; returns the raw wait status, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  int pid_ = -1;
  int status_ = -1;
  std::string out_path_;
  std::string err_path_;
};

struct RunResult {
  int status = -1;  // raw wait status
  std::string out;
  std::string err;
  bool Exited() const;
  int ExitCode() const;
};

// Runs a fila binary to completion (timeout: SIGKILL and status -1).
RunResult RunFila(const std::string& binary, std::vector<std::string> args,
              std::map<std::string, std::string> env = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Polls `done` every 20 ms until it returns true or `timeout` passes.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// Waits until every task of `ids` is terminal (succeeded, failed, dead or
// cancelled) in `db`; false on timeout.
bool WaitTerminal(const TestDatabase& db, const std::vector<std::string>& ids,
                  std::chrono::milliseconds timeout);

std::string BinDir();
std::string SourceDir();

// Runs `command` with /bin/sh; returns its stdout. Throws std::runtime_error
// when it exits non-zero.
std::string Shell(const std::string& command);

// Runs `<SourceDir()>/scripts/stack <sub>` (e.g. "stop-rmq", "start-pg") on
// the stack of FILA_STACK_DIR (default <repo>/.stack), or on the stack of
// folder `stack_dir` when given (without the FILA_STACK_*_PORT variables
// of the tests' own stack); its output goes to stderr. Throws
// std::runtime_error when the command fails.
void StackCommand(const std::string& sub, const std::string& stack_dir = {});
// Same, returning what the command printed on stdout (e.g. "env").
std::string StackOutput(const std::string& sub, const std::string& stack_dir = {});

}  // namespace fila::test

namespace fila::test {

struct HttpResult {
  long status = 0;  // 0: no HTTP answer (connection refused, timeout)
  std::string content_type;
  std::string body;
  std::string headers;  // the answer's header lines, as received
};

// One HTTP request over loopback (libcurl), with a 10 s timeout.
HttpResult Http(const std::string& method, const std::string& url,
                const std::vector<std::string>& headers = {}, const std::string& body = "");

// A TCP port that was free a moment ago.
int FreePort();

// The "HOST:PORT" a daemon serves /metrics, /healthz and /readyz on, from
// its "metrics on http://HOST:PORT/metrics" log line (daemons default to
// --metrics-listen 127.0.0.1:0); waits up to `timeout`, "" if never logged.
std::string MetricsAddress(const Process& process,
                           std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace fila::test
