// Burn-down: N tasks already published, then W workers start; measured the
// way celery_bench.py measures Celery, from the first finished task to the
// last, so that process start-up is not part of the rate. A note also gives
// the time from the scheduler's start, which counts the publishing that a
// dispatch window moves into the burn-down.
#include <chrono>
#include <cstdio>

#include "fila_run.h"
#include "scenarios.h"

namespace fila::bench {

Result RunBurnDown(const Options& options, int64_t tasks, const std::string& log_dir) {
  return RunBurnDownOf(options, tasks, log_dir, "noop", [](const std::string&, const std::string& queue) {
    return NoopTask(queue);
  });
}

Result RunBurnDownOf(const Options& options, int64_t tasks, const std::string& log_dir, const std::string& kind,
                     const TaskMaker& make_task) {
  if (tasks < 2) throw BenchError("a burn-down needs at least 2 tasks");
  const std::string what = kind + " burn-down of " + Thousands(static_cast<double>(tasks));
  FilaSetup setup(options, log_dir);
  PostgresStore store(setup.db.url());
  store.Connect();
  TaskDb db(setup.db.url());
  BrokerQueueCleanup cleanup{options.amqp_url, setup.queue};

  Say(what + ": enqueueing into queue " + setup.queue + " (database " + setup.db.name() + ")");
  const double enqueue_s = EnqueueCopies(store, make_task(setup.db.url(), setup.queue), tasks);

  Fleet fleet(options, setup.db.url(), setup.queue, log_dir);
  const auto publish_t0 = std::chrono::steady_clock::now();
  fleet.StartScheduler();
  const double publish_s =
      std::chrono::duration<double>(AwaitOutboxEmpty(store, fleet, what) - publish_t0).count();
  const int64_t held = store.SampleQueues(10000).outbox_rows;  // by the dispatch window

  Say(what + ": published (as far as the dispatch window goes); starting " +
      std::to_string(options.workers) + " workers");
  const double workers_started =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  fleet.StartWorkers();
  AwaitDrained(db, fleet, setup.queue, tasks, what);
  const Fleet::Usage usage = fleet.Sample();
  fleet.Stop();
  const int64_t retried = VerifyAllSucceeded(db, setup.queue, tasks, what);

  const TaskSpan span = db.Span(setup.queue);
  const double seconds = span.last_finished - span.first_finished;
  if (seconds <= 0) throw BenchError(what + ": every task finished at the same instant");
  const double wall = span.last_finished - workers_started;
  // The relay's work too: without a dispatch window every message is
  // published before the workers start (outside first→last finish), with
  // one most are published while they run (inside it).
  const double relay_and_run = publish_s + wall;
  const double cpu = usage.scheduler_cpu_s + usage.workers_cpu_s;

  Result r;
  r.kind = Result::Kind::kFilaBurnDown;
  r.tasks = tasks;
  r.label = "fila burn-down (" + Thousands(static_cast<double>(tasks)) + ", " +
            std::to_string(options.workers) + "×" + std::to_string(options.concurrency) +
            (options.queue_type == "classic" ? "" : ", " + options.queue_type + " queue") + ")";
  r.tasks_per_s = static_cast<double>(tasks - 1) / seconds;
  r.cpu_s_per_1k = cpu / static_cast<double>(tasks) * 1000;
  r.peak_rss_kb = usage.worker_peak_rss_kb;
  char line[160];
  std::snprintf(line, sizeof line, "%.2f s first→last finish; %.2f s from worker start (%s/s)",
                seconds, wall, Thousands(static_cast<double>(tasks) / wall).c_str());
  r.notes.emplace_back(line);
  std::snprintf(line, sizeof line, "%.2f s from the scheduler's start, publishing included (%s/s)",
                relay_and_run, Thousands(static_cast<double>(tasks) / relay_and_run).c_str());
  r.notes.emplace_back(line);
  std::snprintf(line, sizeof line, "CPU s: workers %.2f + scheduler %.2f", usage.workers_cpu_s,
                usage.scheduler_cpu_s);
  r.notes.emplace_back(line);
  r.notes.push_back("enqueue " + Thousands(static_cast<double>(tasks) / enqueue_s) +
                    "/s, publish " + Thousands(static_cast<double>(tasks - held) / publish_s) +
                    "/s (before the workers start" +
                    (held > 0 ? "; " + Thousands(static_cast<double>(held)) +
                                    " held in the outbox by the dispatch window)"
                              : ")"));
  if (retried > 0) r.notes.push_back(std::to_string(retried) + " tasks needed a second attempt");
  Say(what + ": " + Thousands(r.tasks_per_s) + " tasks/s");
  return r;
}

}  // namespace fila::bench
