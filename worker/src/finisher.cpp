#include "finisher.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "fila/errors.h"
#include "slot_pool.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kProgressFlush{250};
// After Stop(), how long unrecorded finishes are still retried.
constexpr milliseconds kStopBudget{5000};

milliseconds Backoff(int failures) {
  return milliseconds(std::min<int64_t>(100LL << std::min(failures, 5), 2000));
}

}  // namespace

Finisher::Finisher(Shared& shared, std::unique_ptr<StateStore> store, SlotPool& slots)
    : shared_(shared), store_(std::move(store)), slots_(slots) {}

Finisher::~Finisher() { Stop(); }

void Finisher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Finisher::Stop() {
  if (!thread_.joinable()) return;
  give_up_at_ = SteadyClock::now() + kStopBudget;
  stop_ = true;
  thread_.join();
  try {
    store_->Deregister(shared_.options.worker_id);
  } catch (const Error& e) {
    spdlog::warn("could not deregister worker: {}", e.what());
  }
}

void Finisher::Loop() {
  const auto& options = shared_.options;
  auto next_heartbeat = SteadyClock::now() + options.heartbeat_interval;
  auto next_progress = SteadyClock::now() + kProgressFlush;
  auto next_cancel_poll = SteadyClock::now() + options.cancel_poll;
  std::vector<Done> batch;
  int failures = 0;
  while (true) {
    auto now = SteadyClock::now();
    auto wait_until = std::min({next_heartbeat, next_progress, next_cancel_poll,
                                now + milliseconds(100)});
    for (auto& d : shared_.done.PopAll(wait_until)) batch.push_back(std::move(d));
    if (!batch.empty()) {
      // Group commit: give other slots a few ms to finish too. Deliveries
      // are acked when their slot lets go (Shared::Finished), so the wait
      // delays only when an outcome becomes visible, not the next task.
      // Sleeping through the window rather than waiting on the queue: a
      // waiter would be woken by every single finish.
      std::this_thread::sleep_for(options.finish_flush);
      for (auto& d : shared_.done.PopAll(SteadyClock::now())) batch.push_back(std::move(d));
      if (CommitBatch(batch)) {
        failures = 0;
      } else {
        std::this_thread::sleep_for(Backoff(failures++));
      }
    }
    now = SteadyClock::now();
    if (now >= next_progress) {
      FlushProgress();
      next_progress = now + kProgressFlush;
    }
    if (now >= next_cancel_poll) {
      if (shared_.inflight > 0) PollCancellations();
      next_cancel_poll = now + options.cancel_poll;
    }
    if (now >= next_heartbeat) {
      Heartbeat();
      next_heartbeat = now + options.heartbeat_interval;
    }
    if (stop_) {
      if (batch.empty() && shared_.done.Size() == 0) return;
      // The runtime gave the commits its drain budget already; a database
      // that stays away must not keep the process from exiting. The reaper
      // retries these tasks (still running, under this worker's name).
      if (SteadyClock::now() >= give_up_at_) {
        spdlog::error("{} finishes not recorded at exit; their tasks will be reaped",
                      batch.size() + shared_.done.Size());
        return;
      }
    }
  }
}

bool Finisher::CommitBatch(std::vector<Done>& batch) {
  // A task's last progress message, not yet written, goes first: after the
  // finish its fence (state running) refuses it, and the task would show an
  // older message forever.
  bool unwritten_progress = false;
  {
    std::lock_guard lock(shared_.progress_mutex);
    for (const auto& d : batch) unwritten_progress |= shared_.progress.count(d.record.id) > 0;
  }
  if (unwritten_progress) FlushProgress();
  std::vector<FinishRecord> records;
  records.reserve(batch.size());
  for (const auto& d : batch) records.push_back(d.record);
  std::vector<bool> applied;
  const auto started = SteadyClock::now();
  try {
    applied = store_->Finish(records);
  } catch (const Error& e) {
    // Kept and committed again: an ack before the commit could lose the outcome.
    spdlog::warn("recording {} finishes failed, will retry: {}", batch.size(), e.what());
    shared_.database_ok = false;
    return false;
  }
  shared_.database_ok = true;
  shared_.metrics.FinishCommitted(
      batch.size(), std::chrono::duration<double>(SteadyClock::now() - started).count());
  for (size_t i = 0; i < batch.size(); ++i) {
    const Done& d = batch[i];
    if (!applied[i]) {
      ++shared_.counters.stale_finishes;
      shared_.metrics.StaleFinish();
      spdlog::info("finish of task {} attempt {} was fenced out (no longer current)", d.record.id,
                   d.record.attempt);
      continue;
    }
    ++shared_.counters.finished;
    ++(d.record.outcome == Outcome::kSucceeded ? shared_.counters.succeeded
                                               : shared_.counters.failed);
    shared_.metrics.TaskFinished(d.queue, d.type, d.record.outcome, d.record.state,
                                 d.run_seconds);
    std::lock_guard lock(shared_.stats_mutex);
    ++shared_.finished_by_queue[d.queue];
  }
  {
    std::lock_guard lock(shared_.held_mutex);
    for (const auto& d : batch) {
      // Only this attempt: a retry claimed meanwhile stays held.
      auto it = shared_.held.find(d.record.id);
      if (it != shared_.held.end() && it->second == d.record.attempt) shared_.held.erase(it);
    }
  }
  std::vector<AckRef> late;
  for (const auto& d : batch) {
    if (!d.acked) late.push_back({d.epoch, d.tag});
  }
  if (!late.empty()) shared_.PostAcks(late);
  shared_.unrecorded -= static_cast<int64_t>(batch.size());
  batch.clear();
  return true;
}

void Finisher::FlushProgress() {
  std::vector<ProgressUpdate> updates;
  {
    std::lock_guard lock(shared_.progress_mutex);
    for (auto& [id, u] : shared_.progress) updates.push_back(std::move(u));
    shared_.progress.clear();
  }
  if (updates.empty()) return;
  try {
    store_->RecordProgress(updates);
  } catch (const Error& e) {
    spdlog::debug("progress write dropped: {}", e.what());  // progress is best effort
  }
}

void Finisher::PollCancellations() {
  try {
    auto requested = store_->CancelRequested(shared_.options.worker_id);
    if (!requested.empty()) slots_.Cancel(requested);
  } catch (const Error& e) {
    spdlog::debug("cancellation poll failed: {}", e.what());
  }
}

void Finisher::Heartbeat() {
  const auto& o = shared_.options;
  WorkerInfo info{o.worker_id, o.hostname, static_cast<int64_t>(::getpid()), o.queues,
                  o.concurrency};
  info.succeeded = shared_.counters.succeeded;
  info.failed = shared_.counters.failed;
  {
    std::lock_guard lock(shared_.stats_mutex);
    info.finished_by_queue = shared_.finished_by_queue;
  }
  {
    std::lock_guard lock(shared_.held_mutex);
    info.held.reserve(shared_.held.size());
    for (const auto& [id, attempt] : shared_.held) info.held.push_back(id);
  }
  try {
    store_->Heartbeat(info, static_cast<uint32_t>(o.lease.count()));
    shared_.database_ok = true;
  } catch (const Error& e) {
    shared_.database_ok = false;
    spdlog::warn("heartbeat failed: {}", e.what());
  }
}

}  // namespace fila
