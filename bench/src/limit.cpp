// The machine's limit for fila's design: (a) the PostgreSQL statements fila
// runs per task, through fila's own store (PostgresStore: the enqueue
// insert + outbox row, the relay's outbox fetch + delete, the worker's
// claim and finish), batched as fila batches them, with no broker; (b) the
// raw broker (raw_broker.cpp); both alone, then (a)'s claim + finish and
// (b) at the same time, since both servers share the machine's cores.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "cpu_watch.h"
#include "fila_run.h"
#include "scenarios.h"

namespace fila::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kRelayBatch = 500;  // fila-scheduler's relay default
constexpr uint32_t kLeaseMs = 60000;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The relay's statements: fetch a batch of outbox rows (joined to their
// tasks, as the relay reads them) and delete it, until the outbox is empty.
// Returns the task ids in outbox order.
std::vector<std::string> Relay(PostgresStore& store) {
  std::vector<std::string> ids;
  for (;;) {
    ThrowIfInterrupted();
    auto items = store.FetchOutbox(kRelayBatch);
    if (items.empty()) return ids;
    std::vector<int64_t> outbox_ids;
    for (auto& item : items) {
      outbox_ids.push_back(item.outbox_id);
      ids.push_back(std::move(item.envelope.id));
    }
    store.DeleteOutbox(outbox_ids);
  }
}

struct ClaimFinish {
  std::atomic<size_t> next{0};
  std::atomic<int64_t> finished{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::string error;
};

// One "worker slot pair": claims up to `batch` ids at once (as a worker
// claims what the broker delivered together) and finishes them succeeded in
// one statement (as its finisher batches).
void ClaimAndFinish(const std::string& url, const std::vector<std::string>& ids, size_t batch,
                    const std::string& worker, ClaimFinish& shared) {
  try {
    PostgresStore store(url);
    store.Connect();
    for (;;) {
      if (shared.stop) return;
      const size_t from = shared.next.fetch_add(batch);
      if (from >= ids.size()) return;
      std::span<const std::string> chunk(ids.data() + from, std::min(batch, ids.size() - from));
      ClaimResult claimed = store.Claim(chunk, worker, kLeaseMs);
      std::vector<FinishRecord> records;
      for (const auto& task : claimed.claimed) {
        FinishRecord r;
        r.id = task.id;
        r.attempt = task.attempt;
        r.state = TaskState::kSucceeded;
        r.outcome = Outcome::kSucceeded;
        r.worker = worker;
        records.push_back(std::move(r));
      }
      const auto applied = store.Finish(records);
      shared.finished += std::count(applied.begin(), applied.end(), true);
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(shared.mutex);
    if (shared.error.empty()) shared.error = e.what();
    shared.stop = true;
  }
}

struct ClaimFinishRun {
  int64_t finished = 0;
  double seconds = 0;
};

ClaimFinishRun RunClaimFinish(const Options& options, const std::string& url,
                              const std::vector<std::string>& ids, std::atomic<bool>* stop_when) {
  ClaimFinish shared;
  const int threads = 2 * options.workers;
  const size_t batch = static_cast<size_t>(std::max(1, options.concurrency));
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back(ClaimAndFinish, url, std::cref(ids), batch, "bench-limit-" + std::to_string(i),
                      std::ref(shared));
  }
  // With a partner (the raw broker), stop once it is done: the figure is
  // then what (a) did while (b) ran.
  while (shared.next < ids.size() && !shared.stop) {
    if (stop_when != nullptr && *stop_when) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ClaimFinishRun run;
  if (stop_when != nullptr && *stop_when) {
    run.finished = shared.finished;
    run.seconds = Since(t0);
    shared.stop = true;
  }
  for (auto& t : pool) t.join();
  if (!shared.error.empty()) throw BenchError("claim/finish: " + shared.error);
  if (run.seconds == 0) {
    run.finished = shared.finished;
    run.seconds = Since(t0);
  }
  return run;
}

std::string Rate(double per_s) { return Thousands(per_s) + "/s"; }

}  // namespace

std::vector<Result> RunLimit(const Options& options, const std::string& log_dir) {
  const int64_t n = options.tasks;
  FilaSetup setup(options, log_dir);
  PostgresStore store(setup.db.url());
  store.Connect();
  CpuWatch cpu(options.database_url, nullptr);
  Say("limit: the PostgreSQL statements of " + Thousands(2.0 * static_cast<double>(n)) +
      " tasks without a broker (database " + setup.db.name() + ")");
  // Twice N: the first N alone, the second N next to the raw broker.
  const double enqueue_s = EnqueueCopies(store, NoopTask(setup.queue), 2 * n);
  auto t0 = Clock::now();
  const std::vector<std::string> ids = Relay(store);
  const double relay_s = Since(t0);
  if (static_cast<int64_t>(ids.size()) != 2 * n) {
    throw BenchError("limit: the outbox held " + std::to_string(ids.size()) + " rows, not " +
                     std::to_string(2 * n));
  }
  const std::vector<std::string> first(ids.begin(), ids.begin() + n);
  const std::vector<std::string> second(ids.begin() + n, ids.end());
  const ClaimFinishRun alone = RunClaimFinish(options, setup.db.url(), first, nullptr);
  if (alone.finished != n) throw BenchError("limit: claim/finish finished " + std::to_string(alone.finished));
  const std::string pg_cpu = cpu.Note();

  const double enqueue_rate = 2.0 * static_cast<double>(n) / enqueue_s;
  const double relay_rate = 2.0 * static_cast<double>(n) / relay_s;
  const double claim_rate = static_cast<double>(alone.finished) / alone.seconds;
  const double whole_life = 1.0 / (1.0 / enqueue_rate + 1.0 / relay_rate + 1.0 / claim_rate);

  std::vector<Result> rows;
  Result a;
  a.kind = Result::Kind::kLimitPg;
  a.tasks = n;
  a.label = "limit (a): fila's PostgreSQL statements, no broker (" + Thousands(static_cast<double>(n)) + ")";
  a.tasks_per_s = claim_rate;
  char line[300];
  std::snprintf(line, sizeof line,
                "claim + finish %s (%d connections, %d ids per claim, one finish per claim: the "
                "burn-down's timed window); enqueue + outbox %s (1,000 per transaction); outbox "
                "fetch + delete %s (%u per fetch); a task's whole life in PostgreSQL %s",
                Rate(claim_rate).c_str(), 2 * options.workers, options.concurrency,
                Rate(enqueue_rate).c_str(), Rate(relay_rate).c_str(), kRelayBatch, Rate(whole_life).c_str());
  a.notes.emplace_back(line);
  a.notes.push_back(pg_cpu);
  rows.push_back(a);

  Result b = RunRawBroker(options, log_dir);
  b.kind = Result::Kind::kLimitRaw;
  b.label = "limit (b): " + b.label;
  rows.push_back(b);

  // (a) and (b) at the same time.
  Say("limit: claim + finish of " + Thousands(static_cast<double>(n)) +
      " tasks and the raw broker at the same time");
  cpu.Start();
  std::atomic<bool> raw_done{false};
  Result raw_together;
  std::string raw_error;
  std::thread raw([&] {
    try {
      raw_together = RunRawBroker(options, log_dir);
    } catch (const std::exception& e) {
      raw_error = e.what();
    }
    raw_done = true;
  });
  ClaimFinishRun together;
  try {
    together = RunClaimFinish(options, setup.db.url(), second, &raw_done);
  } catch (...) {
    raw.join();
    throw;
  }
  const bool pg_ended_first = !raw_done;
  raw.join();
  if (!raw_error.empty()) throw BenchError("limit: raw broker beside PostgreSQL: " + raw_error);
  const double pg_together = static_cast<double>(together.finished) / together.seconds;
  const double combined = std::min(pg_together, raw_together.tasks_per_s);
  Result c;
  c.kind = Result::Kind::kLimitCombined;
  c.tasks = n;
  c.label = "limit (a)+(b) at the same time: the machine's limit";
  c.tasks_per_s = combined;
  std::snprintf(
      line, sizeof line,
      "the lower of (a) %s and (b) %s measured together (alone: %s and %s, lower %s); "
      "%s",
      Rate(pg_together).c_str(), Rate(raw_together.tasks_per_s).c_str(), Rate(claim_rate).c_str(),
      Rate(b.tasks_per_s).c_str(), Rate(std::min(claim_rate, b.tasks_per_s)).c_str(),
      pg_ended_first ? "(a) ended first: (b) ran alone for its last part" : "(a) counted only while (b) ran");
  c.notes.emplace_back(line);
  c.notes.emplace_back("both servers share the cores, so the figure measured together is the honest ceiling");
  c.notes.push_back(cpu.Note());
  c.limit_alone = std::min(claim_rate, b.tasks_per_s);
  rows.push_back(c);
  Say("limit: " + Rate(combined) + " together");
  return rows;
}

}  // namespace fila::bench
