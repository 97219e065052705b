#include "fila/worker/worker_runtime.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "ack_queue.h"
#include "bisect.h"
#include "claim_handback.h"
#include "database_health.h"
#include "fila/core/backoff.h"
#include "fila/core/errors.h"
#include "finish_queue.h"
#include "finish_tally.h"
#include "finisher.h"
#include "heartbeater.h"
#include "held_attempts.h"
#include "job.h"
#include "progress_buffer.h"
#include "slot_pool.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

// The consumer loop's retries (claims while the store is away).
constexpr milliseconds kBackoffCap{2000};

}  // namespace

struct WorkerRuntime::Impl {
  Impl(WorkerOptions o, StoreFactory s, const HandlerRegistry& h, const TaskTypes& t,
       WorkerMetrics& m)
      : options(std::move(o)),
        stores(std::move(s)),
        types(t),
        metrics(m),
        finishes(acks, FinishQueue::MaxUnrecordedFor(options.Slots())),
        slots(options, h, t, runnable, finishes, progress, counters, m) {}

  WorkerOptions options;
  StoreFactory stores;
  const TaskTypes& types;
  WorkerMetrics& metrics;
  WorkerCounters counters;
  DatabaseHealth health;
  // Who touches what: the consumer thread claims (runnable, held) and sends
  // the acks; the slots run jobs into `finishes` and `progress`; the
  // finisher commits those and settles them (acks, held, finished); the
  // heartbeater reports held and finished.
  AckQueue acks;
  JobQueue runnable;
  FinishQueue finishes;
  HeldAttempts held;
  FinishTally finished;
  ProgressBuffer progress;
  SlotPool slots;
  Consumer* consumer = nullptr;  // owned by Run's thread
  // Guards `probe`, the consumer as seen by readiness checks on other threads.
  mutable std::mutex probe_mutex;
  Consumer* probe = nullptr;
  std::atomic<bool> stopping{false};

  void Received(std::vector<Delivery>& pending, Delivery d) {
    // An express lane's delivery is its queue's, for metrics and logs.
    d.queue.resize(LaneOwner(d.queue).size());
    metrics.Delivered(d.queue, d.redelivered);
    pending.push_back(std::move(d));
  }

  void FlushAcks() {
    const std::vector<AckRef> ready = acks.TakeAll();
    // One call per epoch (nearly always one), so the adapter can coalesce
    // the batch into a `multiple` ack.
    std::vector<uint64_t> tags;
    tags.reserve(ready.size());
    for (size_t i = 0; i < ready.size();) {
      const uint64_t epoch = ready[i].epoch;
      tags.clear();
      for (; i < ready.size() && ready[i].epoch == epoch; ++i) tags.push_back(ready[i].tag);
      consumer->AckMany(epoch, tags);
    }
    acks.Acked(ready.size());
  }

  void Poison(const Delivery& d, const std::string& reason) {
    ++counters.poison;
    metrics.Poison(d.queue);
    spdlog::warn("poison message on queue {} ({} bytes): {}; moved to fila.dead", d.queue,
                 d.body.size(), reason);
    consumer->DeadLetter(d, reason);
  }

  // Decodes and claims a batch of deliveries. Returns false when the store
  // is unreachable or slow: the deliveries not claimed yet stay pending and
  // are claimed later.
  bool ClaimBatch(WorkerStore& store, std::vector<Delivery>& pending) {
    std::vector<std::pair<Delivery, Envelope>> decoded;
    for (auto& d : pending) {
      Envelope e;
      try {
        e = DecodeEnvelope(d.body);
      } catch (const std::exception& error) {
        Poison(d, error.what());
        continue;
      }
      if (!types.Contains(e.type, e.type_version)) {
        Poison(d, "unknown task type '" + e.type + "'");
        continue;
      }
      decoded.emplace_back(std::move(d), std::move(e));
    }
    pending.clear();
    if (decoded.empty()) return true;

    // Claimed a part at a time only when the database refuses the whole
    // (ApplyBisecting): a delivery whose claim it refuses alone is
    // dead-lettered with the reason, the others are claimed. (A claim of
    // limited tasks that failed after the plain claim committed leaves
    // those claimed but unheld; their leases run out and the reaper
    // retries them.)
    size_t settled = 0;
    try {
      ApplyBisecting(
          std::span<std::pair<Delivery, Envelope>>(decoded), settled,
          [&](std::span<std::pair<Delivery, Envelope>> part) {
            std::vector<std::string> ids;
            ids.reserve(part.size());
            for (const auto& [d, env] : part) ids.push_back(env.id);
            Dispatch(part, store.Claim(ids, options.worker_id,
                                       static_cast<uint32_t>(options.lease.count())));
          },
          [&](std::pair<Delivery, Envelope>& item, const PermanentError& refusal) {
            Poison(item.first,
                   "the database refuses to claim task " + item.second.id + ": " + refusal.what());
          });
    } catch (const std::exception& e) {
      if (health.claims.Failed(e.what()))
        spdlog::warn("claim failed, will retry: {}", e.what());
      for (size_t i = settled; i < decoded.size(); ++i)
        pending.push_back(std::move(decoded[i].first));
      return false;
    }
    if (health.claims.Succeeded()) spdlog::info("claims work again");
    return true;
  }

  // Hands the claimed deliveries of `part` to the slots; acks or
  // dead-letters the others.
  void Dispatch(std::span<std::pair<Delivery, Envelope>> part, ClaimResult result) {
    std::unordered_map<std::string, ClaimedTask> claimed;
    for (auto& c : result.claimed) claimed.emplace(c.id, std::move(c));
    for (auto& [d, env] : part) {
      auto it = claimed.find(env.id);
      if (it != claimed.end()) {
        ++counters.claimed;
        acks.Claimed();
        held.Hold(env.id, it->second.attempt);
        runnable.Push(std::make_shared<const Job>(
            Job{std::move(env), std::move(it->second), d.epoch, d.tag}));
        claimed.erase(it);  // a second copy in the same batch is a duplicate
        continue;
      }
      if (std::find(result.unknown.begin(), result.unknown.end(), env.id) != result.unknown.end()) {
        Poison(d, "no task " + env.id + " in the database");
        continue;
      }
      if (std::find(result.deferred.begin(), result.deferred.end(), env.id) !=
          result.deferred.end()) {
        // Over its key's limit: it waits in PostgreSQL, not in this slot.
        metrics.Deferred(d.queue);
        spdlog::debug("task {} waits for its limit key; delivery dropped", env.id);
        consumer->Ack(d.epoch, d.tag);
        continue;
      }
      if (std::find(result.paused.begin(), result.paused.end(), env.id) != result.paused.end()) {
        // Its queue is paused: the task stays queued, its outbox row back,
        // so the relay publishes it again when the queue is resumed.
        spdlog::debug("task {} is in paused queue {}; delivery dropped", env.id, d.queue);
        consumer->Ack(d.epoch, d.tag);
        continue;
      }
      ++counters.duplicates;
      metrics.Duplicate(d.queue);
      spdlog::debug("duplicate delivery of task {}; dropped", env.id);
      consumer->Ack(d.epoch, d.tag);
    }
  }
};

WorkerRuntime::WorkerRuntime(WorkerOptions options, StoreFactory stores,
                             const HandlerRegistry& handlers, const TaskTypes& types,
                             WorkerMetrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(stores), handlers, types,
                                   metrics)) {}

WorkerRuntime::~WorkerRuntime() = default;

const WorkerCounters& WorkerRuntime::Counters() const { return impl_->counters; }

bool WorkerRuntime::HasStuckThreads() const { return impl_->slots.HasStuckThreads(); }

std::optional<std::string> WorkerRuntime::DatabaseProblem() const {
  return impl_->health.Problem();
}

std::optional<bool> WorkerRuntime::BrokerConnected() const {
  std::lock_guard lock(impl_->probe_mutex);
  if (impl_->probe == nullptr) return std::nullopt;
  return impl_->probe->Connected();
}

bool WorkerRuntime::Stopping() const { return impl_->stopping; }

int WorkerRuntime::Run(std::unique_ptr<Consumer> consumer, const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  m.consumer = consumer.get();
  m.acks.SetConsumer(consumer.get());
  {
    std::lock_guard lock(m.probe_mutex);
    m.probe = consumer.get();
  }
  m.metrics.Slots(0, m.options.Slots());
  // Three store connections, one per thread that uses the database: claims
  // (this thread), finishes, heartbeats.
  auto store = m.stores();
  Heartbeater heartbeater({.options = m.options,
                           .held = m.held,
                           .counters = m.counters,
                           .finished = m.finished,
                           .health = m.health.heartbeats},
                          m.stores());
  Finisher finisher({.options = m.options,
                     .finishes = m.finishes,
                     .held = m.held,
                     .progress = m.progress,
                     .acks = m.acks,
                     .slots = m.slots,
                     .counters = m.counters,
                     .finished = m.finished,
                     .metrics = m.metrics,
                     .finish_health = m.health.finishes},
                    m.stores());
  heartbeater.Start();
  finisher.Start();
  m.slots.Start();

  // Claims wait while the heartbeats do not get through: a task claimed
  // then could be reaped from this live worker (a partition that healed
  // while a beat still waits out TCP's retransmissions, say).
  auto claim = [&](std::vector<Delivery>& batch) {
    if (heartbeater.Overdue()) {
      if (m.health.claims.Failed("the heartbeat is overdue"))
        spdlog::warn("claims wait: the last heartbeat that got through is over three intervals old");
      return false;
    }
    return m.ClaimBatch(*store, batch);
  };
  ClaimHandback handback(m.options.claim_handback);
  std::vector<Delivery> pending;
  bool stopping = false;
  bool handed_back = false;
  bool drained = false;  // by an operator, through the heartbeat
  int claim_failures = 0;
  Deadline drain_deadline{};
  int exit_code = kExitDrained;
  int loop_failures = 0;
  while (true) {
    try {
      m.FlushAcks();
      if ((stop || m.slots.Overloaded()) && !stopping) {
        stopping = true;
        m.stopping = true;
        if (m.slots.Overloaded()) exit_code = kExitAbandoned;
        drain_deadline = SteadyClock::now() + m.options.drain_timeout;
        consumer->Stop();
        // Unclaimed deliveries go back to the broker for another worker.
        for (const auto& d : pending) consumer->Reject(d.epoch, d.tag, true);
        pending.clear();
        spdlog::info("stopping: draining {} in-flight tasks (budget {} ms)", m.acks.Unacked(),
                     m.options.drain_timeout.count());
      }
      if (stopping) {
        // Drained: every claimed delivery acked and every finish recorded
        // (or let go).
        if (m.acks.Unacked() == 0 && m.finishes.Unrecorded() == 0) break;
        if (SteadyClock::now() >= drain_deadline) {
          if (handed_back) {
            spdlog::error("{} finishes could not be recorded before exit; their tasks will "
                          "be reaped",
                          m.finishes.Unrecorded());
            break;
          }
          spdlog::warn("drain budget spent: handing back {} running tasks", m.acks.Unacked());
          m.slots.HandBackRunning();
          handed_back = true;
          drain_deadline = SteadyClock::now() + std::chrono::seconds(10);  // to commit them
        }
      }
      if (heartbeater.DrainRequested() && !stopping && !drained) {
        // Drained by an operator: no new task; the running ones finish and
        // their acks and finishes go on. The process stays up (a SIGTERM
        // still ends it) and its heartbeats keep the leases alive.
        drained = true;
        consumer->Stop();
        for (const auto& d : pending) consumer->Reject(d.epoch, d.tag, true);
        pending.clear();
      }
      if (drained && !stopping) {
        // Serves the connection; a delivery racing the stop goes back.
        if (auto d = consumer->Next(SteadyClock::now() + milliseconds(200))) {
          consumer->Reject(d->epoch, d->tag, true);
        }
        continue;
      }
      if (handback.paused() && !stopping) {
        if (handback.ResumeDue(heartbeater.LastBeat())) {
          handback.Resumed();
          claim_failures = 0;
          consumer->Resume();
          spdlog::info("consuming again: a heartbeat reached the database");
        } else {
          // Serves the connection; a delivery racing the pause goes back.
          if (auto d = consumer->Next(SteadyClock::now() + milliseconds(200))) {
            consumer->Reject(d->epoch, d->tag, true);
          }
          continue;
        }
      }
      if (!pending.empty()) {
        const bool claimed = claim(pending);
        handback.Claimed(claimed, SteadyClock::now());
        if (claimed) {
          claim_failures = 0;
        } else if (!stopping && handback.Due(SteadyClock::now())) {
          consumer->Stop();
          for (const auto& d : pending) consumer->Reject(d.epoch, d.tag, true);
          spdlog::warn("claims have failed for {} ms: handed {} deliveries back to the broker for "
                       "other workers; consuming again once a heartbeat reaches the database",
                       handback.FailingFor(SteadyClock::now()).count(), pending.size());
          pending.clear();
          handback.Paused(SteadyClock::now());
          continue;
        } else {
          // Store down: wait while serving the connection's heartbeats; a
          // delivery that arrives meanwhile joins the pending claim.
          if (auto d = consumer->Next(SteadyClock::now() + Backoff(claim_failures++, kBackoffCap))) {
            m.Received(pending, std::move(*d));
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
      m.Received(pending, std::move(*first));
      // Take what else is already buffered, so one statement claims it all.
      while (pending.size() < m.options.Slots()) {
        auto more = consumer->Next(SteadyClock::now());
        if (!more) break;
        m.Received(pending, std::move(*more));
      }
      // A drain read while these were awaited: none of them starts (the
      // next pass stops consuming and hands them back).
      if (heartbeater.DrainRequested()) continue;
      const bool claimed = claim(pending);
      handback.Claimed(claimed, SteadyClock::now());
      if (claimed) claim_failures = 0;
      loop_failures = 0;
    } catch (const std::exception& e) {
      // Nothing is expected here (claims and broker calls handle their own
      // errors); the consumer loop must outlive it anyway.
      spdlog::error("consumer loop: {}; carrying on", e.what());
      std::this_thread::sleep_for(Backoff(loop_failures++, kBackoffCap));
    }
  }

  m.runnable.Close();
  m.slots.Stop();
  finisher.Stop();
  // Last: the held tasks' leases were renewed until every finish was
  // recorded; then the worker deregisters.
  heartbeater.Stop();
  m.FlushAcks();
  m.acks.SetConsumer(nullptr);
  m.consumer = nullptr;
  {
    std::lock_guard lock(m.probe_mutex);
    m.probe = nullptr;
  }
  return exit_code;
}

}  // namespace fila
