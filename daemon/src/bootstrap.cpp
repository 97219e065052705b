#include "fila/daemon/bootstrap.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "fila/core/type_store.h"
#include "fila/logging/logging.h"
#include "fila/store_postgres/type_store_pg.h"

namespace fila::daemon {

void AddServerFlags(CLI::App& app, CommonFlags& flags) {
  app.add_option("--database-url", flags.database_url, "PostgreSQL URL (env FILA_DATABASE_URL)");
  app.add_option("--amqp-url", flags.amqp_url,
                 "RabbitMQ URL; a cluster's nodes comma-separated (env FILA_AMQP_URL)");
  app.add_option("--queue-type", flags.queue_type,
                 "Type of the RabbitMQ queues fila declares: classic|quorum; every scheduler and "
                 "worker must agree (env FILA_QUEUE_TYPE)")
      ->check(CLI::IsMember({"classic", "quorum"}));
}

void AddStartupTimeoutFlag(CLI::App& app, CommonFlags& flags) {
  app.add_option("--startup-timeout", flags.startup_s,
                 "Seconds to wait for PostgreSQL and RabbitMQ at start")
      ->check(CLI::Range(0, 3600));
}

void AddObservabilityFlags(CLI::App& app, CommonFlags& flags) {
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error (env FILA_LOG_LEVEL)");
  app.add_option("--log-format", flags.log_format, "json|text, on stderr (env FILA_LOG_FORMAT)");
  app.add_option("--metrics-listen", flags.metrics_listen,
                 "HOST:PORT for /metrics, /healthz and /readyz; port 0 picks one; off disables "
                 "(env FILA_METRICS_LISTEN)");
}

std::optional<int> ParseFlags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every usage error exits 2, like every other bad input.
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  return std::nullopt;
}

int StartLogging(const std::string& program, const CommonFlags& flags) {
  InstallCrashReport(program.c_str());
  try {
    logging::Setup(program, flags.log_level, flags.log_format);
  } catch (const PermanentError& e) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());
    return kExitUsage;
  }
  return 0;
}

int StartMetricsServer(const CommonFlags& flags, const std::string& component,
                       const Readiness& readiness, std::unique_ptr<MetricsServer>& server) {
  if (flags.metrics_listen == "off") return 0;
  try {
    server = std::make_unique<MetricsServer>(flags.metrics_listen, component, readiness);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return kExitUsage;
  }
  spdlog::info("metrics on http://{}/metrics", server->Address());
  return 0;
}

void WatchRegisteredTypes(TaskTypes& types, const std::string& database_url) {
  std::shared_ptr<TypeStore> type_store = MakePostgresTypeStore(database_url, 1);
  types.SetLoader([type_store] { return LoadRegisteredTypes(*type_store); },
                  std::chrono::seconds(1), std::chrono::seconds(5));
}

void Startup::LogError(const std::string& message) { spdlog::error("{}", message); }

void Exit(int code) {
  spdlog::default_logger()->flush();
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace fila::daemon
