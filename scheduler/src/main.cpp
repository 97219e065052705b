// fila-scheduler: relays the outbox to the broker and releases due tasks.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "fila/api/api_server.h"
#include "fila/broker_rabbitmq/rabbitmq_broker.h"
#include "fila/core/config.h"
#include "fila/core/process.h"
#include "fila/daemon/bootstrap.h"
#include "fila/extensions/extensions.h"
#include "fila/metrics/metrics_server.h"
#include "fila/scheduler/ingest.h"
#include "fila/scheduler/relay.h"
#include "fila/scheduler/sampler.h"
#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/tenant_store_pg.h"

int main(int argc, char** argv) {
  // The job kinds: their types (validated at enqueue) and binding kinds.
  fila::InstallExtensions(fila::BuiltinExtensions());
  CLI::App app{"fila-scheduler: publishes queued tasks to RabbitMQ"};
  fila::RelayOptions options;
  fila::daemon::CommonFlags common;
  const std::string& database_url = common.database_url;
  const std::string& amqp_url = common.amqp_url;
  int sample_ms = 5000;
  options.failpoint = fila::EnvOr("FILA_FAILPOINT", "");
  fila::ApiOptions api_options;
  api_options.listen = fila::EnvOr("FILA_API_LISTEN", "127.0.0.1:8080");
  size_t max_payload = api_options.limits.max_payload_bytes;
  int sweep_ms = 1000;
  int worker_timeout_ms = 10000;
  int reap_interval_ms = 1000;
  int cron_grace_s = 60;
  fila::daemon::AddServerFlags(app, common);
  app.add_option("--batch", options.batch, "Outbox rows published per confirm batch")
      ->check(CLI::Range(1, 10000));
  app.add_option("--relay-in-flight", options.in_flight,
                 "Outbox batches published and not yet confirmed at once; 1 waits for each "
                 "batch's confirms before the next (env FILA_RELAY_IN_FLIGHT)")
      ->envname("FILA_RELAY_IN_FLIGHT")
      ->check(CLI::Range(1, 64));
  app.add_option("--sweep-interval-ms", sweep_ms, "Outbox sweep and due-task release period")
      ->check(CLI::Range(10, 600000));
  app.add_option("--worker-timeout-ms", worker_timeout_ms,
                 "A worker silent this long is dead: its running tasks are retried")
      ->check(CLI::Range(100, 3600000));
  app.add_option("--reap-interval-ms", reap_interval_ms, "How often lost tasks are looked for")
      ->check(CLI::Range(10, 600000));
  int republish_after_s = 60;
  app.add_option("--republish-after", republish_after_s,
                 "Seconds a queued task may stay unclaimed after its publish before the leader "
                 "publishes it again, if its broker queue lacks it (a purge, a deleted queue); "
                 "0: never (env FILA_REPUBLISH_AFTER)")
      ->envname("FILA_REPUBLISH_AFTER")
      ->check(CLI::Range(0, 86400));
  options.dispatch.window = fila::kDefaultDispatchWindow;
  app.add_option("--dispatch-window", options.dispatch.window,
                 "Ready messages a work queue may hold in the broker; the rest waits in the "
                 "outbox, served fairly between tenants and aged (docs/fairness.md); 0: no "
                 "window, everything is published at once, with no fairness and no aging "
                 "(default 256, env FILA_DISPATCH_WINDOW)")
      ->envname("FILA_DISPATCH_WINDOW")
      ->check(CLI::Range(0, 1000000));
  std::string priority_aging = fila::kDefaultPriorityAging;
  app.add_option("--priority-aging", priority_aging,
                 "Wait that raises a task's priority by one level: '30s' for every queue, or "
                 "'default=30s,reports=5s,bulk=0' per queue; 0: no aging "
                 "(env FILA_PRIORITY_AGING)")
      ->envname("FILA_PRIORITY_AGING");
  app.add_option("--cron-grace", cron_grace_s,
                 "Seconds a cron slot may be late and still run; older slots were missed "
                 "(the schedule's catch-up policy decides)")
      ->check(CLI::Range(1, 86400));
  app.add_option("--api-listen", api_options.listen,
                 "HTTP API address HOST:PORT, or 'off' (env FILA_API_LISTEN)");
  std::string console = "on";
  app.add_option("--console", console,
                 "Serve the web console at /ui on the API's listener: on|off (env FILA_CONSOLE)")
      ->envname("FILA_CONSOLE")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--max-payload-bytes", max_payload, "Largest task payload the API accepts")
      ->check(CLI::Range(size_t{1}, size_t{64} << 20));
  int token_cache_ms = 5000;
  app.add_option("--api-token-cache-ms", token_cache_ms,
                 "How long a checked token is trusted; a revocation takes this long to bite")
      ->check(CLI::Range(0, 600000));
  app.add_option("--api-db-connections", api_options.database_connections,
                 "Database connections of the HTTP API")
      ->check(CLI::Range(size_t{1}, size_t{256}));
  app.add_option("--api-threads", api_options.threads,
                 "Threads of the HTTP server; single enqueues hold none while they wait for "
                 "their commit (0: cpprestsdk's default of 40) (env FILA_API_THREADS)")
      ->envname("FILA_API_THREADS")
      ->check(CLI::Range(size_t{0}, size_t{512}));
  int body_timeout_ms = 10000;
  app.add_option("--api-body-timeout-ms", body_timeout_ms,
                 "A request body must arrive within this after its headers (else 408)")
      ->check(CLI::Range(100, 600000));
  fila::ApiLimits& limits = api_options.admission;
  app.add_option("--api-max-in-flight", limits.in_flight,
                 "Requests read or handled at once; past it 503 (0: no limit)");
  app.add_option("--api-max-in-flight-per-tenant", limits.in_flight_per_tenant,
                 "Requests of one tenant at once; past it 429 (0: no limit)");
  app.add_option("--api-max-in-flight-per-client", limits.in_flight_per_client,
                 "Requests from one client address at once; past it 429 (0: no limit; behind a "
                 "proxy every request comes from the proxy)");
  app.add_option("--api-max-streams", limits.streams,
                 "Open event streams (GET /v1/tasks/{id}/events); past it 503 (0: no limit)");
  app.add_option("--api-max-streams-per-tenant", limits.streams_per_tenant,
                 "Open event streams of one tenant; past it 429 (0: no limit)");
  fila::ApiBackpressure& pressure = api_options.backpressure;
  int max_commit_latency_ms = static_cast<int>(pressure.max_commit_latency.count());
  app.add_option("--max-commit-latency-ms", max_commit_latency_ms,
                 "Enqueues are refused 429 (the tenants with the most requests waiting first) while "
                 "recent group commits take longer than this; 0: off (env FILA_MAX_COMMIT_LATENCY_MS)")
      ->envname("FILA_MAX_COMMIT_LATENCY_MS")
      ->check(CLI::Range(0, 600000));
  app.add_option("--max-backlog", pressure.max_backlog,
                 "Enqueues are refused 429 (the tenants above their share first) while more tasks "
                 "than this are queued, as last sampled; 0: off (env FILA_MAX_BACKLOG)")
      ->envname("FILA_MAX_BACKLOG")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--api-max-enqueue-queue", pressure.max_queued,
                 "Single enqueues that may wait for a group commit; past it 429 "
                 "(env FILA_API_MAX_ENQUEUE_QUEUE)")
      ->envname("FILA_API_MAX_ENQUEUE_QUEUE")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  app.add_option("--api-enqueue-committers", pressure.committers,
                 "Group commits of single enqueues in flight at once, each on its own database "
                 "connection (env FILA_API_ENQUEUE_COMMITTERS)")
      ->envname("FILA_API_ENQUEUE_COMMITTERS")
      ->check(CLI::Range(size_t{1}, size_t{16}));
  int drain_s = 10;
  app.add_option("--drain-timeout", drain_s,
                 "Seconds the scheduler may take to stop after SIGTERM; past them it exits anyway")
      ->check(CLI::Range(1, 3600));
  fila::daemon::AddStartupTimeoutFlag(app, common);
  // On by default: every replica serves fila.ingest, so replicas add ingest
  // throughput.
  const std::string ingest_env = fila::EnvOr("FILA_INGEST", "on");
  bool ingest_enabled = ingest_env != "off" && ingest_env != "false" && ingest_env != "0" &&
                        ingest_env != "no";
  fila::IngestOptions ingest_options;
  app.add_option("--ingest", ingest_enabled,
                 "Consume EnqueueRequests from the AMQP queue fila.ingest: true|false "
                 "(env FILA_INGEST=off disables)");
  app.add_option("--ingest-prefetch", ingest_options.prefetch,
                 "Unacked ingest messages held at once; also the largest ingest batch")
      ->check(CLI::Range(1, 10000));
  std::string ingest_tenants = fila::EnvOr("FILA_INGEST_TENANTS", "");
  app.add_option("--ingest-tenants", ingest_tenants,
                 "Tenants an AMQP request may name (comma-separated; the first for requests naming "
                 "none), queues then as their producers; empty: any tenant and queue, whoever may "
                 "publish to fila.ingest is trusted like an operator (env FILA_INGEST_TENANTS)");
  bool test_types = fila::EnvFlag("FILA_ENABLE_TEST_TYPES");
  app.add_flag("--enable-test-types", test_types,
               "Accept tasks of the types that test fila itself (sleep, flaky, fanout); never in "
               "production (env FILA_ENABLE_TEST_TYPES=1)");
  int tenant_cache_ms = 5000;
  app.add_option("--tenant-cache-ms", tenant_cache_ms,
                 "How long a tenant's bindings and quotas are trusted; a change takes this long to bite")
      ->check(CLI::Range(0, 600000));
  fila::TenantQuotaDefaults quota_defaults;
  app.add_option("--tenant-max-waiting", quota_defaults.max_waiting,
                 "Tasks a tenant may have waiting (queued, scheduled, blocked) unless its settings "
                 "say otherwise; over it enqueues answer 429")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--tenant-max-schedules", quota_defaults.max_schedules,
                 "Cron schedules a tenant may have unless its settings say otherwise")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  app.add_option("--tenant-min-cron-interval", quota_defaults.min_cron_interval_s,
                 "Shortest gap in seconds between two slots of a tenant's cron schedule unless its "
                 "settings say otherwise")
      ->check(CLI::Range(int64_t{0}, int64_t{86400} * 366));
  fila::daemon::AddObservabilityFlags(app, common);
  app.add_option("--sample-interval-ms", sample_ms,
                 "How often the queue gauges are sampled from PostgreSQL")
      ->check(CLI::Range(100, 3600000));
  if (auto exit_now = fila::daemon::ParseFlags(app, argc, argv)) return *exit_now;
  static const std::string program = "fila-scheduler";
  if (int code = fila::daemon::StartLogging(program, common)) return code;
  api_options.console = console == "on";
  options.sweep_interval = std::chrono::milliseconds(sweep_ms);
  options.worker_timeout = std::chrono::milliseconds(worker_timeout_ms);
  options.reap_interval = std::chrono::milliseconds(reap_interval_ms);
  options.cron_grace = std::chrono::seconds(cron_grace_s);
  options.republish_after = std::chrono::seconds(republish_after_s);
  try {
    fila::ParsePriorityAging(priority_aging, options.dispatch);
  } catch (const fila::PermanentError& e) {
    spdlog::error("--priority-aging: {}", e.what());
    return fila::kExitUsage;
  }
  if (database_url.empty() || amqp_url.empty()) {
    spdlog::error("set --database-url/FILA_DATABASE_URL and --amqp-url/FILA_AMQP_URL");
    return fila::kExitUsage;
  }

  // Probes run on the metrics server's threads and see the sampler only
  // once it exists.
  std::atomic<fila::Sampler*> sampler_live{nullptr};
  fila::Readiness readiness;
  readiness.Add("database", [&]() -> std::optional<std::string> {
    auto* s = sampler_live.load();
    return s != nullptr ? s->DatabaseProblem() : "starting";
  });
  readiness.Add("broker", [&]() -> std::optional<std::string> {
    auto* s = sampler_live.load();
    return s != nullptr ? s->BrokerProblem() : "starting";
  });
  // The leader's steps (release, cron, reap, publish): which one keeps
  // failing, and why.
  std::atomic<fila::Relay*> relay_live{nullptr};
  readiness.Add("relay", [&]() -> std::optional<std::string> {
    auto* r = relay_live.load();
    return r != nullptr ? r->Problem() : std::nullopt;
  });
  std::unique_ptr<fila::MetricsServer> metrics_server;
  if (int code = fila::daemon::StartMetricsServer(common, "scheduler", readiness, metrics_server)) {
    return code;
  }
  fila::SchedulerMetrics& metrics =
      metrics_server ? metrics_server->Scheduler() : fila::NoSchedulerMetrics();

  const auto& stop = fila::InstallStopSignals();
  // Whatever hangs (a client, a server), SIGTERM ends the process within
  // the drain budget: after it, this thread exits non-zero.
  const auto drain = std::chrono::seconds(drain_s);
  std::thread([&stop, drain] {
    while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(drain);
    spdlog::error("scheduler did not stop within --drain-timeout {} s; exiting", drain.count());
    spdlog::default_logger()->flush();
    std::_Exit(fila::kExitFailure);
  }).detach();
  const fila::daemon::Startup startup(common);
  fila::PostgresStore store(database_url);
  int code = startup.Postgres(database_url, [&] {
    store.Connect();
    store.RequireSchema();
  });
  if (code != 0) return code;

  std::unique_ptr<fila::Broker> broker;
  std::unique_ptr<fila::Publisher> publisher;
  code = startup.RabbitMq(amqp_url, [&] {
    if (!broker) broker = fila::MakeRabbitMqBroker(
        {.url = amqp_url, .queue_type = fila::ParseRabbitMqQueueType(common.queue_type)});
    if (!publisher) publisher = broker->NewPublisher();
    // An empty confirmed publish opens the connection: fail fast when
    // the broker is unreachable rather than on the first task.
    publisher->PublishConfirmed({}, fila::DeadlineIn(std::chrono::seconds(5)));
  });
  if (code != 0) return code;

  api_options.limits.max_payload_bytes = max_payload;
  api_options.token_cache_ttl = std::chrono::milliseconds(token_cache_ms);
  api_options.max_body_bytes = std::max(api_options.max_body_bytes, max_payload * 2 + 4096);
  api_options.body_timeout = std::chrono::milliseconds(body_timeout_ms);
  pressure.max_commit_latency = std::chrono::milliseconds(max_commit_latency_ms);
  // Posted by the sampler below, read by the API's backpressure.
  static fila::BacklogBoard backlog;
  pressure.backlog = &backlog;
  fila::TaskTypes types =
      fila::TaskTypes::Builtin(test_types ? fila::TestTypes::kEnabled : fila::TestTypes::kDisabled);
  // Types registered as data (fila types apply).
  fila::daemon::WatchRegisteredTypes(types, database_url);
  // Every producer path checks tenants' bindings and quotas through one
  // gate; a change of a tenant's settings bites within --tenant-cache-ms.
  fila::TenantDirectory tenant_directory(fila::MakePostgresTenantStore(database_url, 4),
                                         std::chrono::milliseconds(tenant_cache_ms));
  fila::TenantGate tenant_gate(tenant_directory, quota_defaults);
  std::unique_ptr<fila::ApiServer> api;
  if (api_options.listen != "off" && !api_options.listen.empty()) {
    try {
      api = std::make_unique<fila::ApiServer>(api_options, database_url, types, tenant_gate, metrics);
      api->Start();
    } catch (const fila::PermanentError& e) {
      spdlog::error("{}", e.what());
      return fila::kExitUsage;
    } catch (const fila::Error& e) {
      spdlog::error("{}", e.what());
      return fila::kExitFailure;
    }
  }

  // The ingest consumer runs on its own thread with its own broker
  // connection and database connection (neither is thread-safe).
  ingest_options.limits = api_options.limits;
  ingest_options.tenants = fila::SplitList(ingest_tenants);
  try {
    for (const auto& t : ingest_options.tenants) fila::ValidateTenantName(t);
  } catch (const fila::PermanentError& e) {
    spdlog::error("--ingest-tenants: {}", e.what());
    return fila::kExitUsage;
  }
  if (ingest_enabled && ingest_options.tenants.empty()) {
    spdlog::warn("ingest: requests may name any tenant and queue (trusted like an operator); "
                 "restrict them with --ingest-tenants");
  }
  std::unique_ptr<fila::Consumer> ingest_consumer;
  std::unique_ptr<fila::PostgresStore> ingest_store;
  std::unique_ptr<fila::IngestConsumer> ingest;
  std::thread ingest_thread;
  if (ingest_enabled) {
    ingest_consumer = broker->NewConsumer();
    ingest_store = std::make_unique<fila::PostgresStore>(database_url);
    ingest = std::make_unique<fila::IngestConsumer>(ingest_options, *ingest_consumer,
                                                    *ingest_store, types, tenant_gate, metrics);
    ingest_thread = std::thread([&] {
      // Never takes the scheduler down: a failure it did not expect is
      // logged and the consumer subscribes again.
      while (!stop.load()) {
        try {
          ingest->Run(stop);
        } catch (const std::exception& e) {
          spdlog::error("ingest: {}; restarting in 1 s", e.what());
          fila::SleepUnlessStopped(std::chrono::seconds(1), stop);
        }
      }
    });
  }

  fila::Sampler sampler({.interval = std::chrono::milliseconds(sample_ms),
                         .worker_timeout = options.worker_timeout,
                         .backlog = &backlog,
                         .known_queues =
                             [&types] {
                               std::vector<std::string> queues;
                               for (const auto& spec : types.All()) {
                                 if (!spec->deleted) queues.push_back(spec->default_queue);
                               }
                               return queues;
                             }},
                        std::make_unique<fila::PostgresStore>(database_url),
                        broker->NewConsumer(), metrics);
  sampler.Start();
  sampler_live = &sampler;

  spdlog::info("scheduler started (pid {})", ::getpid());
  fila::Relay relay(options, store, *publisher, types, metrics);
  relay_live = &relay;
  relay.Run(stop);
  const auto stopping = std::chrono::steady_clock::now();
  relay_live = nullptr;
  sampler_live = nullptr;
  sampler.Stop();
  if (ingest) {
    ingest->Wakeup();
    ingest_thread.join();
    spdlog::info("ingest stopped: answered {} requests with a task, {} with an error",
                 ingest->Enqueued(), ingest->Errors());
  }
  if (api) {
    // What is left of the budget, less a second for the rest of the exit.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        drain - std::chrono::seconds(1) - (std::chrono::steady_clock::now() - stopping));
    api->Stop(std::max(left, std::chrono::milliseconds(100)));
  }
  spdlog::info("scheduler stopped: published {} messages, reaped {} tasks, fired {} cron slots, "
               "republished {} tasks",
               relay.Published(), relay.Reaped(), relay.Fired(), relay.Republished());
  fila::daemon::Exit(0);
}
