// Exec handlers next to the built-in noop: the same burn-down, once with
// noop tasks and once with tasks of a registered type whose command is
// `true`, so that the figure is the price of a process per task (fork and
// exec of fila-exec-shim and of the command, pipes, reaping) measured
// against a baseline of the same run.
#include <cstdio>

#include "fila/core/type_definition.h"
#include "fila/store_postgres/type_store_pg.h"
#include "fila/v1/types.pb.h"
#include "fila_run.h"
#include "scenarios.h"

namespace fila::bench {
namespace {

constexpr const char* kExecType = "bench.exec_true";

NewTask ExecTrueTask(const std::string& database_url, const std::string& queue) {
  v1::TaskTypeDefinition d;
  d.set_name(kExecType);
  d.set_queue(queue);
  d.mutable_schema()->set_any_json(true);
  d.mutable_handler()->mutable_exec()->add_command("true");
  const auto [stored, created] = MakePostgresTypeStore(database_url)->Apply(d.SerializeAsString());
  const TaskTypeSpec spec = SpecFromDefinition(stored);
  NewTask t;
  t.type = spec.name;
  t.type_version = spec.version;
  t.queue = queue;
  t.priority = spec.default_priority;
  t.max_attempts = spec.retry.max_attempts;
  t.timeout_ms = static_cast<uint32_t>(spec.default_timeout.count());
  t.payload = PayloadFromJson(spec, "{}");
  return t;
}

}  // namespace

Result RunExecBurnDown(const Options& options, const std::string& log_dir) {
  const Result noop = RunBurnDown(options, options.exec_tasks, log_dir);
  Result r = RunBurnDownOf(options, options.exec_tasks, log_dir, "exec", ExecTrueTask);
  r.kind = Result::Kind::kFilaExec;
  r.label = "fila exec `true` (" + Thousands(static_cast<double>(options.exec_tasks)) + ", " +
            std::to_string(options.workers) + "×" + std::to_string(options.concurrency) + ")";
  char line[160];
  std::snprintf(line, sizeof line, "%.2f× the noop burn-down of as many tasks in this run (%s/s)",
                r.tasks_per_s / noop.tasks_per_s, Thousands(noop.tasks_per_s).c_str());
  r.notes.insert(r.notes.begin(), line);
  return r;
}

}  // namespace fila::bench
