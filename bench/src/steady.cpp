// Steady state: open-loop producers at a fixed rate while the workers run.
// Task i is due at start + i/R whatever happened before it; a producer that
// falls behind enqueues everything already due in one transaction (and the
// lag is reported), so the offered load does not quietly shrink.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "fila_run.h"
#include "scenarios.h"

namespace fila::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxCoalesced = 1000;
constexpr auto kWorkersUpTimeout = std::chrono::seconds(60);
// After registering, a worker still opens its broker connection; idle RSS
// is read once it had this long to settle.
constexpr auto kSettle = std::chrono::seconds(1);

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Production {
  std::atomic<int64_t> enqueued{0};
  std::atomic<int64_t> max_lag_us{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::string error;
};

// Producer `index` of `producers` enqueues tasks index, index + producers, ...
void Produce(const std::string& url, const std::string& queue, int index, int producers,
             int64_t total, double rate, Clock::time_point t0, Production& out) {
  try {
    PostgresStore store(url);
    store.Connect();
    const NewTask task = NoopTask(queue);
    std::vector<NewTask> batch;
    auto due = [&](int64_t i) {
      return t0 + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(i) / rate));
    };
    for (int64_t i = index; i < total && !out.stop;) {
      std::this_thread::sleep_until(due(i));
      const auto now = Clock::now();
      size_t count = 1;
      int64_t next = i + producers;
      while (next < total && due(next) <= now && count < kMaxCoalesced) {
        ++count;
        next += producers;
      }
      const auto lag = std::chrono::duration_cast<std::chrono::microseconds>(now - due(i)).count();
      int64_t seen = out.max_lag_us.load();
      while (lag > seen && !out.max_lag_us.compare_exchange_weak(seen, lag)) {
      }
      batch.assign(count, task);
      store.Enqueue(batch);
      out.enqueued += static_cast<int64_t>(count);
      i = next;
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(out.mutex);
    if (out.error.empty()) out.error = e.what();
    out.stop = true;
  }
}

}  // namespace

Result RunSteady(const Options& options, int rate, const std::string& log_dir) {
  if (rate <= 0) throw BenchError("rates must be positive");
  const std::string what = "steady " + std::to_string(rate) + "/s";
  FilaSetup setup(options, log_dir);
  TaskDb db(setup.db.url());
  BrokerQueueCleanup cleanup{options.amqp_url, setup.queue};

  Fleet fleet(options, setup.db.url(), setup.queue, log_dir);
  fleet.StartScheduler();
  fleet.StartWorkers();
  const auto up_deadline = Clock::now() + kWorkersUpTimeout;
  while (db.Workers() < options.workers) {
    ThrowIfInterrupted();
    fleet.CheckAlive();
    if (Clock::now() > up_deadline) throw BenchError(what + ": workers did not register in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(kSettle);
  fleet.CheckAlive();
  const int64_t idle_rss_kb = fleet.Sample().worker_rss_kb;

  const auto total = static_cast<int64_t>(rate * options.steady_seconds);
  if (total < 1) throw BenchError(what + ": rate × duration is less than one task");
  char line[200];
  std::snprintf(line, sizeof line, ": %s tasks over %g s into queue %s (database %s)",
                Thousands(static_cast<double>(total)).c_str(), options.steady_seconds,
                setup.queue.c_str(), setup.db.name().c_str());
  Say(what + line);
  Production production;
  const auto t0 = Clock::now() + std::chrono::milliseconds(100);
  const double start_unix = UnixNow() + 0.1;
  std::vector<std::thread> producers;
  for (int p = 0; p < options.producers; ++p) {
    producers.emplace_back(Produce, setup.db.url(), setup.queue, p, options.producers, total,
                           static_cast<double>(rate), t0, std::ref(production));
  }
  try {
    auto last_report = Clock::now();
    while (production.enqueued < total && !production.stop) {
      ThrowIfInterrupted();
      fleet.CheckAlive();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (Clock::now() - last_report > std::chrono::seconds(5)) {
        Say(what + ": enqueued " + Thousands(static_cast<double>(production.enqueued.load())) +
            " of " + Thousands(static_cast<double>(total)));
        last_report = Clock::now();
      }
    }
  } catch (...) {
    production.stop = true;
    for (auto& t : producers) t.join();
    throw;
  }
  for (auto& t : producers) t.join();
  if (!production.error.empty()) throw BenchError(what + ": producer failed: " + production.error);

  AwaitDrained(db, fleet, setup.queue, total, what);
  const Fleet::Usage usage = fleet.Sample();
  fleet.Stop();
  const int64_t retried = VerifyAllSucceeded(db, setup.queue, total, what);

  const Latency latency = db.StartLatency(setup.queue, start_unix + options.steady_warmup_seconds);
  const TaskSpan span = db.Span(setup.queue);
  const double cpu = usage.scheduler_cpu_s + usage.workers_cpu_s;

  Result r;
  r.kind = Result::Kind::kFilaSteady;
  r.offered_rate = rate;
  r.tasks = total;
  r.label = "fila steady " + Thousands(rate) + "/s (" + std::to_string(options.workers) + "×" +
            std::to_string(options.concurrency) + ")";
  // End to end: what the whole pipeline sustained, from the first enqueue
  // to the last finish.
  r.tasks_per_s = static_cast<double>(total) / (span.last_finished - span.first_created);
  r.cpu_s_per_1k = cpu / static_cast<double>(total) * 1000;
  r.peak_rss_kb = usage.worker_peak_rss_kb;
  r.idle_rss_kb = idle_rss_kb;
  r.end_rss_kb = usage.worker_rss_kb;
  if (latency.count > 0) r.p99_ms = latency.p99_ms;
  std::snprintf(
      line, sizeof line,
      "enqueue→start p50 %.1f ms, p99 %.1f ms, max %.1f ms (%s tasks, first %g s left out)",
      latency.p50_ms, latency.p99_ms, latency.max_ms,
      Thousands(static_cast<double>(latency.count)).c_str(), options.steady_warmup_seconds);
  r.notes.emplace_back(line);
  std::snprintf(line, sizeof line,
                "offered %d/s for %g s, enqueued at %s/s by %d producers (max lag %.1f ms)", rate,
                options.steady_seconds,
                Thousands(total > 1 ? static_cast<double>(total - 1) /
                                          std::max(span.last_created - span.first_created, 1e-6)
                                    : 0)
                    .c_str(),
                options.producers, static_cast<double>(production.max_lag_us.load()) / 1000);
  r.notes.emplace_back(line);
  r.notes.push_back("worker RSS idle " + Mib(idle_rss_kb) + ", at the end " +
                    Mib(usage.worker_rss_kb));
  std::snprintf(line, sizeof line,
                "CPU s (whole run, idle included): workers %.2f + scheduler %.2f",
                usage.workers_cpu_s, usage.scheduler_cpu_s);
  r.notes.emplace_back(line);
  std::snprintf(line, sizeof line, ": p50 %.1f ms, p99 %.1f ms, max %.1f ms", latency.p50_ms,
                latency.p99_ms, latency.max_ms);
  Say(what + line);
  if (retried > 0) r.notes.push_back(std::to_string(retried) + " tasks needed a second attempt");
  return r;
}

}  // namespace fila::bench
