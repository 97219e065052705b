#include "fila/worker_runtime.h"

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "fila/blocking_queue.h"
#include "fila/envelope.h"
#include "fila/errors.h"
#include "task_context.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

// A claimed task waiting for, or running in, a slot.
struct Job {
  Envelope envelope;
  ClaimedTask claim;
  uint64_t epoch = 0;
  uint64_t tag = 0;
};

// A finished attempt waiting for its group commit, then its ack.
struct Done {
  FinishRecord record;
  uint64_t epoch = 0;
  uint64_t tag = 0;
};

struct AckRef {
  uint64_t epoch = 0;
  uint64_t tag = 0;
};

constexpr milliseconds kProgressFlush{250};

milliseconds Backoff(int failures) {
  return milliseconds(std::min<int64_t>(100LL << std::min(failures, 5), 2000));
}

}  // namespace

struct WorkerRuntime::Impl {
  Impl(WorkerOptions o, Broker& b, StoreFactory s, const HandlerRegistry& h, const TaskTypes& t)
      : options(std::move(o)), broker(b), stores(std::move(s)), handlers(h), types(t) {}

  WorkerOptions options;
  Broker& broker;
  StoreFactory stores;
  const HandlerRegistry& handlers;
  const TaskTypes& types;
  WorkerCounters counters;

  Consumer* consumer = nullptr;  // owned by Run's thread; only Wakeup() used elsewhere
  BlockingQueue<Job> runnable;
  BlockingQueue<Done> done;
  std::atomic<bool> finisher_stop{false};
  // Claimed and not yet acked; the drain waits for it to reach zero.
  std::atomic<int64_t> inflight{0};

  std::mutex ack_mutex;
  std::vector<AckRef> acks;  // committed, to be acked by the consumer thread

  std::mutex progress_mutex;
  std::map<std::string, ProgressUpdate> progress;  // latest per task wins

  void FlushAcks() {
    std::vector<AckRef> ready;
    {
      std::lock_guard lock(ack_mutex);
      ready.swap(acks);
    }
    for (const auto& a : ready) consumer->Ack(a.epoch, a.tag);
    inflight -= static_cast<int64_t>(ready.size());
  }

  // Decodes and claims a batch of deliveries. Returns false when the store
  // is unreachable: the deliveries stay pending and are claimed later.
  bool ClaimBatch(StateStore& store, std::vector<Delivery>& pending) {
    std::vector<std::pair<Delivery, Envelope>> decoded;
    std::vector<std::string> ids;
    for (auto& d : pending) {
      try {
        Envelope e = DecodeEnvelope(d.body);
        ids.push_back(e.id);
        decoded.emplace_back(std::move(d), std::move(e));
      } catch (const PermanentError& e) {
        ++counters.poison;
        spdlog::warn("poison message on queue {} ({} bytes): {}; dropped", d.queue, d.body.size(),
                     e.what());
        consumer->Ack(d.epoch, d.tag);
      }
    }
    pending.clear();
    if (decoded.empty()) return true;

    ClaimResult result;
    try {
      result = store.Claim(ids, options.worker_id, static_cast<uint32_t>(options.lease.count()));
    } catch (const TransientError& e) {
      spdlog::warn("claim failed, will retry: {}", e.what());
      for (auto& [d, env] : decoded) pending.push_back(std::move(d));
      return false;
    }

    std::unordered_map<std::string, ClaimedTask> claimed;
    for (auto& c : result.claimed) claimed.emplace(c.id, std::move(c));
    for (auto& [d, env] : decoded) {
      auto it = claimed.find(env.id);
      if (it != claimed.end()) {
        ++counters.claimed;
        ++inflight;
        runnable.Push(Job{std::move(env), std::move(it->second), d.epoch, d.tag});
        claimed.erase(it);  // a second copy in the same batch is a duplicate
        continue;
      }
      bool unknown = std::find(result.unknown.begin(), result.unknown.end(), env.id) !=
                     result.unknown.end();
      if (unknown) {
        ++counters.poison;
        spdlog::warn("message for unknown task {} on queue {}; dropped", env.id, d.queue);
      } else {
        ++counters.duplicates;
        spdlog::debug("duplicate delivery of task {}; dropped", env.id);
      }
      consumer->Ack(d.epoch, d.tag);
    }
    return true;
  }

  void SlotLoop(unsigned seed) {
    std::mt19937_64 rng(seed);
    while (true) {
      auto job = runnable.Pop(SteadyClock::now() + std::chrono::seconds(1));
      if (!job) {
        if (finisher_stop) return;
        continue;
      }
      done.Push(Execute(*job, rng));
    }
  }

  Done Execute(const Job& job, std::mt19937_64& rng) {
    const Envelope& e = job.envelope;
    const auto timeout = milliseconds(job.claim.timeout_ms > 0 ? job.claim.timeout_ms : 300000);
    SlotContext ctx(e.id, e.type, job.claim.attempt, e.payload, SteadyClock::now() + timeout,
                    [this](ProgressUpdate u) {
                      std::lock_guard lock(progress_mutex);
                      progress[u.id] = std::move(u);
                    });
    FinishRecord r;
    r.id = e.id;
    r.attempt = job.claim.attempt;
    r.worker = options.worker_id;

    auto fail = [&](const std::string& message, std::string kind, bool retryable) {
      r.error = message;
      r.error_kind = std::move(kind);
      r.outcome = r.error_kind == "timeout" ? Outcome::kTimedOut : Outcome::kFailed;
      if (!retryable) {
        r.state = TaskState::kFailed;
      } else if (job.claim.attempt < job.claim.max_attempts) {
        RetryPolicy policy = types.Contains(e.type) ? types.Get(e.type).retry : RetryPolicy{};
        r.state = TaskState::kScheduled;
        r.retry_at_ms = NowUnixMs() + policy.Delay(job.claim.attempt, rng).count();
      } else {
        r.state = TaskState::kDead;
      }
    };

    const Handler* handler = handlers.Find(e.type);
    if (handler == nullptr) {
      fail("no handler for task type '" + e.type + "' in worker " + options.worker_id, "permanent",
           false);
      return {std::move(r), job.epoch, job.tag};
    }
    try {
      r.result = (*handler)(ctx);
      r.state = TaskState::kSucceeded;
      r.outcome = Outcome::kSucceeded;
    } catch (const PermanentError& ex) {
      fail(ex.what(), "permanent", false);
    } catch (const std::exception& ex) {
      if (ctx.DeadlinePassed()) {
        fail("timed out after " + std::to_string(timeout.count()) + " ms: " + ex.what(), "timeout",
             true);
      } else {
        fail(ex.what(), dynamic_cast<const TransientError*>(&ex) ? "transient" : "error", true);
      }
    } catch (...) {
      fail("handler threw a non-standard exception", "error", true);
    }
    return {std::move(r), job.epoch, job.tag};
  }

  void FinisherLoop() {
    auto store = stores();
    WorkerInfo info{options.worker_id, options.hostname, static_cast<int64_t>(::getpid()),
                    options.queues, options.concurrency};
    auto next_heartbeat = SteadyClock::now();
    auto next_progress = SteadyClock::now() + kProgressFlush;
    std::vector<Done> batch;
    int failures = 0;
    while (true) {
      auto now = SteadyClock::now();
      auto wait_until = std::min({next_heartbeat, next_progress, now + milliseconds(100)});
      for (auto& d : done.PopAll(wait_until)) batch.push_back(std::move(d));
      if (!batch.empty()) {
        // Group commit: give other slots a few ms to finish too.
        const auto flush_at = SteadyClock::now() + options.finish_flush;
        while (batch.size() < options.concurrency && SteadyClock::now() < flush_at) {
          auto more = done.PopAll(flush_at);
          if (more.empty()) break;
          for (auto& d : more) batch.push_back(std::move(d));
        }
        if (CommitBatch(*store, batch)) {
          failures = 0;
        } else {
          std::this_thread::sleep_for(Backoff(failures++));
        }
      }
      now = SteadyClock::now();
      if (now >= next_progress) {
        FlushProgress(*store);
        next_progress = now + kProgressFlush;
      }
      if (now >= next_heartbeat) {
        try {
          store->Heartbeat(info, static_cast<uint32_t>(options.lease.count()));
        } catch (const Error& e) {
          spdlog::warn("heartbeat failed: {}", e.what());
        }
        next_heartbeat = now + options.heartbeat_interval;
      }
      if (finisher_stop && batch.empty() && done.Size() == 0) return;
    }
  }

  bool CommitBatch(StateStore& store, std::vector<Done>& batch) {
    std::vector<FinishRecord> records;
    records.reserve(batch.size());
    for (const auto& d : batch) records.push_back(d.record);
    std::vector<bool> applied;
    try {
      applied = store.Finish(records);
    } catch (const Error& e) {
      // Kept and committed again: an ack before the commit could lose the outcome.
      spdlog::warn("recording {} finishes failed, will retry: {}", batch.size(), e.what());
      return false;
    }
    {
      std::lock_guard lock(ack_mutex);
      for (size_t i = 0; i < batch.size(); ++i) {
        if (applied[i]) {
          ++counters.finished;
        } else {
          ++counters.stale_finishes;
          spdlog::info("finish of task {} attempt {} was fenced out (no longer current)",
                       batch[i].record.id, batch[i].record.attempt);
        }
        acks.push_back({batch[i].epoch, batch[i].tag});
      }
    }
    consumer->Wakeup();
    batch.clear();
    return true;
  }

  void FlushProgress(StateStore& store) {
    std::vector<ProgressUpdate> updates;
    {
      std::lock_guard lock(progress_mutex);
      for (auto& [id, u] : progress) updates.push_back(std::move(u));
      progress.clear();
    }
    if (updates.empty()) return;
    try {
      store.RecordProgress(updates);
    } catch (const Error& e) {
      spdlog::debug("progress write dropped: {}", e.what());  // progress is best effort
    }
  }
};

WorkerRuntime::WorkerRuntime(WorkerOptions options, Broker& broker, StoreFactory stores,
                             const HandlerRegistry& handlers, const TaskTypes& types)
    : impl_(std::make_unique<Impl>(std::move(options), broker, std::move(stores), handlers, types)) {}

WorkerRuntime::~WorkerRuntime() = default;

const WorkerCounters& WorkerRuntime::Counters() const { return impl_->counters; }

int WorkerRuntime::Run(std::unique_ptr<Consumer> consumer, const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  m.consumer = consumer.get();
  auto store = m.stores();

  std::thread finisher([&m] { m.FinisherLoop(); });
  std::vector<std::thread> slots;
  std::random_device seed_source;
  for (uint32_t i = 0; i < m.options.concurrency; ++i) {
    unsigned seed = seed_source();
    slots.emplace_back([&m, seed] { m.SlotLoop(seed); });
  }

  std::vector<Delivery> pending;
  bool stopping = false;
  int claim_failures = 0;
  Deadline drain_deadline{};
  int exit_code = 0;
  while (true) {
    m.FlushAcks();
    if (stop && !stopping) {
      stopping = true;
      drain_deadline = SteadyClock::now() + m.options.drain_timeout;
      consumer->Stop();
      // Unclaimed deliveries go back to the broker for another worker.
      for (const auto& d : pending) consumer->Reject(d.epoch, d.tag, true);
      pending.clear();
      spdlog::info("stopping: draining {} in-flight tasks (budget {} ms)", m.inflight.load(),
                   m.options.drain_timeout.count());
    }
    if (stopping) {
      if (m.inflight == 0) break;
      if (SteadyClock::now() >= drain_deadline) {
        spdlog::error("drain budget exhausted with {} tasks still running", m.inflight.load());
        exit_code = 1;
        break;
      }
    }
    if (!pending.empty()) {
      if (m.ClaimBatch(*store, pending)) {
        claim_failures = 0;
      } else {
        // Store down: wait while serving the connection's heartbeats; a
        // delivery that arrives meanwhile joins the pending claim.
        if (auto d = consumer->Next(SteadyClock::now() + Backoff(claim_failures++))) {
          pending.push_back(std::move(*d));
        }
        continue;
      }
    }
    auto first = consumer->Next(SteadyClock::now() + milliseconds(stopping ? 20 : 200));
    if (!first) continue;
    if (stopping) {
      consumer->Reject(first->epoch, first->tag, true);
      continue;
    }
    pending.push_back(std::move(*first));
    // Take what else is already buffered, so one statement claims it all.
    while (pending.size() < m.options.concurrency) {
      auto more = consumer->Next(SteadyClock::now());
      if (!more) break;
      pending.push_back(std::move(*more));
    }
    if (m.ClaimBatch(*store, pending)) claim_failures = 0;
  }

  if (exit_code != 0) {
    for (auto& t : slots) t.detach();
    m.finisher_stop = true;
    finisher.detach();
    return exit_code;
  }
  m.finisher_stop = true;
  m.runnable.Close();
  for (auto& t : slots) t.join();
  m.done.Close();
  finisher.join();
  m.FlushAcks();
  m.consumer = nullptr;
  return 0;
}

}  // namespace fila
