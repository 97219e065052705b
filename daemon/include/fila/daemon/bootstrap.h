#pragma once

// The start-up and exit that fila's daemons share. What differs (their own
// flags, readiness checks, servers to reach, loops) stays in their mains.
//
// Flag and environment variable names, and exit codes, are promises to
// users: they are written here once for both daemons.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "fila/core/clock.h"
#include "fila/core/config.h"
#include "fila/core/process.h"
#include "fila/core/readiness.h"
#include "fila/core/task_types.h"
#include "fila/metrics/metrics_server.h"

namespace CLI {
class App;  // CLI11: only daemon/src includes it
}

namespace fila::daemon {

// The settings both daemons take, with the environment's values (or the
// defaults) until the command line says otherwise.
struct CommonFlags {
  std::string database_url = EnvOr("FILA_DATABASE_URL", "");
  std::string amqp_url = EnvOr("FILA_AMQP_URL", "");
  std::string queue_type = EnvOr("FILA_QUEUE_TYPE", "classic");
  std::string log_level = EnvOr("FILA_LOG_LEVEL", "info");
  std::string log_format = EnvOr("FILA_LOG_FORMAT", "json");
  std::string metrics_listen = EnvOr("FILA_METRICS_LISTEN", "127.0.0.1:0");
  int startup_s = 30;
};

// The flags of CommonFlags, in three groups so that each daemon lists them
// where its --help always had them. `flags` must outlive the parse.
void AddServerFlags(CLI::App& app, CommonFlags& flags);         // --database-url, --amqp-url, --queue-type
void AddStartupTimeoutFlag(CLI::App& app, CommonFlags& flags);  // --startup-timeout
void AddObservabilityFlags(CLI::App& app, CommonFlags& flags);  // --log-level, --log-format, --metrics-listen

// Parses the command line. Nullopt: carry on; else the process exits now
// with the returned code (0 after --help, kExitUsage for any usage error,
// like every other bad input), CLI11 having printed why.
std::optional<int> ParseFlags(CLI::App& app, int argc, char** argv);

// Crash reports (a backtrace on a fatal signal) and the log format. 0, or
// kExitUsage after saying on stderr what is wrong with the log settings.
// `program` names the process in both; it must outlive the process's use
// of it (a crash report may print it at any time).
int StartLogging(const std::string& program, const CommonFlags& flags);

// The /metrics, /healthz and /readyz server on flags.metrics_listen, or
// none when it is "off". 0, or kExitUsage after logging why it could not
// start (a malformed address, a port in use). `readiness` must outlive it.
int StartMetricsServer(const CommonFlags& flags, const std::string& component,
                       const Readiness& readiness, std::unique_ptr<MetricsServer>& server);

// The task types a daemon knows: the built-in ones, and the types registered
// as data (fila types apply), read at once when a name or version is new
// and again every 5 s so that a new version bites.
void WatchRegisteredTypes(TaskTypes& types, const std::string& database_url);

// The steps of a daemon's start (reaching PostgreSQL, RabbitMQ), sharing
// one --startup-timeout budget from construction on. Each step retries
// transient errors until the budget runs out; a failure is logged.
class Startup final {
 public:
  explicit Startup(const CommonFlags& flags)
      : deadline_(DeadlineIn(std::chrono::seconds(flags.startup_s))) {}

  // 0, or the exit code (kExitUsage for a PermanentError, else
  // kExitFailure); `what` names the server, e.g. "PostgreSQL at <url>".
  template <typename Fn>
  int Step(const std::string& what, Fn&& fn) const {
    return StartupStep(deadline_, what, std::forward<Fn>(fn), LogError);
  }
  template <typename Fn>
  int Postgres(const std::string& url, Fn&& fn) const {
    return Step("PostgreSQL at " + RedactUrl(url), std::forward<Fn>(fn));
  }
  template <typename Fn>
  int RabbitMq(const std::string& url, Fn&& fn) const {
    return Step("RabbitMQ at " + RedactUrl(url), std::forward<Fn>(fn));
  }

 private:
  static void LogError(const std::string& message);
  Deadline deadline_;
};

// Flushes the logs and ends the process with `code` without unwinding:
// handler threads may still be running, and the metrics server's threads
// may be answering a probe (stopping it takes about 2 s for nothing, the
// OS closes its socket).
[[noreturn]] void Exit(int code);

}  // namespace fila::daemon
