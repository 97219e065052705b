#include "fila_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <thread>
#include <vector>

#include "fila/core/task_request.h"
#include "fila/core/task_types.h"

namespace fila::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kEnqueueBatch = 1000;
constexpr auto kStallLimit = std::chrono::minutes(2);
constexpr auto kProgressEvery = std::chrono::seconds(5);

// What one poll saw: whether the wait is over, a number that moves while
// work progresses (for stall detection) and a line for the progress report.
struct Poll {
  bool done = false;
  int64_t remaining = 0;
  std::string text;
};

// Polls `poll` until done. The pause between polls grows with the poll's
// own cost (counting a million-row backlog is not free) so that watching
// takes at most about 5% of one database backend: at cost × 5, polling a
// 40,000-task burn-down took a fifth of PostgreSQL's time and lowered the
// figure it measured.
void PollUntil(const std::string& what, Fleet& fleet, const std::function<Poll()>& poll) {
  auto last_change = Clock::now();
  auto last_report = Clock::now();
  int64_t last_remaining = -1;
  for (;;) {
    ThrowIfInterrupted();
    fleet.CheckAlive();
    const auto t0 = Clock::now();
    Poll p = poll();
    const auto cost = Clock::now() - t0;
    if (p.done) return;
    if (p.remaining != last_remaining) {
      last_remaining = p.remaining;
      last_change = Clock::now();
    } else if (Clock::now() - last_change > kStallLimit) {
      throw BenchError(what + ": no progress for two minutes (" + p.text + ")");
    }
    if (Clock::now() - last_report > kProgressEvery) {
      Say(what + ": " + p.text);
      last_report = Clock::now();
    }
    std::this_thread::sleep_for(std::clamp<Clock::duration>(cost * 20, std::chrono::milliseconds(100),
                                                            std::chrono::seconds(2)));
  }
}

}  // namespace

FilaSetup::FilaSetup(const Options& options, const std::string& log_dir)
    : db(options.database_url), queue("bench" + RandomSuffix()) {
  db.Migrate(BinDir(), log_dir + "/" + queue + "-migrate.log");
}

BrokerQueueCleanup::~BrokerQueueCleanup() { DeleteFilaQueue(amqp_url, queue); }

NewTask NoopTask(const std::string& queue) {
  TaskRequest request;
  request.type = "noop";
  request.queue = queue;
  return PrepareTask(request, TaskTypes::Builtin(), TaskLimits{});
}

double EnqueueCopies(PostgresStore& store, const NewTask& task, int64_t count) {
  const auto t0 = Clock::now();
  auto last_report = t0;
  std::vector<NewTask> batch;
  for (int64_t done = 0; done < count;) {
    ThrowIfInterrupted();
    batch.assign(static_cast<size_t>(std::min(kEnqueueBatch, count - done)), task);
    store.Enqueue(batch);
    done += static_cast<int64_t>(batch.size());
    if (Clock::now() - last_report > kProgressEvery) {
      Say("enqueued " + Thousands(static_cast<double>(done)) + " of " +
          Thousands(static_cast<double>(count)));
      last_report = Clock::now();
    }
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::chrono::steady_clock::time_point AwaitOutboxEmpty(PostgresStore& store, Fleet& fleet,
                                                       const std::string& what) {
  // With a dispatch window (docs/fairness.md) the relay publishes a
  // window's worth and keeps the rest in the outbox until workers take
  // some: published as far as it goes once the count stops moving.
  int64_t last = -1;
  auto last_change = std::chrono::steady_clock::now();
  PollUntil(what + " (publishing)", fleet, [&] {
    const auto sample = store.SampleQueues(10000);
    const auto now = std::chrono::steady_clock::now();
    if (sample.outbox_rows != last) {
      last = sample.outbox_rows;
      last_change = now;
    }
    const bool held = now - last_change > std::chrono::seconds(2);
    return Poll{sample.outbox_rows == 0 || held, sample.outbox_rows,
                Thousands(static_cast<double>(sample.outbox_rows)) + " outbox rows left"};
  });
  return last_change;  // when the count last moved: the wait for it to hold is not publishing
}

void AwaitDrained(TaskDb& db, Fleet& fleet, const std::string& queue, int64_t total,
                  const std::string& what) {
  // Progress comes from the workers' own counters (their heartbeat writes
  // them; one row per worker), so that watching a million-task queue costs
  // nothing. Whether anything is left is asked of the tasks themselves once
  // the counters reach the total, and every tenth poll in case retries or
  // restarts make the counters drift.
  int64_t polls = 0;
  PollUntil(what, fleet, [&] {
    const int64_t finished = db.FinishedByWorkers();
    const bool check = finished >= total || ++polls % 10 == 0;
    const bool done = check && !db.AnyActive(queue);
    return Poll{done, total - finished,
                Thousands(static_cast<double>(finished)) + " of " +
                    Thousands(static_cast<double>(total)) + " attempts finished"};
  });
}

int64_t VerifyAllSucceeded(TaskDb& db, const std::string& queue, int64_t expected,
                           const std::string& what) {
  const StateCounts counts = db.Count(queue);
  if (counts.total == expected && counts.succeeded == expected) {
    if (counts.retried > 0) {
      Say("warning: " + what + ": " + std::to_string(counts.retried) +
          " tasks needed more than one attempt");
    }
    return counts.retried;
  }
  const std::string message =
      "LOST TASKS (not all succeeded) in " + what + ": " + std::to_string(expected) +
      " enqueued, " + std::to_string(counts.total) + " in the database, " +
      std::to_string(counts.succeeded) + " succeeded (" + counts.by_state + ")";
  Say("!!!!!!!! " + message);
  throw BenchError(message);
}

std::string Thousands(double value) {
  const bool negative = value < 0;
  std::string digits = std::to_string(static_cast<int64_t>(std::llround(std::fabs(value))));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return negative ? "-" + out : out;
}

std::string Mib(int64_t kb) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(kb) / 1024);
  return text;
}

}  // namespace fila::bench
