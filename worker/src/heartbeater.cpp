#include "heartbeater.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "fila/core/clock.h"

namespace fila {

Heartbeater::Heartbeater(HeartbeatParts parts, std::unique_ptr<WorkerStore> store)
    : parts_(parts), store_(std::move(store)) {}

Heartbeater::~Heartbeater() { Stop(); }

void Heartbeater::Start() {
  // RunWorker registered the worker (its first heartbeat) just before.
  last_beat_ = SteadyClock::now().time_since_epoch().count();
  thread_ = std::thread([this] { Loop(); });
}

bool Heartbeater::Overdue() const {
  return SteadyClock::now() - LastBeat() > 3 * parts_.options.heartbeat_interval;
}

SteadyClock::time_point Heartbeater::LastBeat() const {
  return SteadyClock::time_point{SteadyClock::duration(last_beat_.load())};
}

void Heartbeater::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  try {
    store_->Deregister(parts_.options.worker_id);
  } catch (const std::exception& e) {
    spdlog::warn("could not deregister worker: {}", e.what());
  }
}

void Heartbeater::Loop() {
  // The worker registered before it started (RunWorker's first heartbeat):
  // the first beat is due one interval from now.
  auto next = SteadyClock::now() + parts_.options.heartbeat_interval;
  std::unique_lock lock(mutex_);
  while (!wake_.wait_until(lock, next, [this] { return stop_; })) {
    lock.unlock();
    Beat();
    lock.lock();
    // Beats keep their cadence: a slow one does not push the next back.
    next += parts_.options.heartbeat_interval;
    if (next < SteadyClock::now()) next = SteadyClock::now();
  }
}

void Heartbeater::Beat() {
  const auto& o = parts_.options;
  WorkerInfo info{o.worker_id, o.hostname, static_cast<int64_t>(::getpid()), o.queues, o.Slots()};
  info.succeeded = parts_.counters.succeeded;
  info.failed = parts_.counters.failed;
  info.finished_by_queue = parts_.finished.ByQueue();
  info.held = parts_.held.Ids();
  info.version = FILA_VERSION;
  try {
    // The database stamps the beat with its transaction's start: a beat
    // held up for seconds is that old once it commits.
    const auto began = SteadyClock::now();
    if (store_->Heartbeat(info, static_cast<uint32_t>(o.lease.count())) && !drain_requested_.exchange(true)) {
      spdlog::info("drain requested by an operator: taking no new task, finishing the running ones");
    }
    last_beat_ = began.time_since_epoch().count();
    if (parts_.health.Succeeded()) spdlog::info("heartbeats work again");
  } catch (const std::exception& e) {
    if (parts_.health.Failed(e.what())) spdlog::warn("heartbeat failed: {}", e.what());
  }
}

}  // namespace fila
