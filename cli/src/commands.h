#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "fila/core/task_types.h"

namespace fila::cli {

// Exit codes shared by every command.
inline constexpr int kOk = 0;
inline constexpr int kFailure = 1;  // runtime failure: unreachable server, timeout
inline constexpr int kUsage = 2;    // bad input

struct EnqueueArgs {
  std::string type;
  std::string payload_json;
  std::string payload_file;
  std::optional<int64_t> priority;
  std::string queue;
  uint32_t count = 1;
  std::string idempotency_key;
  std::string tenant = "default";
  std::optional<int64_t> max_attempts;
  std::optional<int64_t> timeout_ms;
  std::optional<int64_t> retry_base_ms;
  std::optional<int64_t> retry_cap_ms;
  std::string delay;   // e.g. 30s, 5m, 1h30m
  std::string at;      // RFC 3339 with an offset
  std::vector<std::string> depends_on;
  std::string limit_key;
  std::optional<int64_t> limit_concurrency;
  std::string limit_rate;  // N/period, e.g. 60/1m
};

struct ScheduleArgs {
  std::string name;
  std::string cron;
  std::string timezone = "UTC";
  std::string type;
  std::string payload_json;
  std::string queue;
  std::optional<int64_t> priority;
  std::optional<int64_t> max_attempts;
  std::optional<int64_t> timeout_ms;
  std::string catch_up = "skip";
  std::string tenant = "default";
  bool json = false;
};

struct ListArgs {
  std::string state;
  std::string type;
  std::string queue;
  uint32_t limit = 50;
  bool json = false;
};

// The console's commands (console.cpp): the filter of GET /v1/tasks and
// what each command takes.
struct ConsoleArgs {
  std::string action;  // bulk: retry | cancel | delete | list | get
  std::string state, type, queue, tenant, where, created_after, created_before;
  std::optional<int64_t> priority;
  std::string name;    // a bulk job's label
  std::string id;      // bulk get ID, workers drain ID, schedules run NAME, audit --cursor
  bool dry_run = false;
  bool wait = false;   // bulk: follow the job until it ends
  bool json = false;
  uint32_t limit = 50;
};

// `command`: "bulk", "audit", "workers drain", "schedules run". Through
// the API only (--api and --token): its routes hold the rules.
int Console(const std::string& api_url, const std::string& token, const std::string& command,
            const ConsoleArgs& args);

struct TopArgs {
  uint32_t interval_ms = 1000;
  bool once = false;
  uint32_t width = 0;  // 0: the terminal's, else $COLUMNS, else 80
};

// Registered task types are read from this database (the one the CLI
// uses), when the CLI talks to a database.
void UseTypesOf(const std::string& database_url);
// The task types the CLI enqueues: the test types only with
// FILA_ENABLE_TEST_TYPES=1, as on the daemons.
TaskTypes EnqueueTypes();
// The task types it can display (all of them).
TaskTypes DisplayTypes();

struct TenantArgs {
  std::string name;
  std::string kind;
  std::string value;
  std::optional<int64_t> max_waiting;
  std::optional<int64_t> max_schedules;
  std::optional<int64_t> min_cron_interval_s;
  std::optional<int64_t> weight;
  bool json = false;
};

struct TypeArgs {
  std::string file;        // apply -f
  std::string name;
  uint32_t version = 0;    // get: one version (0: the latest)
  bool all_versions = false;
  bool dry_run = false;
  bool json = false;
};

// Each command prints its output to stdout and errors to stderr, and
// returns the process exit code. Library errors never escape.
int Migrate(const std::string& database_url, const std::string& direction);
int Enqueue(Backend& backend, const EnqueueArgs& args);
int Get(Backend& backend, const std::string& id, bool json);
// The task and the tasks its handler (and theirs) enqueued, as a tree.
int GetTree(Backend& backend, const std::string& id, bool json);
// schedules.cpp: cron schedules (action: add, list, pause, resume, delete).
int Schedules(Backend& backend, const std::string& action, const ScheduleArgs& args);
// queues.cpp: list, pause NAME, resume NAME.
int Queues(Backend& backend, const std::string& action, const std::string& name, bool json);
int List(Backend& backend, const ListArgs& args);
int Stats(Backend& backend, bool json);
int Wait(Backend& backend, double timeout_s);
int Cancel(Backend& backend, const std::string& id);
// Replays one failed, dead or cancelled task.
int Retry(Backend& backend, const std::string& id);
// Replays every dead task (of `type`, when not empty).
int RetryDead(Backend& backend, const std::string& type);
// The live view of workers and queues (top.cpp). On a terminal: q, Ctrl-C,
// SIGTERM or SIGHUP quit and restore the terminal, even while a fetch hangs
// (the process then ends with _Exit). Otherwise a plain frame every
// interval until SIGINT or SIGTERM; `once`: one frame. A permanent error
// (bad token, old schema) exits 2; others show and are retried.
int Top(Backend& backend, const TopArgs& args);
// API tokens: the token is printed once, only its hash is stored.
int TokensCreate(const std::string& database_url, const std::string& tenant, const std::string& role);
int TokensList(const std::string& database_url, bool json);
int TokensRevoke(const std::string& database_url, const std::string& id);
// tenants.cpp: what operators allow each tenant (action: list, get, set,
// bind, unbind, delete), in the database.
int Tenants(const std::string& database_url, const std::string& action, const TenantArgs& args);
// types.cpp: task types as data (action: apply, list, get, delete), in the
// database.
int Types(const std::string& database_url, const std::string& action, const TypeArgs& args);

}  // namespace fila::cli
