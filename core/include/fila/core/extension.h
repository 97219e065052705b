#pragma once

// A job kind as an extension (docs/extensions.md): one folder with its
// payload proto, handler, store, migrations, task types, binding kinds and
// CLI commands, described by one Extension value. fila's own kinds are
// listed once (extensions/extensions.cpp) and every fila binary installs
// that list; a worker built with the C++ SDK passes its own
// (WorkerSetup::extensions, fila/sdk.h). Core names no kind.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fila/core/handler.h"
#include "fila/core/state_store.h"
#include "fila/core/task_types.h"
#include "fila/core/tenant.h"

namespace fila {

// What a worker gives the handlers it runs (fila/sdk.h).
struct WorkerServices;

// One option of an extension's CLI command. `name` is "--flag-name" for an
// option, or a bare word for a positional argument ("query").
struct CliOption {
  // kTextList: one or more values (a positional "paths" takes every word
  // left); read with CliInvocation::List.
  enum class Kind { kText, kNumber, kFlag, kTextList };
  std::string name;
  std::string help;
  Kind kind = Kind::kText;
  bool required = false;
};

// What the CLI hands a command when it runs: the options given and where
// tasks go. Valid during the call.
struct CliInvocation {
  std::map<std::string, std::string> values;  // option name -> text; flags "true"; absent: not given
  std::map<std::string, std::vector<std::string>> lists;  // kTextList options given
  std::string database_url;                   // "" when neither given nor in FILA_DATABASE_URL
  // Enqueues tasks through the CLI's backend, which prepares each request
  // once: in the CLI for the database, on the server with --api. Throws
  // PermanentError for bad input, TransientError when unreachable. Unset
  // for database-only commands.
  std::function<std::vector<EnqueueResult>(const std::vector<TaskRequest>&)> enqueue;
  std::string target;  // where enqueue goes, passwords masked (for messages)

  // The option's text, or `fallback` when it was not given.
  std::string Text(const std::string& name, const std::string& fallback = {}) const;
  // The option as a whole number; nullopt when not given; PermanentError
  // naming the option when it is not one.
  std::optional<int64_t> Number(const std::string& name) const;
  bool Flag(const std::string& name) const;
  // The values of a kTextList option; empty when not given.
  std::vector<std::string> List(const std::string& name) const;
};

// A command an extension adds to the `fila` CLI, e.g. {"reports",
// "rebuild"}: `fila reports rebuild`. A one-word path whose `run` is unset
// only gives its group's help line.
struct CliCommand {
  std::vector<std::string> path;
  std::string help;
  std::vector<CliOption> options;
  // Reads the database itself: needs --database-url, refuses --api.
  bool database_only = false;
  // Needs neither the database nor the API (works on local files only).
  bool local_only = false;
  // Also serves `fila stats --type <stats_of_type>` (its options: --json).
  std::string stats_of_type;
  // Prints its results on stdout. PermanentError: bad input (exit 2); any
  // other error: exit 1.
  std::function<void(const CliInvocation&)> run;
};

// A call of an extension's HTTP route (ApiRoute), after the API checked the
// caller's token.
struct ApiRouteCall {
  std::string database_url;
  // The caller's tenant; "" for an operator, who sees every tenant. A
  // route answers a producer about its own tenant only.
  std::string tenant;
  std::map<std::string, std::string> query;
};

// A read-only JSON route an extension adds to fila-scheduler's HTTP API
// (GET only, behind the same bearer token check as every route).
struct ApiRoute {
  std::string path;  // exact, under /v1/<extension name>/, e.g. "/v1/diario/backfills"
  // The JSON body of a 200 answer. PermanentError: 400 naming its field;
  // TransientError: 503. Called from many API threads at once.
  std::function<std::string(const ApiRouteCall&)> get;
};

struct Extension {
  std::string name;  // [a-z0-9_-], unique: the folder under extensions/
  // Task types compiled in with the extension (version 0): every binary
  // that installs it knows them. A compiled-in payload message must be
  // linked: name it through its descriptor
  // (MyPayload::descriptor()->full_name()).
  std::vector<TaskTypeSpec> types;
  // What operators may bind to tenants for these types (tenant.h).
  std::vector<BindingKind> binding_kinds;
  // Registers the handlers of `types` on a worker (fila/sdk.h). Throws
  // PermanentError for a bad setting of the worker's environment: the
  // worker then exits 2 before it consumes anything. Whatever the handlers
  // keep from `services` lives as long as the worker.
  std::function<void(HandlerRegistry&, const WorkerServices&)> register_handlers;
  std::vector<CliCommand> commands;
  std::vector<ApiRoute> routes;
};

// The installed extensions' route of `path`, or null.
const ApiRoute* FindExtensionRoute(const std::string& path);

// Installs the extensions of this process: their types join
// TaskTypes::Builtin(), their binding kinds BindingKinds(), their commands
// the CLI. Call it once at the start of main, before any other thread runs
// (a later call replaces the set; tests use that). Throws PermanentError
// when two extensions share a name, a type or a binding kind, or take one
// of core's ("noop", "queue", ...).
void InstallExtensions(std::vector<Extension> extensions);
const std::vector<Extension>& InstalledExtensions();

}  // namespace fila
