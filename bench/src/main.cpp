// fila-bench: fila's throughput and latency next to the raw broker and
// Celery on the same machine, as one Markdown table on stdout (progress on
// stderr). See bench/README.md; scripts/bench brings the stack up first.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>

#include "contention.h"
#include "db.h"
#include "fila/core/config.h"
#include "options.h"
#include "procs.h"
#include "scenarios.h"
#include "table.h"

namespace {

using fila::bench::Options;
using fila::bench::Result;

struct Scenario {
  std::string label;  // shown when it fails
  Result::Kind kind;
  std::function<std::vector<Result>()> run;
};

template <typename F>
std::function<std::vector<Result>()> One(F f) {
  return [f] { return std::vector<Result>{f()}; };
}

std::vector<Scenario> Plan(const Options& o, const std::string& log_dir) {
  using namespace fila::bench;
  std::vector<Scenario> plan;
  // The limit scenario compares the burn-down with the machine's limit.
  if (o.Wants("burn-down") || o.only.contains("limit")) {
    plan.push_back({"fila burn-down", Result::Kind::kFilaBurnDown,
                    One([&o, log_dir] { return RunBurnDown(o, o.tasks, log_dir); })});
  }
  if (o.backlog > 0 && o.Wants("backlog")) {
    for (int64_t n : {kBacklogReference, o.backlog}) {
      plan.push_back({"fila backlog burn-down " + std::to_string(n), Result::Kind::kFilaBacklog,
                      One([&o, log_dir, n] {
                        Result r = RunBurnDown(o, n, log_dir);
                        r.kind = Result::Kind::kFilaBacklog;
                        r.label = "fila backlog: " + r.label.substr(5);
                        return r;
                      })});
    }
  }
  if (o.Wants("http")) {
    plan.push_back({"fila HTTP no-op handler", Result::Kind::kFilaHttp,
                    One([&o, log_dir] { return RunHttpHandler(o, log_dir); })});
  }
  if (o.Wants("steady")) {
    for (int rate : o.rates) {
      plan.push_back({"fila steady " + std::to_string(rate) + "/s", Result::Kind::kFilaSteady,
                      One([&o, log_dir, rate] { return RunSteady(o, rate, log_dir); })});
    }
  }
  if (o.Wants("exec")) {
    plan.push_back({"fila exec burn-down", Result::Kind::kFilaExec,
                    One([&o, log_dir] { return RunExecBurnDown(o, log_dir); })});
  }
  if (!o.skip_raw && o.Wants("raw")) {
    plan.push_back({"raw broker", Result::Kind::kRawBroker,
                    One([&o, log_dir] { return RunRawBroker(o, log_dir); })});
  }
  if (!o.skip_celery && o.Wants("celery")) {
    plan.push_back({"Celery, no backend", Result::Kind::kCelery,
                    One([&o, log_dir] { return RunCelery(o, false, log_dir); })});
  }
  if (!o.skip_celery && o.Wants("celery-pg")) {
    plan.push_back({"Celery, pg backend", Result::Kind::kCeleryPg,
                    One([&o, log_dir] { return RunCelery(o, true, log_dir); })});
  }
  // Issue 21: performance under contention.
  if (o.Wants("http-enqueue")) {
    plan.push_back({"HTTP enqueue", Result::Kind::kHttpEnqueue,
                    One([&o, log_dir] { return RunHttpEnqueue(o, log_dir); })});
  }
  if (o.Wants("e2e-single")) {
    plan.push_back({"end to end, single HTTP enqueues", Result::Kind::kE2eSingle,
                    One([&o, log_dir] { return RunE2eSingle(o, log_dir); })});
  }
  if (o.Wants("noisy")) {
    plan.push_back({"noisy neighbour", Result::Kind::kNoisy,
                    One([&o, log_dir] { return RunNoisy(o, log_dir); })});
  }
  if (o.Wants("starve")) {
    plan.push_back({"starvation", Result::Kind::kStarve,
                    One([&o, log_dir] { return RunStarve(o, log_dir); })});
  }
  if (o.Wants("limit")) {
    plan.push_back({"machine's limit", Result::Kind::kLimitCombined,
                    [&o, log_dir] { return RunLimit(o, log_dir); }});
  }
  // Left out of a run of every scenario: it takes minutes (scripts/bench-plot).
  if (o.only.contains("plot")) {
    plan.push_back({"latency plot", Result::Kind::kPlot, [&o, log_dir] { return RunPlot(o, log_dir); }});
  }
  return plan;
}

std::string MakeLogDir(const Options& o) {
  if (!o.log_dir.empty()) {
    std::filesystem::create_directories(o.log_dir);
    return o.log_dir;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/fila-bench-logs.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create " + pattern);
  return pattern;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.database_url = fila::EnvOr("FILA_DATABASE_URL", "");
  o.amqp_url = fila::EnvOr("FILA_AMQP_URL", "");
  CLI::App app{"fila-bench: fila next to the raw broker and Celery, as one Markdown table"};
  std::vector<std::string> only;
  app.add_option("--tasks", o.tasks, "Burn-down tasks (and raw broker messages)")
      ->check(CLI::Range(int64_t{2}, int64_t{100000000}));
  app.add_option("--workers", o.workers, "fila-worker processes (and Celery prefork processes)")
      ->check(CLI::Range(1, 64));
  app.add_option("--concurrency", o.concurrency, "Slots per fila-worker")
      ->check(CLI::Range(1, 1024));
  app.add_option("--express-slots", o.express_slots,
                 "fila-worker --express-slots (default: fila-worker's own)")
      ->check(CLI::Range(0, 64));
  app.add_option("--rates", o.rates, "Steady-state rates, tasks/s")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000000));
  app.add_option("--steady-seconds", o.steady_seconds, "Seconds each steady-state rate is offered")
      ->check(CLI::Range(0.1, 86400.0));
  app.add_option("--steady-warmup-seconds", o.steady_warmup_seconds,
                 "Tasks created this early in a steady run are left out of the percentiles")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--producers", o.producers, "Steady-state producer threads")
      ->check(CLI::Range(1, 64));
  app.add_option("--celery-tasks", o.celery_tasks, "Celery tasks (default: --tasks)")
      ->check(CLI::Range(int64_t{2}, int64_t{100000000}));
  app.add_option("--exec-tasks", o.exec_tasks,
                 "Exec burn-down tasks (command `true`), and as many noop tasks as its reference")
      ->check(CLI::Range(int64_t{2}, int64_t{100000000}));
  app.add_option("--backlog", o.backlog,
                 "Also burn down this many tasks and compare with a burn-down of 10,000")
      ->check(CLI::Range(int64_t{2}, int64_t{100000000}));
  app.add_option("--http-tasks", o.http_tasks,
                 "Tasks of each burn-down of the http scenario (default: --tasks; --smoke: 500)")
      ->check(CLI::Range(int64_t{2}, int64_t{100000000}));
  app.add_option("--publish-batch", o.publish_batch, "Raw broker: publishes per confirm wait")
      ->check(CLI::Range(1, 100000));
  app.add_option("--only", only,
                 "Scenarios to run: burn-down,http,exec,steady,raw,celery,celery-pg,backlog,"
                 "http-enqueue,e2e-single,noisy,starve,limit,plot")
      ->delimiter(',')
      ->check(CLI::IsMember({"burn-down", "http", "exec", "steady", "raw", "celery", "celery-pg", "backlog",
                             "http-enqueue", "e2e-single", "noisy", "starve", "limit", "plot"}));
  app.add_option("--scheduler-args", o.scheduler_args,
                 "Appended to every fila-scheduler's command line, e.g. \"--priority-aging 5s\"");
  app.add_option("--http-rates", o.http_rates, "http-enqueue: request rates tried in turn, requests/s")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000000));
  app.add_option("--http-seconds", o.http_seconds, "http-enqueue: seconds per rate")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--http-connections", o.http_connections, "Keep-alive connections of the HTTP load")
      ->check(CLI::Range(1, 1024));
  app.add_option("--e2e-rate", o.e2e_rate, "e2e-single: tasks/s, one HTTP request each (for --steady-seconds)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--sleep-ms", o.sleep_ms, "noisy, starve: how long each task sleeps")
      ->check(CLI::Range(1, 60000));
  app.add_option("--contention-seconds", o.contention_seconds, "noisy, starve: how long the load is offered")
      ->check(CLI::Range(0.5, 3600.0));
  app.add_option("--overload", o.overload, "noisy, starve: offered load ÷ the measured capacity")
      ->check(CLI::Range(1.0, 100.0));
  app.add_option("--plot-rates", o.plot_rates, "plot: offered tasks/s")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000000));
  app.add_option("--plot-seconds", o.plot_seconds, "plot: seconds per rate")->check(CLI::Range(0.5, 3600.0));
  app.add_option("--plot-data", o.plot_data, "plot: write the sweep here (rate, fila p99, Celery p99; gnuplot input)");
  app.add_flag("--skip-celery", o.skip_celery, "Leave out both Celery baselines");
  app.add_flag("--skip-raw", o.skip_raw, "Leave out the raw broker baseline");
  app.add_flag("--smoke", o.smoke,
               "A short run for CI: 3,000 tasks, 1,000 Celery tasks, 200 exec tasks, 3 s per rate "
               "(explicit options win)");
  app.add_option("--database-url", o.database_url, "PostgreSQL base URL (env FILA_DATABASE_URL)");
  app.add_option("--amqp-url", o.amqp_url, "RabbitMQ URL (env FILA_AMQP_URL)");
  app.add_option("--queue-type", o.queue_type,
                 "RabbitMQ queues of the fila runs: classic (priorities) or quorum (replicated)")
      ->check(CLI::IsMember({"classic", "quorum"}));
  app.add_option("--python", o.python, "Python with python3-celery for the Celery baseline");
  app.add_option("--celery-script", o.celery_script,
                 "Default: the source tree's bench/celery/celery_bench.py");
  app.add_option("--log-dir", o.log_dir, "Keep daemon logs here (default: a temporary folder)");
  CLI11_PARSE(app, argc, argv);

  o.only.insert(only.begin(), only.end());
  if (o.only.contains("backlog") && o.backlog == 0) o.backlog = 1000000;
  if (o.smoke) {
    if (app.count("--tasks") == 0) o.tasks = 3000;
    if (app.count("--celery-tasks") == 0) o.celery_tasks = 1000;
    if (app.count("--exec-tasks") == 0) o.exec_tasks = 200;
    if (app.count("--steady-seconds") == 0) o.steady_seconds = 3;
    if (app.count("--http-tasks") == 0) o.http_tasks = 500;
    if (app.count("--http-rates") == 0) o.http_rates = {500};
    if (app.count("--http-seconds") == 0) o.http_seconds = 1;
    if (app.count("--e2e-rate") == 0) o.e2e_rate = 500;
    if (app.count("--contention-seconds") == 0) o.contention_seconds = 1;
    if (app.count("--plot-rates") == 0) o.plot_rates = {250, 500};
    if (app.count("--plot-seconds") == 0) o.plot_seconds = 2;
  }
  if (o.http_tasks == 0) o.http_tasks = o.tasks;
  if (o.database_url.empty() || o.amqp_url.empty()) {
    std::cerr << "fila-bench: --database-url and --amqp-url (or FILA_DATABASE_URL and "
                 "FILA_AMQP_URL) are required; scripts/bench sets them\n";
    return 2;
  }
  // PostgresStore logs through spdlog; stdout is for the table only.
  auto logger = spdlog::stderr_logger_mt("fila-bench");
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  fila::bench::InstallInterruptHandler();

  std::string durability;
  try {
    durability = fila::bench::DurabilitySettings(o.database_url);
  } catch (const std::exception& e) {
    std::cerr << "fila-bench: cannot reach PostgreSQL: " << e.what() << "\n";
    return 1;
  }
  fila::bench::Say("PostgreSQL " + durability);
  if (durability.find("=off") != std::string::npos) {
    fila::bench::Say("WARNING: PostgreSQL runs with durability off; figures are not comparable");
  }

  const std::string log_dir = MakeLogDir(o);
  std::vector<Result> results;
  bool failed = false;
  bool interrupted = false;
  for (auto& scenario : Plan(o, log_dir)) {
    if (interrupted) break;
    try {
      for (auto& r : scenario.run()) results.push_back(std::move(r));
    } catch (const std::exception& e) {
      failed = true;
      interrupted = std::string(e.what()) == "interrupted";
      fila::bench::Say("FAILED: " + scenario.label + ": " + e.what());
      Result r;
      r.kind = scenario.kind;
      r.label = scenario.label;
      r.failed = true;
      std::string why = e.what();
      r.notes.push_back(why.substr(0, why.find('\n')));
      results.push_back(r);
    }
  }
  fila::bench::PrintReport(results, o, std::cout);
  std::cout << "\nPostgreSQL: " << durability << ".\n";
  if (failed || !o.log_dir.empty()) {
    fila::bench::Say("daemon logs: " + log_dir);
  } else {
    std::filesystem::remove_all(log_dir);
  }
  return failed ? 1 : 0;
}
