// RunWorker (fila/sdk.h): the worker's flags, logging, metrics, startup,
// signals and runtime, for fila-worker and for programs built on the SDK.
#include "fila/worker/sdk.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "fila/broker_rabbitmq/rabbitmq_broker.h"
#include "fila/core/config.h"
#include "fila/core/key_limiter.h"
#include "fila/core/process.h"
#include "fila/daemon/bootstrap.h"
#include "fila/exec_handler/exec_handler.h"
#include "fila/extract/sandbox.h"
#include "fila/handlers/builtin_handlers.h"
#include "fila/http/http_client.h"
#include "fila/http_handler/http_handler.h"
#include "fila/logging/logging.h"
#include "fila/metrics/metrics_server.h"
#include "fila/store_postgres/postgres_key_limiter.h"
#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/tenant_store_pg.h"
#include "fila/worker/worker_runtime.h"

namespace fila {

int RunWorker(int argc, char** argv, const WorkerSetup& setup) {
  const std::string program = setup.program.empty() ? "fila-worker" : setup.program;
  CLI::App app{program + ": runs tasks from fila queues"};
  app.name(program);
  fila::WorkerOptions options;
  std::string queues = fila::EnvOr("FILA_QUEUES", "default");
  fila::daemon::CommonFlags common;
  const std::string& database_url = common.database_url;
  const std::string& amqp_url = common.amqp_url;
  std::string callback_listen = fila::EnvOr("FILA_CALLBACK_LISTEN", "127.0.0.1:0");
  int drain_s = 30;
  int heartbeat_ms = 2000;
  int finish_flush_ms = static_cast<int>(options.finish_flush.count());
  int abandon_grace_ms = 5000;
  int max_abandoned = 0;
  app.add_option("--queues", queues, "Comma-separated queues to consume (env FILA_QUEUES)");
  app.add_option("--concurrency", options.concurrency, "Tasks run at once (slots)")
      ->check(CLI::Range(1, 1024));
  int express_slots = -1;
  app.add_option("--express-slots", express_slots,
                 "Slots on top of --concurrency for the queues' express lanes, where a task of a "
                 "tenant below its share (or one aging raised) starts while the other slots are busy "
                 "(docs/fairness.md); 0 consumes no lane (default: a quarter of --concurrency, at "
                 "least 1)")
      ->check(CLI::Range(0, 256));
  app.add_option("--worker-id", options.worker_id, "Identity in the workers table (default host-pid)");
  fila::daemon::AddServerFlags(app, common);
  app.add_option("--drain-timeout", drain_s, "Seconds in-flight tasks may take after SIGTERM")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  fila::daemon::AddStartupTimeoutFlag(app, common);
  app.add_option("--heartbeat-interval-ms", heartbeat_ms, "How often the worker reports itself alive")
      ->check(CLI::Range(50, 600000));
  app.add_option("--finish-flush-ms", finish_flush_ms,
                 "How long finishes wait for others to share their commit")
      ->check(CLI::Range(0, 1000));
  app.add_option("--abandon-grace-ms", abandon_grace_ms,
                 "How long a handler may ignore its deadline or a cancel before it is abandoned")
      ->check(CLI::Range(0, 3600000));
  app.add_option("--max-abandoned", max_abandoned,
                 "Abandoned slots after which the worker drains and exits 3 (default: half the slots, at least 2)")
      ->check(CLI::Range(1, 100000));
  int claim_handback_ms = static_cast<int>(options.claim_handback.count());
  app.add_option("--claim-handback-ms", claim_handback_ms,
                 "Claims failing this long give their deliveries back to the broker for other workers "
                 "until a heartbeat gets through; 0 keeps them")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600000));
  int tenant_cache_ms = 5000;
  app.add_option("--tenant-cache-ms", tenant_cache_ms,
                 "How long a tenant's bindings are trusted; a change takes this long to bite")
      ->check(CLI::Range(0, 600000));
  bool test_types = fila::EnvFlag("FILA_ENABLE_TEST_TYPES");
  app.add_flag("--enable-test-types", test_types,
               "Also run the types that test fila itself (sleep, flaky, fanout); never in production: a "
               "producer could tie up or flood the workers with them (env FILA_ENABLE_TEST_TYPES=1)");
  fila::daemon::AddObservabilityFlags(app, common);
  app.add_option("--callback-listen", callback_listen,
                 "HOST:PORT where HTTP handlers report progress and enqueue children (one secret URL per "
                 "attempt); port 0 picks one; off disables (env FILA_CALLBACK_LISTEN)");
  if (auto exit_now = fila::daemon::ParseFlags(app, argc, argv)) return *exit_now;
  if (int code = fila::daemon::StartLogging(program, common)) return code;
  options.queues = fila::SplitList(queues);
  options.express_slots = express_slots >= 0 ? static_cast<uint32_t>(express_slots)
                                             : fila::DefaultExpressSlots(options.concurrency);
  options.drain_timeout = std::chrono::seconds(drain_s);
  options.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  options.finish_flush = std::chrono::milliseconds(finish_flush_ms);
  // A lease outlives several missed heartbeats, never less than 10 s.
  options.lease = std::max<std::chrono::milliseconds>(options.heartbeat_interval * 5,
                                                      std::chrono::seconds(10));
  options.abandon_grace = std::chrono::milliseconds(abandon_grace_ms);
  options.claim_handback = std::chrono::milliseconds(claim_handback_ms);
  options.max_abandoned = max_abandoned > 0 ? static_cast<uint32_t>(max_abandoned)
                                            : std::max<uint32_t>(2, (options.Slots() + 1) / 2);
  options.hostname = fila::HostName();
  if (options.worker_id.empty()) options.worker_id = fila::DefaultWorkerId();

  try {
    // The handlers' HTTP clients read FILA_EGRESS_ALLOW too: a typo there
    // stops the worker here, before it connects to anything.
    fila::EgressPolicy::FromEnvironment();
    if (database_url.empty()) throw fila::PermanentError("no database: set --database-url or FILA_DATABASE_URL");
    if (amqp_url.empty()) throw fila::PermanentError("no broker: set --amqp-url or FILA_AMQP_URL");
    if (options.queues.empty()) throw fila::PermanentError("--queues names no queue");
    for (const auto& q : options.queues) fila::ValidateQueueName(q);
    // The kinds' types and binding kinds, before anything reads them.
    fila::InstallExtensions(setup.extensions);
  } catch (const fila::PermanentError& e) {
    spdlog::error("{}", e.what());
    return fila::kExitUsage;
  }
  fila::logging::SetProcessField("worker", options.worker_id);

  // The runtime exists before startup so that probes can ask it; it starts
  // nothing until Run().
  // Probes run on the metrics server's threads: they see the runtime only
  // once it exists.
  std::atomic<fila::WorkerRuntime*> live{nullptr};
  fila::Readiness readiness;
  readiness.Add("database", [&]() -> std::optional<std::string> {
    auto* r = live.load();
    return r == nullptr ? std::optional<std::string>("starting") : r->DatabaseProblem();
  });
  readiness.Add("broker", [&]() -> std::optional<std::string> {
    auto* r = live.load();
    auto connected = r != nullptr ? r->BrokerConnected() : std::nullopt;
    if (!connected) return "not consuming";
    if (!*connected) return "connection lost, reconnecting";
    return std::nullopt;
  });
  readiness.Add("consuming", [&]() -> std::optional<std::string> {
    auto* r = live.load();
    if (r != nullptr && r->Stopping()) return "draining";
    return std::nullopt;
  });
  std::unique_ptr<fila::MetricsServer> metrics;
  if (int code = fila::daemon::StartMetricsServer(common, "worker", readiness, metrics)) return code;
  const auto test_types_setting = test_types ? fila::TestTypes::kEnabled : fila::TestTypes::kDisabled;
  fila::TaskTypes types = fila::TaskTypes::Builtin(test_types_setting);
  // Types registered as data (fila types apply): a task's version is read
  // when it is first seen, and every type again every 5 s.
  fila::daemon::WatchRegisteredTypes(types, database_url);
  // What operators bound to each tenant (the binding kinds of the
  // extensions), read by the handlers of every task; a change bites within --tenant-cache-ms.
  auto tenant_directory = std::make_shared<fila::TenantDirectory>(
      fila::MakePostgresTenantStore(database_url, 2), std::chrono::milliseconds(tenant_cache_ms));
  const fila::TenantLookup tenants = [tenant_directory](const std::string& tenant) {
    return tenant_directory->Get(tenant);
  };
  // Per-key limits on calls to external services, shared by every worker
  // through PostgreSQL.
  std::unique_ptr<fila::KeyLimiter> key_limiter =
      fila::MakePostgresKeyLimiter(database_url, std::max<size_t>(2, options.Slots() / 4));
  // What the handlers of the extensions and of the program get; they keep
  // references, so it outlives them (declared before the registry).
  const fila::WorkerServices services{
      .database_url = database_url,
      .concurrency = options.Slots(),
      .key_limiter = *key_limiter,
      .tenants = tenants,
      .http_client = [] { return fila::MakeHttpClient(); },
      .extraction = [] {
        return fila::ExtractionSettings{.helper = fila::extract::ExtractorPath(),
                                        .budget = fila::extract::BudgetFromEnv()};
      },
      .metrics = metrics ? metrics->Extensions() : fila::NoMetricRegistry()};
  fila::HandlerRegistry handlers;
  fila::RegisterBuiltinHandlers(handlers, test_types_setting);
  // Registered types whose handler is an HTTP endpoint or a command
  // (docs/handlers.md); HTTP handlers report on the callback server.
  std::unique_ptr<fila::CallbackServer> callbacks;
  try {
    if (callback_listen != "off") {
      callbacks = std::make_unique<fila::CallbackServer>(fila::CallbackServerOptions{.listen = callback_listen}, types);
    }
    handlers.SetFactory(fila::HandlerSpec::Kind::kHttp, fila::MakeHttpHandlerFactory({.callbacks = callbacks.get()}));
    // fila-worker needs its shim; a program of the SDK runs exec tasks only
    // when it has one (next to it, or FILA_EXEC_SHIM).
    bool exec_shim = true;
    if (program != "fila-worker") {
      try {
        fila::ExecShimPath();
      } catch (const fila::PermanentError& e) {
        exec_shim = false;
        spdlog::warn("{}; this program runs no exec handler", e.what());
      }
    }
    if (exec_shim) {
      handlers.SetFactory(fila::HandlerSpec::Kind::kExec,
                          fila::MakeExecHandlerFactory(fila::ExecOptionsFromEnv(options.abandon_grace)));
    }
  } catch (const fila::Error& e) {
    spdlog::error("{}", e.what());
    return fila::kExitUsage;
  }
  if (callbacks) spdlog::info("callbacks on http://{}", callbacks->Address());
  try {
    for (const auto& extension : setup.extensions) {
      if (extension.register_handlers) extension.register_handlers(handlers, services);
    }
    if (setup.register_handlers) setup.register_handlers(handlers, services);
  } catch (const fila::PermanentError& e) {
    spdlog::error("{}", e.what());
    return fila::kExitUsage;
  }
  if (metrics) metrics->Worker().Prepare(options.queues, types.Names());
  // Each call of the factory opens a connection of its own: the runtime's
  // claims, finishes and heartbeats never wait on each other's statements.
  auto runtime = std::make_unique<fila::WorkerRuntime>(
      options, [&] { return std::make_unique<fila::PostgresStore>(database_url); }, handlers,
      types, metrics ? metrics->Worker() : fila::NoWorkerMetrics());
  live = runtime.get();

  const auto& stop = fila::InstallStopSignals();
  const fila::daemon::Startup startup(common);
  int code = startup.Postgres(database_url, [&] {
    fila::PostgresStore store(database_url);
    store.RequireSchema();
    // Registered before the first claim, so the reaper never mistakes
    // this worker's tasks for a dead worker's.
    store.Heartbeat({options.worker_id, options.hostname, static_cast<int64_t>(::getpid()),
                     options.queues, options.Slots()},
                    static_cast<uint32_t>(options.lease.count()));
  });
  if (code != 0) return code;

  std::unique_ptr<fila::Broker> broker;
  std::unique_ptr<fila::Consumer> consumer;
  code = startup.RabbitMq(amqp_url, [&] {
    if (!broker) broker = fila::MakeRabbitMqBroker(
        {.url = amqp_url, .queue_type = fila::ParseRabbitMqQueueType(common.queue_type)});
    if (!consumer) consumer = broker->NewConsumer();
    std::vector<std::string> lanes;
    for (const auto& queue : options.queues) lanes.push_back(fila::ExpressLane(queue));
    consumer->StartWithLanes(options.queues, static_cast<uint16_t>(options.concurrency), lanes,
                             static_cast<uint16_t>(options.express_slots));
  });
  if (code != 0) return code;

  spdlog::info("worker {} consuming [{}] with {} slots and {} express slots", options.worker_id,
               queues, options.concurrency, options.express_slots);
  code = runtime->Run(std::move(consumer), stop);
  const auto& c = runtime->Counters();
  spdlog::info(
      "worker {} stopped: claimed={} finished={} stale={} duplicates={} poison={} abandoned={} "
      "handed_back={}",
      options.worker_id, c.claimed.load(), c.finished.load(), c.stale_finishes.load(),
      c.duplicates.load(), c.poison.load(), c.abandoned.load(), c.handed_back.load());
  // Abandoned handler threads may still be running: no unwinding.
  fila::daemon::Exit(code);
}

}  // namespace fila
