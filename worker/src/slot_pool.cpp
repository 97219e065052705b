#include "slot_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "fila/core/errors.h"
#include "fila/core/lifecycle.h"
#include "fila/core/text_limit.h"
#include "fila/logging/logging.h"
#include "task_context.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kWatchdogPeriod{50};
constexpr milliseconds kDefaultTimeout{std::chrono::minutes(5)};

milliseconds TimeoutOf(const Job& job) {
  return job.claim.timeout_ms > 0 ? milliseconds(job.claim.timeout_ms) : kDefaultTimeout;
}

}  // namespace

FinishRecord FailedAttempt(const TaskTypes& types, const std::string& worker_id, const Job& job,
                           Outcome outcome, std::string error, std::string error_kind,
                           bool retryable, std::mt19937_64& rng, milliseconds retry_after) {
  FinishRecord r;
  r.id = job.envelope.id;
  r.attempt = job.claim.attempt;
  r.worker = worker_id;
  r.outcome = outcome;
  // A handler's error may quote its input or an upstream's answer, at any
  // length: cut before it is logged (LogOutcome) or stored.
  r.error = TruncateText(error);
  r.error_kind = std::move(error_kind);
  const Envelope& e = job.envelope;
  RetryPolicy policy =
      types.Contains(e.type, e.type_version) ? types.Get(e.type, e.type_version)->retry : RetryPolicy{};
  if (job.claim.retry_base_ms > 0) policy.base = milliseconds(job.claim.retry_base_ms);
  if (job.claim.retry_cap_ms > 0) policy.cap = milliseconds(job.claim.retry_cap_ms);
  // The worker reports kCancelled exactly when the task's cancellation was
  // requested (by request, or the watchdog abandoning an ignored cancel).
  const AttemptDecision next = DecideEndedAttempt(
      {outcome, job.claim.attempt, job.claim.max_attempts, retryable, outcome == Outcome::kCancelled,
       retry_after.count()},
      policy, NowUnixMs(), rng);
  r.state = next.state;
  r.retry_at_ms = next.retry_at_ms;
  return r;
}

SlotPool::SlotPool(const WorkerOptions& options, const HandlerRegistry& handlers,
                   const TaskTypes& types, JobQueue& runnable, FinishQueue& finishes,
                   ProgressBuffer& progress, WorkerCounters& counters, WorkerMetrics& metrics)
    : options_(options),
      handlers_(handlers),
      types_(types),
      runnable_(runnable),
      finishes_(finishes),
      progress_(progress),
      counters_(counters),
      metrics_(metrics),
      busy_(metrics, options.Slots()),
      watchdog_rng_(seeds_()) {}

SlotPool::~SlotPool() { Stop(); }

void SlotPool::Start() {
  for (uint32_t i = 0; i < options_.Slots(); ++i) AddSlot();
  watchdog_ = std::thread([this] { WatchdogLoop(); });
}

void SlotPool::AddSlot() {
  std::lock_guard lock(mutex_);
  slots_.push_back(std::make_unique<Slot>());
  Slot& slot = *slots_.back();
  unsigned seed = seeds_();
  slot.thread = std::thread([this, &slot, seed] { SlotLoop(slot, seed); });
}

void SlotPool::SlotLoop(Slot& slot, unsigned seed) {
  std::mt19937_64 rng(seed);
  while (true) {
    auto job = runnable_.Pop(SteadyClock::now() + std::chrono::seconds(1));
    if (!job) {
      if (runnable_.Closed()) return;
      continue;
    }
    const Envelope& e = (*job)->envelope;
    const ClaimedTask& claim = (*job)->claim;
    logging::Scope log_fields{{"task_id", e.id},
                              {"type", e.type},
                              {"queue", e.queue},
                              {"attempt", std::to_string(claim.attempt)}};
    const int64_t due_ms = std::max(claim.created_at_ms, claim.due_at_ms);
    metrics_.TaskStarted(e.queue, e.type,
                                due_ms > 0 ? static_cast<double>(NowUnixMs() - due_ms) / 1000 : 0);
    busy_.Change(+1);
    const auto started = SteadyClock::now();
    spdlog::debug("attempt started");
    SlotContext ctx(e.id, e.type, (*job)->claim.attempt, e.payload, e.queue, e.tenant,
                    SteadyClock::now() + TimeoutOf(**job), types_,
                    [this](ProgressUpdate u) { progress_.Put(std::move(u)); });
    {
      std::lock_guard lock(slot.mutex);
      slot.job = *job;
      slot.context = &ctx;
      slot.deadline = ctx.TaskDeadline();
      slot.cancelled_at = {};
      slot.started = started;
    }
    Done done = Execute(**job, ctx, rng);
    {
      std::lock_guard lock(slot.mutex);
      slot.job.reset();
      slot.context = nullptr;
      // Abandoned: the watchdog already recorded this attempt and gave the
      // slot to a new thread; this late result is dropped.
      if (slot.abandoned) return;
    }
    busy_.Change(-1);
    done.queue = e.queue;
    done.type = e.type;
    done.run_seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    LogOutcome(done);
    finishes_.Finished(std::move(done));
  }
}

void SlotPool::LogOutcome(const Done& done) {
  const FinishRecord& r = done.record;
  const auto ms = static_cast<int64_t>(done.run_seconds * 1000);
  if (r.outcome == Outcome::kSucceeded) {
    spdlog::debug("attempt succeeded in {} ms", ms);
    return;
  }
  const std::string next = r.state == TaskState::kScheduled ? "retry scheduled"
                                                            : "task " + std::string(ToString(r.state));
  // A retry is routine; a task that ends here needs a look.
  const auto level = r.state == TaskState::kScheduled ? spdlog::level::info : spdlog::level::warn;
  spdlog::log(level, "attempt {} after {} ms ({}): {}; {}", ToString(r.outcome), ms, r.error_kind,
              r.error, next);
}

Done SlotPool::Execute(const Job& job, SlotContext& ctx, std::mt19937_64& rng) {
  const Envelope& e = job.envelope;
  auto failed = [&](Outcome outcome, std::string error, std::string kind, bool retryable,
                    milliseconds retry_after = milliseconds(-1)) {
    return Done{FailedAttempt(types_, options_.worker_id, job, outcome, std::move(error), std::move(kind),
                              retryable, rng, retry_after),
                job.epoch, job.tag};
  };
  // The handler of the version the task was enqueued under (compiled in,
  // or an HTTP or exec handler of a registered type).
  std::shared_ptr<const Handler> handler;
  size_t max_result = 0;
  try {
    const auto spec = types_.Get(e.type, e.type_version);
    handler = handlers_.For(*spec);
    max_result = spec->max_result_bytes;
  } catch (const PermanentError& ex) {
    return failed(Outcome::kFailed, ex.what(), "permanent", false);
  }
  if (!handler) {
    return failed(Outcome::kFailed, "no handler for task type '" + e.type + "' on the worker that took it",
                  "permanent", false);
  }
  std::string error;
  std::string kind;
  bool retryable = true;
  std::chrono::milliseconds retry_after{-1};
  try {
    Done done{FinishRecord{}, job.epoch, job.tag};
    done.record.id = e.id;
    done.record.attempt = job.claim.attempt;
    done.record.worker = options_.worker_id;
    done.record.result = (*handler)(ctx);
    if (max_result > 0 && done.record.result.size() > max_result) {
      throw PermanentError("the result of " + std::to_string(done.record.result.size()) +
                           " bytes is over the type's max_result_bytes of " + std::to_string(max_result));
    }
    done.record.children = ctx.TakeChildren();
    done.record.max_tree_tasks = TaskLimits{}.max_tree_tasks;
    // Work that completed, even late, is kept rather than done again.
    return done;
  } catch (const RetryLater& ex) {
    error = ex.what();
    kind = "transient";
    retry_after = ex.after();
  } catch (const PermanentError& ex) {
    error = ex.what();
    kind = "permanent";
    retryable = false;
  } catch (const TransientError& ex) {
    error = ex.what();
    kind = "transient";
  } catch (const std::exception& ex) {
    error = ex.what();
    kind = "error";
  } catch (...) {
    error = "handler threw a non-standard exception";
    kind = "error";
  }
  if (ctx.CancelRequested()) {
    return failed(Outcome::kCancelled, "cancelled by request: " + error, "cancelled", false);
  }
  if (ctx.DeadlinePassed()) {
    return failed(Outcome::kTimedOut,
                  "timed out after " + std::to_string(TimeoutOf(job).count()) + " ms: " + error,
                  "timeout", true);
  }
  return failed(Outcome::kFailed, error, kind, retryable, retry_after);
}

void SlotPool::Cancel(const std::vector<AttemptRef>& attempts) {
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_) {
    std::lock_guard slot_lock(slot->mutex);
    if (!slot->job || slot->abandoned || slot->cancelled_at != Deadline{}) continue;
    for (const auto& a : attempts) {
      if (a.id == slot->job->envelope.id && a.attempt == slot->job->claim.attempt) {
        spdlog::info("cancelling task {} attempt {}", a.id, a.attempt);
        slot->context->Cancel();
        slot->cancelled_at = SteadyClock::now();
      }
    }
  }
}

void SlotPool::Abandon(Slot& slot, FinishRecord record) {
  slot.abandoned = true;
  stuck_ = true;
  busy_.Change(-1);
  const Envelope& e = slot.job->envelope;
  finishes_.Finished(
      Done{std::move(record), slot.job->epoch, slot.job->tag, false, e.queue, e.type,
           std::chrono::duration<double>(SteadyClock::now() - slot.started).count()});
}

void SlotPool::WatchdogLoop() {
  const auto grace = options_.abandon_grace;
  while (!stopping_) {
    std::this_thread::sleep_for(kWatchdogPeriod);
    size_t replacements = 0;
    {
      std::lock_guard lock(mutex_);
      const auto now = SteadyClock::now();
      for (auto& slot : slots_) {
        std::lock_guard slot_lock(slot->mutex);
        if (!slot->job || slot->abandoned) continue;
        const Job& job = *slot->job;
        const bool cancel_ignored =
            slot->cancelled_at != Deadline{} && now > slot->cancelled_at + grace;
        if (!cancel_ignored && now <= slot->deadline + grace) continue;
        FinishRecord record;
        if (cancel_ignored) {
          record = FailedAttempt(types_, options_.worker_id, job, Outcome::kCancelled,
                                 "cancelled; the handler ignored it and was abandoned",
                                 "cancelled", false, watchdog_rng_);
        } else {
          record = FailedAttempt(
              types_, options_.worker_id, job, Outcome::kTimedOut,
              "timed out after " + std::to_string(TimeoutOf(job).count()) +
                  " ms; the handler ignored cancellation for " + std::to_string(grace.count()) +
                  " ms and was abandoned",
              "timeout", true, watchdog_rng_);
        }
        spdlog::error("abandoning the slot running task {} ({}) attempt {}: {}", job.envelope.id,
                      job.envelope.type, job.claim.attempt, record.error);
        Abandon(*slot, std::move(record));
        uint64_t abandoned = ++counters_.abandoned;
        metrics_.Abandoned();
        if (abandoned >= options_.max_abandoned) {
          if (!overloaded_.exchange(true)) {
            spdlog::error("{} slots abandoned: stopping this worker", abandoned);
          }
        } else {
          ++replacements;
        }
      }
    }
    for (size_t i = 0; i < replacements; ++i) AddSlot();
  }
}

void SlotPool::HandBackRunning() {
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_) {
    std::lock_guard slot_lock(slot->mutex);
    if (!slot->job || slot->abandoned) continue;
    FinishRecord r;
    r.id = slot->job->envelope.id;
    r.attempt = slot->job->claim.attempt;
    r.worker = options_.worker_id;
    r.state = TaskState::kScheduled;  // released to run again at once
    r.retry_at_ms = NowUnixMs();
    r.outcome = Outcome::kLost;
    r.error = "its worker stopped before the task finished (handed back to run again)";
    r.error_kind = "lost";
    ++counters_.handed_back;
    metrics_.HandedBack();
    spdlog::warn("handing back task {} attempt {}", r.id, r.attempt);
    Abandon(*slot, std::move(r));
  }
}

void SlotPool::Stop() {
  if (stopping_.exchange(true)) return;
  if (watchdog_.joinable()) watchdog_.join();
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_) {
    if (!slot->thread.joinable()) continue;
    bool abandoned;
    {
      std::lock_guard slot_lock(slot->mutex);
      abandoned = slot->abandoned;
    }
    // An abandoned thread may never come back; it must not hold us here.
    // Its Slot is leaked on purpose: the thread still references it.
    if (abandoned) {
      slot->thread.detach();
      (void)slot.release();
    } else {
      slot->thread.join();
    }
  }
}

bool SlotPool::HasStuckThreads() const {
  std::lock_guard lock(mutex_);
  return stuck_;
}

}  // namespace fila
