#include "finisher.h"

#include <spdlog/spdlog.h>

#include "bisect.h"
#include "fila/core/backoff.h"
#include "fila/core/errors.h"
#include "slot_pool.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kProgressFlush{250};
// After Stop(), how long unrecorded finishes are still retried.
constexpr milliseconds kStopBudget{5000};

// Between commits that failed (the store is away).
constexpr milliseconds kFinishBackoffCap{2000};

}  // namespace

Finisher::Finisher(FinisherParts parts, std::unique_ptr<WorkerStore> store)
    : parts_(parts), store_(std::move(store)) {}

Finisher::~Finisher() { Stop(); }

void Finisher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Finisher::Stop() {
  if (!thread_.joinable()) return;
  give_up_at_ = SteadyClock::now() + kStopBudget;
  stop_ = true;
  thread_.join();
}

void Finisher::Loop() {
  next_progress_ = SteadyClock::now() + kProgressFlush;
  next_cancel_poll_ = SteadyClock::now() + parts_.options.cancel_poll;
  std::vector<Done> batch;
  int failures = 0;
  while (true) {
    bool committed = true;
    try {
      committed = Pass(batch);
    } catch (const std::exception& e) {
      // Nothing is expected here (each step catches its own errors); the
      // loop must outlive it anyway: it is the only one that records finishes.
      spdlog::error("finisher: {}; carrying on", e.what());
      committed = false;
    }
    if (committed) {
      failures = 0;
    } else {
      std::this_thread::sleep_for(Backoff(failures++, kFinishBackoffCap));
    }
    if (stop_) {
      if (batch.empty() && parts_.finishes.Size() == 0) return;
      // The runtime gave the commits its drain budget already; a database
      // that stays away must not keep the process from exiting. The reaper
      // retries these tasks (still running, under this worker's name).
      if (SteadyClock::now() >= give_up_at_) {
        spdlog::error("{} finishes not recorded at exit; their tasks will be reaped",
                      batch.size() + parts_.finishes.Size());
        return;
      }
    }
  }
}

bool Finisher::Pass(std::vector<Done>& batch) {
  const auto& options = parts_.options;
  auto now = SteadyClock::now();
  auto wait_until = std::min({next_progress_, next_cancel_poll_, now + milliseconds(100)});
  for (auto& d : parts_.finishes.PopAll(wait_until)) batch.push_back(std::move(d));
  bool committed = true;
  if (!batch.empty()) {
    // Group commit: give other slots a few ms to finish too. Deliveries
    // are acked when their slot lets go (FinishQueue::Finished), so the wait
    // delays only when an outcome becomes visible, not the next task.
    // Sleeping through the window rather than waiting on the queue: a
    // waiter would be woken by every single finish.
    std::this_thread::sleep_for(options.finish_flush);
    for (auto& d : parts_.finishes.PopAll(SteadyClock::now())) batch.push_back(std::move(d));
    committed = CommitBatch(batch);
  }
  now = SteadyClock::now();
  if (now >= next_progress_) {
    FlushProgress();
    next_progress_ = now + kProgressFlush;
  }
  if (now >= next_cancel_poll_) {
    if (parts_.acks.Unacked() > 0) PollCancellations();
    next_cancel_poll_ = now + options.cancel_poll;
  }
  return committed;
}

bool Finisher::CommitBatch(std::vector<Done>& batch) {
  // A task's last progress message, not yet written, goes first: after the
  // finish its fence (state running) refuses it, and the task would show an
  // older message forever.
  std::vector<std::string> ids;
  ids.reserve(batch.size());
  for (const auto& d : batch) ids.push_back(d.record.id);
  if (parts_.progress.HasAnyOf(ids)) FlushProgress();
  const auto started = SteadyClock::now();
  size_t settled = 0;
  try {
    ApplyBisecting(
        std::span<Done>(batch), settled,
        [&](std::span<Done> part) {
          std::vector<FinishRecord> records;
          records.reserve(part.size());
          for (const auto& d : part) records.push_back(d.record);
          Recorded(part, store_->Finish(records));
        },
        [&](Done& d, const PermanentError& refusal) { Quarantine(d, refusal); });
  } catch (const std::exception& e) {
    // Kept and committed again: an ack before the commit could lose the
    // outcome. What was recorded before the failure leaves the batch.
    batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(settled));
    if (parts_.finish_health.Failed(e.what())) {
      spdlog::warn("recording {} finishes failed, will retry: {}", batch.size(), e.what());
    }
    return false;
  }
  if (parts_.finish_health.Succeeded()) spdlog::info("recording finishes works again");
  parts_.metrics.FinishCommitted(
      batch.size(), std::chrono::duration<double>(SteadyClock::now() - started).count());
  batch.clear();
  return true;
}

void Finisher::Recorded(std::span<Done> part, const std::vector<bool>& applied) {
  for (size_t i = 0; i < part.size(); ++i) {
    const Done& d = part[i];
    if (i >= applied.size() || !applied[i]) {
      ++parts_.counters.stale_finishes;
      parts_.metrics.StaleFinish();
      spdlog::info("finish of task {} attempt {} was fenced out (no longer current)", d.record.id,
                   d.record.attempt);
    } else {
      ++parts_.counters.finished;
      ++(d.record.outcome == Outcome::kSucceeded ? parts_.counters.succeeded
                                                 : parts_.counters.failed);
      parts_.metrics.TaskFinished(d.queue, d.type, d.record.outcome, d.record.state,
                                   d.run_seconds);
      parts_.finished.Add(d.queue);
    }
    Release(d);
  }
}

void Finisher::Release(const Done& d) {
  // Only this attempt: a retry claimed meanwhile stays held.
  parts_.held.Release(d.record.id, d.record.attempt);
  parts_.finishes.Settled(d);
}

void Finisher::Quarantine(Done& d, const PermanentError& refusal) {
  FinishRecord& r = d.record;
  spdlog::error(
      "the database refuses to record task {} attempt {} ({}, {}): {}; recording the "
      "attempt as failed instead",
      r.id, r.attempt, ToString(r.outcome), ToString(r.state), refusal.what());
  const std::string was = std::string(ToString(r.outcome)) + ", " + std::string(ToString(r.state));
  r.state = TaskState::kFailed;
  r.outcome = Outcome::kFailed;
  r.error = "the database refused to record this attempt (" + was + "): " + refusal.what();
  r.error_kind = "quarantined";
  r.retry_at_ms = 0;
  r.result.clear();
  r.children.clear();
  try {
    Recorded({&d, 1}, store_->Finish({&r, 1}));
  } catch (const PermanentError& again) {
    // Nothing this worker can write about the task. It stays running
    // under this worker's name; its lease is no longer extended, so the
    // reaper takes it back once the lease runs out (or logs that the
    // database refuses that too, and leaves it for an operator).
    spdlog::error(
        "task {} attempt {} cannot be recorded even as failed: {}; let go: the reaper "
        "takes it back when its lease runs out",
        r.id, r.attempt, again.what());
    Release(d);
  }
}

void Finisher::FlushProgress() {
  std::vector<ProgressUpdate> updates = parts_.progress.TakeAll();
  if (updates.empty()) return;
  size_t settled = 0;
  try {
    ApplyBisecting(
        std::span<ProgressUpdate>(updates), settled,
        [&](std::span<ProgressUpdate> part) { store_->RecordProgress(part); },
        [&](ProgressUpdate& u, const PermanentError& refusal) {
          spdlog::warn("progress of task {} attempt {} dropped, the database refuses it: {}", u.id,
                       u.attempt, refusal.what());
        });
  } catch (const std::exception& e) {
    spdlog::debug("progress write dropped: {}", e.what());  // progress is best effort
  }
}

void Finisher::PollCancellations() {
  try {
    auto requested = store_->CancelRequested(parts_.options.worker_id);
    if (!requested.empty()) parts_.slots.Cancel(requested);
  } catch (const std::exception& e) {
    spdlog::debug("cancellation poll failed: {}", e.what());
  }
}

}  // namespace fila
