#include "fila/relay.h"

#include <spdlog/spdlog.h>

#include <csignal>

#include "fila/errors.h"
#include "fila/postgres_store.h"
#include "fila/process.h"

namespace fila {
namespace {

void MaybeCrash(const std::string& failpoint, const char* here) {
  if (failpoint == here) {
    spdlog::warn("failpoint {} hit: killing this process", here);
    spdlog::default_logger()->flush();
    std::raise(SIGKILL);
  }
}

}  // namespace

Relay::Relay(RelayOptions options, PostgresStore& store, Publisher& publisher,
             const TaskTypes& types, SchedulerMetrics& metrics)
    : options_(std::move(options)),
      store_(store),
      publisher_(publisher),
      types_(types),
      metrics_(metrics) {}

SteadyClock::time_point Relay::ReleaseDue() {
  int64_t next_due_ms = -1;
  if (int64_t released = store_.ReleaseDue(options_.batch, &next_due_ms); released > 0) {
    spdlog::debug("released {} due tasks", released);
    metrics_.Released(static_cast<uint64_t>(released));
  }
  auto wait = options_.sweep_interval;
  if (next_due_ms >= 0) wait = std::min(wait, std::chrono::milliseconds(next_due_ms));
  return SteadyClock::now() + wait;
}

SteadyClock::time_point Relay::FireSchedules() {
  FireResult r;
  try {
    r = store_.FireDueSchedules(types_, options_.cron_grace.count(), options_.batch);
  } catch (const PermanentError& e) {
    // One bad schedule row must not stop the relay: say so, try again later.
    spdlog::error("cron: {}", e.what());
    return SteadyClock::now() + options_.sweep_interval;
  }
  for (const auto& f : r.fired) {
    spdlog::info("schedule {}/{} fired slot {}: task {}{}", f.tenant, f.name, f.slot_ms, f.task_id,
                 f.created ? "" : " (existed)");
  }
  if (r.missed > 0) spdlog::warn("cron: {} missed slots skipped by their catch-up policy", r.missed);
  fired_ += r.fired.size();
  metrics_.ScheduleSlots(r.fired.size(), static_cast<uint64_t>(r.missed));
  // New schedules tell nobody: look at least once per sweep.
  auto wait = options_.sweep_interval;
  if (r.next_due_in_ms >= 0) wait = std::min(wait, std::chrono::milliseconds(r.next_due_in_ms));
  return SteadyClock::now() + wait;
}

size_t Relay::PublishBatch() {
  auto items = store_.FetchOutbox(options_.batch);
  if (items.empty()) return 0;
  std::vector<OutgoingMessage> messages;
  std::vector<int64_t> ids;
  messages.reserve(items.size());
  for (const auto& item : items) {
    ids.push_back(item.outbox_id);
    if (item.envelope.queue.empty()) continue;  // no longer queued: nothing to publish
    messages.push_back({item.envelope.queue, EncodeEnvelope(item.envelope),
                        static_cast<uint8_t>(item.envelope.priority), item.envelope.id});
  }
  MaybeCrash(options_.failpoint, "relay.before_publish");
  publisher_.PublishConfirmed(messages, DeadlineIn(options_.publish_timeout));
  MaybeCrash(options_.failpoint, "relay.after_publish");
  // A crash here republishes the batch on the next run; claims drop the copies.
  store_.DeleteOutbox(ids);
  published_ += messages.size();
  metrics_.Published(messages.size());
  return items.size();
}

void Relay::Reap() {
  auto reaped = store_.ReapLost(static_cast<uint32_t>(options_.worker_timeout.count()),
                                options_.batch);
  for (const auto& t : reaped) {
    spdlog::warn("reaped task {} attempt {} from worker {} ({}): now {}", t.id, t.attempt,
                 t.worker, t.reason, ToString(t.state));
    metrics_.LeaseExpired(t.reason == "lease expired" ? "lease_expired" : "worker_lost", t.queue,
                          t.type, t.state);
  }
  reaped_ += reaped.size();
}

void Relay::Run(const std::atomic<bool>& stop) {
  store_.Listen("fila_outbox");
  bool leader = false;
  int failures = 0;
  auto next_release = SteadyClock::now();
  auto next_cron = SteadyClock::now();
  auto next_reap = SteadyClock::now();
  while (!stop) {
    try {
      if (!store_.TryLeadership(kLeaderLockKey)) {
        if (leader) spdlog::warn("lost leadership");
        leader = false;
        metrics_.Leader(false);
        SleepUnlessStopped(options_.leader_retry, stop);
        continue;
      }
      if (!leader) {
        spdlog::info("became leader: relaying the outbox");
        // Whatever came due while another scheduler led is looked at now.
        next_release = next_cron = next_reap = SteadyClock::now();
      }
      leader = true;
      metrics_.Leader(true);

      if (SteadyClock::now() >= next_release) next_release = ReleaseDue();
      if (SteadyClock::now() >= next_cron) next_cron = FireSchedules();
      if (SteadyClock::now() >= next_reap) {
        Reap();
        next_reap = SteadyClock::now() + options_.reap_interval;
      }
      size_t handled = PublishBatch();
      failures = 0;
      if (handled < options_.batch) {
        // Caught up: sleep until a NOTIFY, the next due task or cron slot,
        // the next sweep or a stop check.
        auto wake = std::min({next_release, next_cron, next_reap,
                              SteadyClock::now() + std::chrono::milliseconds(500)});
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - SteadyClock::now());
        if (wait.count() > 0) {
          // "due": a task became scheduled, maybe earlier than the next
          // wake-up; anything else is the outbox.
          for (const auto& payload : store_.AwaitPayloads(wait)) {
            if (payload == "due") next_release = SteadyClock::now();
          }
        }
      }
    } catch (const TransientError& e) {
      auto backoff = std::chrono::milliseconds(std::min(100 << std::min(failures, 5), 3000));
      ++failures;
      spdlog::warn("relay: {}; retrying in {} ms", e.what(), backoff.count());
      SleepUnlessStopped(backoff, stop);
    }
  }
}

}  // namespace fila
