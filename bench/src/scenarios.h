#pragma once

#include <functional>
#include <string>
#include <vector>

#include "fila/core/state_store.h"

#include "options.h"
#include "result.h"

// Each scenario runs on a database and queue of its own, stops everything it
// started, and throws BenchError when it cannot produce a figure (lost
// tasks included).
namespace fila::bench {

// Enqueue `tasks` noops, publish them all, then start the workers and time
// them: tasks/s from the first to the last finished_at.
Result RunBurnDown(const Options& options, int64_t tasks, const std::string& log_dir);

// A no-op HTTP handler on loopback (a registered type whose handler is
// HTTP, served in this process) next to the built-in noop, both burned
// down in the same run: the cost of a task going out over HTTP.
Result RunHttpHandler(const Options& options, const std::string& log_dir);

// The same with tasks made by `make_task` (given the scenario's database
// URL and queue, before the daemons start: it may register a type); `kind`
// names them in progress lines and the label.
using TaskMaker = std::function<NewTask(const std::string& database_url, const std::string& queue)>;
Result RunBurnDownOf(const Options& options, int64_t tasks, const std::string& log_dir, const std::string& kind,
                     const TaskMaker& make_task);

// Exec handlers: a burn-down of Options::exec_tasks tasks of a registered
// type whose command is `true` (a process per task, under fila-exec-shim),
// next to a noop burn-down of as many tasks in the same run.
Result RunExecBurnDown(const Options& options, const std::string& log_dir);

// Producers at `rate` tasks/s for Options::steady_seconds while the workers
// run; enqueue -> start latency from the database timestamps.
Result RunSteady(const Options& options, int rate, const std::string& log_dir);

// RabbitMQ alone: persistent messages of a fila envelope's size with
// publisher confirms, consumed with manual acks at the same time.
Result RunRawBroker(const Options& options, const std::string& log_dir);

// The machine's limit for fila's design: fila's PostgreSQL statements
// without a broker, the raw broker, and both at the same time (limit.cpp).
std::vector<Result> RunLimit(const Options& options, const std::string& log_dir);

// bench/celery/celery_bench.py, without a result backend or with one on
// PostgreSQL.
Result RunCelery(const Options& options, bool pg_backend, const std::string& log_dir);

// Best effort: deletes the broker queue of a fila queue (fila.<queue>) so
// that benchmark runs do not pile up empty queues.
void DeleteFilaQueue(const std::string& amqp_url, const std::string& queue);

}  // namespace fila::bench
