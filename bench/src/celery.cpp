// The Celery baseline: bench/celery/celery_bench.py (Debian's python3-celery)
// on the same RabbitMQ, run and parsed here so that its figures land in the
// same table, measured the same way (first to last finished task).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "contention.h"
#include "db.h"
#include "fila_run.h"
#include "scenarios.h"

namespace fila::bench {
namespace {

std::string ScriptPath(const Options& options) {
  if (!options.celery_script.empty()) return options.celery_script;
  return std::string(FILA_SOURCE_DIR) + "/bench/celery/celery_bench.py";
}

// SQLAlchemy's URL for the same database: "db+postgresql://...".
std::string BackendUrl(const std::string& database_url) {
  std::string url = database_url;
  if (url.starts_with("postgres://")) url = "postgresql://" + url.substr(11);
  return "db+" + url;
}

// The last line of `out` that parses as a JSON object.
nlohmann::json LastJson(const std::string& out) {
  std::vector<std::string> lines;
  for (size_t start = 0; start < out.size();) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    lines.push_back(out.substr(start, end - start));
    start = end + 1;
  }
  nlohmann::json report;
  for (auto line = lines.rbegin(); line != lines.rend() && !report.is_object(); ++line) {
    report = nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
  }
  return report;
}

}  // namespace

CelerySteady RunCelerySteady(const Options& options, int rate, double seconds, const std::string& log_dir) {
  const std::string what = "celery steady " + std::to_string(rate) + "/s";
  ScratchDatabase db(options.database_url);
  const int64_t timeout_s = 120 + static_cast<int64_t>(seconds * 20);
  std::vector<std::string> args = {ScriptPath(options), "--broker", options.amqp_url, "--backend",
                                   BackendUrl(db.url()), "--rate", std::to_string(rate), "--seconds",
                                   std::to_string(seconds), "--concurrency", std::to_string(options.workers),
                                   "--timeout", std::to_string(timeout_s)};
  Say(what + ": prefork -c " + std::to_string(options.workers) + ", pg backend");
  const std::string out =
      RunCapture(options.python, args, {}, log_dir + "/celery-steady-" + std::to_string(rate) + ".log",
                 std::chrono::seconds(timeout_s + 120));
  const nlohmann::json report = LastJson(out);
  if (!report.is_object() || !report.contains("p99_ms")) throw BenchError(what + ": no JSON report: " + out);
  CelerySteady c;
  c.tasks = report.value("tasks", int64_t{0});
  c.achieved = report.value("achieved", 0.0);
  c.p50_ms = report.value("p50_ms", 0.0);
  c.p99_ms = report.value("p99_ms", 0.0);
  c.max_ms = report.value("max_ms", 0.0);
  c.cpu_s = report.value("cpu_s", 0.0);
  Say(what + ": p99 " + std::to_string(static_cast<int64_t>(c.p99_ms)) + " ms");
  return c;
}

Result RunCelery(const Options& options, bool pg_backend, const std::string& log_dir) {
  const int64_t tasks = options.celery_tasks > 0 ? options.celery_tasks : options.tasks;
  const std::string what = pg_backend ? "celery (pg backend)" : "celery";
  std::optional<ScratchDatabase> db;
  std::vector<std::string> args = {ScriptPath(options),
                                   "--broker",
                                   options.amqp_url,
                                   "--tasks",
                                   std::to_string(tasks),
                                   "--concurrency",
                                   std::to_string(options.workers)};
  // Celery is slower than fila; leave it ample time (the script's own limit).
  const int64_t timeout_s = 120 + tasks / 50;
  args.insert(args.end(), {"--timeout", std::to_string(timeout_s)});
  if (pg_backend) {
    db.emplace(options.database_url);
    args.insert(args.end(), {"--backend", BackendUrl(db->url())});
  }
  try {
    RunCapture(options.python, {"-c", "import celery, sqlalchemy, psycopg2"}, {},
               log_dir + "/celery-imports.log", std::chrono::seconds(60));
  } catch (const BenchError& e) {
    throw BenchError(what + ": " + options.python +
                     " lacks Celery (apt-get install python3-celery python3-sqlalchemy "
                     "python3-psycopg2), or pass --skip-celery: " +
                     e.what());
  }
  Say(what + ": " + Thousands(static_cast<double>(tasks)) + " tasks, prefork -c " +
      std::to_string(options.workers));
  const std::string out = RunCapture(options.python, args, {},
                                     log_dir + "/" + (pg_backend ? "celery-pg" : "celery") + ".log",
                                     std::chrono::seconds(timeout_s + 120));
  // The script prints one JSON object.
  const nlohmann::json report = LastJson(out);
  if (!report.is_object() || !report.contains("tasks_per_s")) {
    throw BenchError(what + ": no JSON report on its stdout: " + out);
  }
  if (report.value("tasks", int64_t{0}) != tasks)
    throw BenchError(what + ": ran a different number of tasks");

  Result r;
  r.kind = pg_backend ? Result::Kind::kCeleryPg : Result::Kind::kCelery;
  r.tasks = tasks;
  r.label = "Celery, " + std::string(pg_backend ? "pg backend" : "no backend") + " (" +
            Thousands(static_cast<double>(tasks)) + ", prefork " + std::to_string(options.workers) +
            ")";
  r.tasks_per_s = report["tasks_per_s"].get<double>();
  r.cpu_s_per_1k = report["cpu_s"].get<double>() / static_cast<double>(tasks) * 1000;
  r.peak_rss_kb = report["peak_rss_kb"].get<int64_t>();
  if (pg_backend) {
    // Every task's result must be in the backend, or it did not do its job.
    TaskDb results(db->url());
    const int64_t stored =
        results.CountRows("SELECT count(*) FROM celery_taskmeta WHERE status = 'SUCCESS'");
    if (stored != tasks) {
      throw BenchError(what + ": " + std::to_string(stored) + " of " + std::to_string(tasks) +
                       " results stored in the backend");
    }
    r.notes.push_back("all " + Thousands(static_cast<double>(tasks)) +
                      " results in celery_taskmeta");
  }
  char line[200];
  std::snprintf(line, sizeof line,
                "%.2f s first→last finish; acks_late, prefetch multiplier 4, %d processes "
                "(fila: %d × %d slot threads)",
                report.value("seconds", 0.0), options.workers, options.workers,
                options.concurrency);
  r.notes.emplace_back(line);
  r.notes.push_back(
      "enqueue (not timed) " +
      Thousands(static_cast<double>(tasks) / std::max(report.value("enqueue_s", 1.0), 1e-6)) +
      "/s; CPU and RSS: the worker process tree");
  Say(what + ": " + Thousands(r.tasks_per_s) + " tasks/s");
  return r;
}

}  // namespace fila::bench
