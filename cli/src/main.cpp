// fila: the operator and producer command line.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "extension_commands.h"
#include "fila/core/config.h"
#include "fila/core/tenant.h"
#include "fila/extensions/extensions.h"

int main(int argc, char** argv) {
  using namespace fila::cli;
  // The job kinds: their types, binding kinds and commands.
  fila::InstallExtensions(fila::BuiltinExtensions());
  spdlog::set_default_logger(spdlog::stderr_color_mt("fila"));  // stdout is for results
  CLI::App app{"fila: a durable, prioritized task queue"};
  app.require_subcommand(1);
  std::string database_url = fila::EnvOr("FILA_DATABASE_URL", "");
  app.add_option("--database-url", database_url, "PostgreSQL URL (env FILA_DATABASE_URL)");
  std::string api_url = fila::EnvOr("FILA_API_URL", "");
  std::string api_token = fila::EnvOr("FILA_API_TOKEN", "");
  app.add_option("--api", api_url,
                 "Go through the HTTP API at this URL instead of the database (env FILA_API_URL)");
  app.add_option("--token", api_token, "API bearer token (env FILA_API_TOKEN)");
  spdlog::set_pattern("%v");

  std::string direction;
  auto* migrate = app.add_subcommand("migrate", "Apply, revert or show schema migrations");
  migrate->add_option("direction", direction, "up | down | status")
      ->required()
      ->check(CLI::IsMember({"up", "down", "status"}));

  EnqueueArgs enqueue_args;
  auto* enqueue = app.add_subcommand("enqueue", "Create tasks; prints their ids");
  enqueue->add_option("type", enqueue_args.type, "Task type, e.g. noop, sleep, flaky")->required();
  auto* json_opt = enqueue->add_option("--payload-json", enqueue_args.payload_json,
                                       "Payload in protobuf's JSON mapping");
  enqueue->add_option("--payload-file", enqueue_args.payload_file, "File with the JSON payload (- for stdin)")
      ->excludes(json_opt);
  enqueue->add_option("--priority", enqueue_args.priority, "0 (lowest) to 9 (highest)");
  enqueue->add_option("--queue", enqueue_args.queue, "Queue (default: the type's, usually 'default')");
  enqueue->add_option("--count", enqueue_args.count, "How many identical tasks")
      ->check(CLI::Range(1u, 1000000u));
  enqueue->add_option("--idempotency-key", enqueue_args.idempotency_key,
                      "A repeated enqueue with this key returns the existing task");
  enqueue->add_option("--tenant", enqueue_args.tenant, "Tenant owning the task");
  enqueue->add_option("--max-attempts", enqueue_args.max_attempts, "Attempts before the task is dead");
  enqueue->add_option("--timeout-ms", enqueue_args.timeout_ms, "Run time budget per attempt");
  enqueue->add_option("--retry-base-ms", enqueue_args.retry_base_ms,
                      "Backoff base: retry n waits up to base*2^(n-1) (default: the type's)");
  enqueue->add_option("--retry-cap-ms", enqueue_args.retry_cap_ms,
                      "Longest backoff between attempts (default: the type's)");
  auto* delay_opt = enqueue->add_option("--delay", enqueue_args.delay,
                                        "Start this long from now: 30s, 5m, 1h30m, 2d");
  enqueue->add_option("--at", enqueue_args.at,
                      "Start at this RFC 3339 time, e.g. 2026-12-01T06:00:00-03:00")
      ->excludes(delay_opt);
  enqueue->add_option("--depends-on", enqueue_args.depends_on,
                      "Task id that must succeed first (repeatable); the task waits as blocked")
      ->delimiter(',');
  enqueue->add_option("--limit-key", enqueue_args.limit_key,
                      "Limit key shared with other tasks (e.g. an account); default: the type's");
  enqueue->add_option("--limit-concurrency", enqueue_args.limit_concurrency,
                      "At most this many tasks of the limit key run at once, across all workers");
  enqueue->add_option("--limit-rate", enqueue_args.limit_rate,
                      "At most N starts of the limit key per period, e.g. 60/1m");

  std::string id;
  bool json = false;
  auto* get = app.add_subcommand("get", "Show one task with its attempts");
  get->add_option("id", id, "Task id")->required();
  get->add_flag("--json", json, "Print JSON");
  bool tree = false;
  get->add_flag("--tree", tree, "Show the task and the tasks it enqueued, as a tree");

  ListArgs list_args;
  auto* list = app.add_subcommand("list", "List tasks, newest first");
  list->add_option("--state", list_args.state, "Only tasks in this state");
  list->add_option("--type", list_args.type, "Only tasks of this type");
  list->add_option("--queue", list_args.queue, "Only tasks of this queue");
  list->add_option("--limit", list_args.limit, "At most this many")->check(CLI::Range(1u, 100000u));
  list->add_flag("--json", list_args.json, "Print JSON");

  auto* stats = app.add_subcommand("stats", "Task counts by queue and state");
  stats->add_flag("--json", json, "Print JSON");
  // The job kinds' own commands come from their extensions.
  const ExtensionCommands extension_commands(app);
  std::string stats_type;
  const auto stats_types = extension_commands.StatsTypes();
  std::string stats_type_list;
  for (const auto& t : stats_types) stats_type_list += (stats_type_list.empty() ? "" : ", ") + t;
  stats->add_option("--type", stats_type, "A job kind's own figures (" + stats_type_list + ")")
      ->check(CLI::IsMember(stats_types));

  auto* cancel = app.add_subcommand("cancel", "Cancel a task: at once if not running, else by its worker");
  cancel->add_option("id", id, "Task id")->required();

  std::string retry_type;
  bool retry_dead = false;
  auto* retry = app.add_subcommand("retry", "Queue a failed, dead or cancelled task again");
  auto* retry_id = retry->add_option("id", id, "Task id");
  retry->add_flag("--dead", retry_dead, "Replay every dead task")->excludes(retry_id);
  auto* dead_flag = retry->get_option("--dead");
  retry->add_option("--type", retry_type, "With --dead: only tasks of this type")->needs(dead_flag);

  auto* dead = app.add_subcommand("dead", "Dead tasks (attempts exhausted)");
  dead->require_subcommand(1);
  ListArgs dead_args;
  dead_args.state = "dead";
  auto* dead_list = dead->add_subcommand("list", "List dead tasks, newest first");
  dead_list->add_option("--type", dead_args.type, "Only tasks of this type");
  dead_list->add_option("--queue", dead_args.queue, "Only tasks of this queue");
  dead_list->add_option("--limit", dead_args.limit, "At most this many")->check(CLI::Range(1u, 100000u));
  dead_list->add_flag("--json", dead_args.json, "Print JSON");

  auto* tokens = app.add_subcommand("tokens", "API tokens of tenants");
  tokens->require_subcommand(1);
  std::string token_tenant;
  std::string token_role;
  auto* tokens_create = tokens->add_subcommand("create", "Create a token and print it (once)");
  tokens_create->add_option("--tenant", token_tenant, "Tenant the token acts for")->required();
  tokens_create->add_option("--role", token_role, "producer (own tenant) or operator (all)")
      ->required()
      ->check(CLI::IsMember({"producer", "operator"}));
  auto* tokens_list = tokens->add_subcommand("list", "List tokens (never their secrets)");
  tokens_list->add_flag("--json", json, "Print JSON");
  auto* tokens_revoke = tokens->add_subcommand("revoke", "Revoke a token by its id");
  tokens_revoke->add_option("id", id, "Token id (from tokens list)")->required();

  TenantArgs tenant_args;
  auto* tenants = app.add_subcommand(
      "tenants", "What operators allow each tenant: bound queues, accounts, upload targets, folders, quotas");
  tenants->require_subcommand(1);
  std::string binding_kinds;
  std::string binding_names;
  for (const auto& k : fila::BindingKinds()) {
    binding_kinds += "\n  " + k.name + ": " + k.description;
    binding_names += (binding_names.empty() ? "" : " | ") + k.name;
  }
  tenants->footer("Binding kinds:" + binding_kinds);
  auto* tenants_list = tenants->add_subcommand("list", "Every tenant with settings");
  tenants_list->add_flag("--json", tenant_args.json, "Print JSON");
  auto* tenants_get = tenants->add_subcommand("get", "One tenant's bindings and quotas");
  tenants_get->add_option("name", tenant_args.name, "Tenant")->required();
  tenants_get->add_flag("--json", tenant_args.json, "Print JSON");
  auto* tenants_set = tenants->add_subcommand("set", "Create a tenant or change its quotas");
  tenants_set->add_option("name", tenant_args.name, "Tenant")->required();
  tenants_set->add_option("--max-waiting", tenant_args.max_waiting,
                          "Tasks it may have queued, scheduled or blocked (429 beyond)");
  tenants_set->add_option("--max-schedules", tenant_args.max_schedules, "Cron schedules it may have");
  tenants_set->add_option("--min-cron-interval", tenant_args.min_cron_interval_s,
                          "Shortest gap in seconds between two slots of its cron schedules");
  tenants_set->add_option("--weight", tenant_args.weight,
                          "Its share of the workers against other tenants, 1..1000 (docs/fairness.md)");
  for (const char* action : {"bind", "unbind"}) {
    auto* sub = tenants->add_subcommand(
        action, std::string(action == std::string("bind") ? "Allow" : "Stop allowing") +
                    " a tenant a queue, or what a job kind's binding names (an account, a URL, a folder)");
    sub->add_option("name", tenant_args.name, "Tenant")->required();
    sub->add_option("kind", tenant_args.kind, binding_names)->required();
    sub->add_option("value", tenant_args.value, "The queue, account, URL prefix or folder")->required();
  }
  auto* tenants_delete = tenants->add_subcommand("delete", "Delete a tenant's settings (its tasks stay)");
  tenants_delete->add_option("name", tenant_args.name, "Tenant")->required();

  TypeArgs type_args;
  auto* types = app.add_subcommand("types", "Task types as data: register, list, show and delete them");
  types->require_subcommand(1);
  auto* types_apply = types->add_subcommand("apply", "Register the types of a YAML file (a change: a new version)");
  types_apply->add_option("-f,--file", type_args.file, "YAML file (docs/types.md)")->required();
  types_apply->add_flag("--dry-run", type_args.dry_run, "Check the file only");
  auto* types_list = types->add_subcommand("list", "Every type, built-in ones too");
  types_list->add_flag("--all-versions", type_args.all_versions, "Every version of the registered types");
  types_list->add_flag("--json", type_args.json, "Print JSON");
  auto* types_get = types->add_subcommand("get", "One type");
  types_get->add_option("name", type_args.name, "Type name")->required();
  types_get->add_option("--version", type_args.version, "One version (default: the latest)");
  types_get->add_flag("--all-versions", type_args.all_versions, "Every version");
  types_get->add_flag("--json", type_args.json, "Print JSON");
  auto* types_delete = types->add_subcommand("delete", "No new task of the type; queued ones still run");
  types_delete->add_option("name", type_args.name, "Type name")->required();

  ScheduleArgs schedule_args;
  auto* schedules = app.add_subcommand("schedules", "Cron schedules (fired by the leader scheduler)");
  schedules->require_subcommand(1);
  schedules->add_option("--tenant", schedule_args.tenant, "Tenant (with the database)");
  auto* sched_add = schedules->add_subcommand("add", "Add a schedule; prints it");
  sched_add->add_option("--name", schedule_args.name, "Unique per tenant")->required();
  sched_add->add_option("--cron", schedule_args.cron,
                        "5 fields (or 6 with seconds first), e.g. \"0 6 * * 1-5\", or @daily")
      ->required();
  sched_add->add_option("--tz", schedule_args.timezone, "IANA time zone (default UTC)");
  sched_add->add_option("--type", schedule_args.type, "Task type of each slot")->required();
  sched_add->add_option("--payload-json", schedule_args.payload_json, "Payload of each slot's task");
  sched_add->add_option("--queue", schedule_args.queue, "Queue (default: the type's)");
  sched_add->add_option("--priority", schedule_args.priority, "0 (lowest) to 9 (highest)");
  sched_add->add_option("--max-attempts", schedule_args.max_attempts, "Attempts of each slot's task");
  sched_add->add_option("--timeout-ms", schedule_args.timeout_ms, "Run time budget per attempt");
  sched_add->add_option("--catch-up", schedule_args.catch_up,
                        "After downtime: skip missed slots, or run the latest one once")
      ->check(CLI::IsMember({"skip", "latest"}));
  sched_add->add_flag("--json", schedule_args.json, "Print JSON");
  auto* sched_list = schedules->add_subcommand("list", "List schedules");
  sched_list->add_flag("--json", schedule_args.json, "Print JSON");
  for (const char* action : {"pause", "resume", "delete"}) {
    auto* sub = schedules->add_subcommand(action, std::string(action) + " a schedule");
    sub->add_option("name", schedule_args.name, "Schedule name")->required();
  }
  ConsoleArgs console_args;
  auto* sched_run = schedules->add_subcommand("run", "Enqueue a schedule's task now (operators; --api)");
  sched_run->add_option("name", console_args.id, "Schedule name")->required();
  sched_run->add_flag("--json", console_args.json, "Print JSON");

  auto* bulk = app.add_subcommand(
      "bulk", "Retry, cancel or delete every task matching a filter, as a background job (operators; --api)");
  bulk->require_subcommand(1);
  for (const char* action : {"retry", "cancel", "delete"}) {
    auto* sub = bulk->add_subcommand(action, std::string("Bulk ") + action + " of the tasks matching the filter");
    sub->add_option("--state", console_args.state, "State, or several joined by commas (dead,failed)");
    sub->add_option("--type", console_args.type, "Task type");
    sub->add_option("--queue", console_args.queue, "Queue");
    sub->add_option("--tenant", console_args.tenant, "Tenant");
    sub->add_option("--priority", console_args.priority, "Priority 0-9")->check(CLI::Range(0, 9));
    sub->add_option("--created-after", console_args.created_after, "RFC 3339 time");
    sub->add_option("--created-before", console_args.created_before, "RFC 3339 time");
    sub->add_option("--where", console_args.where, "Payload condition, e.g. 'args.account = \"acme\"'");
    sub->add_flag("--dry-run", console_args.dry_run, "Only count the matching tasks");
    sub->add_option("--name", console_args.name, "A label for the job");
    sub->add_flag("--wait", console_args.wait, "Follow the job's progress until it ends");
    sub->add_flag("--json", console_args.json, "Print JSON");
  }
  bulk->add_subcommand("list", "Bulk jobs, newest first")->add_flag("--json", console_args.json, "Print JSON");
  auto* bulk_get = bulk->add_subcommand("get", "One bulk job and its progress");
  bulk_get->add_option("id", console_args.id, "Bulk job id")->required();
  bulk_get->add_flag("--json", console_args.json, "Print JSON");

  auto* audit = app.add_subcommand("audit", "The audit log of operator actions, newest first (operators; --api)");
  audit->add_option("--limit", console_args.limit, "Entries per page (default 50)")->check(CLI::Range(1u, 500u));
  audit->add_option("--cursor", console_args.id, "The next_cursor of the previous page");
  audit->add_flag("--json", console_args.json, "Print JSON");

  auto* workers = app.add_subcommand("workers", "Workers (operators; --api)");
  workers->require_subcommand(1);
  auto* workers_drain = workers->add_subcommand("drain", "The worker takes no new task and finishes its running ones");
  workers_drain->add_option("id", console_args.id, "Worker id (fila top, GET /v1/workers)")->required();
  workers_drain->add_flag("--json", console_args.json, "Print JSON");

  std::string queue_name;
  auto* queues = app.add_subcommand(
      "queues", "Queues: counts by state and pauses; pause or resume one (operators)");
  queues->require_subcommand(1);
  auto* queues_list = queues->add_subcommand("list", "Every queue, its tasks by state, paused or not");
  queues_list->add_flag("--json", json, "Print JSON");
  queues->add_subcommand("pause", "Workers start none of the queue's tasks until it is resumed; "
                                  "they wait queued, attempts untouched")
      ->add_option("name", queue_name, "Queue")
      ->required();
  queues->add_subcommand("resume", "Start the queue's tasks again")
      ->add_option("name", queue_name, "Queue")
      ->required();

  double timeout_s = 60;
  auto* wait = app.add_subcommand("wait", "Block until no task is queued, scheduled or running");
  wait->add_option("--timeout", timeout_s, "Give up after this many seconds (exit 1)")
      ->check(CLI::Range(0.0, 86400.0));

  TopArgs top_args;
  auto* top = app.add_subcommand("top", "Live view of the workers, their running tasks and the queues");
  top->add_option("--interval-ms", top_args.interval_ms, "Refresh period (default 1000)")
      ->check(CLI::Range(100u, 3600000u));
  top->add_flag("--once", top_args.once, "Print one frame, without terminal control, and exit");
  top->add_option("--width", top_args.width,
                  "Columns to fit (default: the terminal's, else $COLUMNS, else 80)")
      ->check(CLI::Range(20u, 1000u));
  top->footer(
      "On a terminal the view refreshes in place; q or Ctrl-C quits. When stdout is not a\n"
      "terminal, a plain frame is printed every interval (like top -b) until SIGINT or\n"
      "SIGTERM. Task ids show in full from 100 columns, else their first 8 characters.\n"
      "RATE (finished tasks/s, from the workers' heartbeats) needs two refreshes: - in\n"
      "--once. Errors show on the status line and are retried; a rejected token exits 2.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every usage error exits 2, like every other bad input.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (auto code = extension_commands.Run(database_url, api_url, api_token)) return *code;
  if (*bulk) {
    for (const auto* sub : bulk->get_subcommands()) console_args.action = sub->get_name();
    return Console(api_url, api_token, "bulk", console_args);
  }
  if (*audit) return Console(api_url, api_token, "audit", console_args);
  if (*workers_drain) return Console(api_url, api_token, "workers drain", console_args);
  if (*sched_run) return Console(api_url, api_token, "schedules run", console_args);
  if (*stats && !stats_type.empty()) return extension_commands.RunStats(stats_type, database_url, json);

  // migrate and tokens administer the database itself.
  const bool database_only = *migrate || *tokens || *tenants || *types;
  if (database_only || api_url.empty()) {
    if (database_url.empty()) {
      spdlog::error("error: no database: set --database-url or FILA_DATABASE_URL{}",
                    database_only ? "" : " (or --api and --token)");
      return kUsage;
    }
  } else if (api_token.empty()) {
    spdlog::error("error: --api needs --token (or FILA_API_TOKEN)");
    return kUsage;
  }
  if (api_url.empty() && !database_url.empty()) UseTypesOf(database_url);
  if (*migrate) return Migrate(database_url, direction);
  if (*tokens_create) return TokensCreate(database_url, token_tenant, token_role);
  if (*tokens_list) return TokensList(database_url, json);
  if (*tokens_revoke) return TokensRevoke(database_url, id);
  if (*types) {
    for (const auto* sub : types->get_subcommands()) return Types(database_url, sub->get_name(), type_args);
  }
  if (*tenants) {
    for (const auto* sub : tenants->get_subcommands()) {
      if (*sub) return Tenants(database_url, sub->get_name(), tenant_args);
    }
  }

  auto backend = api_url.empty() ? DatabaseBackend(database_url) : ApiBackend(api_url, api_token);
  if (*enqueue) return Enqueue(*backend, enqueue_args);
  if (*get) return tree ? GetTree(*backend, id, json) : Get(*backend, id, json);
  if (*schedules) {
    for (const auto* sub : schedules->get_subcommands()) {
      return Schedules(*backend, sub->get_name(), schedule_args);
    }
  }
  if (*queues) {
    for (const auto* sub : queues->get_subcommands()) {
      return Queues(*backend, sub->get_name(), queue_name, json);
    }
  }
  if (*list) return List(*backend, list_args);
  if (*stats) return Stats(*backend, json);
  if (*wait) return Wait(*backend, timeout_s);
  if (*cancel) return Cancel(*backend, id);
  if (*retry) {
    if (retry_dead) return RetryDead(*backend, retry_type);
    if (id.empty()) {
      spdlog::error("error: retry needs a task id or --dead");
      return kUsage;
    }
    return Retry(*backend, id);
  }
  if (*dead_list) return List(*backend, dead_args);
  if (*top) return Top(*backend, top_args);
  return kUsage;
}
