#include "fila/scheduler/relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <utility>

#include "fila/core/backoff.h"
#include "fila/core/errors.h"
#include "fila/core/lifecycle.h"
#include "fila/core/process.h"

namespace fila {
namespace {

void MaybeCrash(const std::string& failpoint, const char* here) {
  if (failpoint == here) {
    spdlog::warn("failpoint {} hit: killing this process", here);
    spdlog::default_logger()->flush();
    std::raise(SIGKILL);
  }
}

// Where the message goes: its queue, or the queue's express lane.
std::string BrokerQueue(const OutboxItem& item) {
  return item.express ? ExpressLane(item.envelope.queue) : item.envelope.queue;
}

}  // namespace

Relay::Relay(RelayOptions options, LeaderStore& store, Publisher& publisher,
             const TaskTypes& types, SchedulerMetrics& metrics)
    : options_(std::move(options)),
      store_(store),
      publisher_(publisher),
      types_(types),
      metrics_(metrics),
      // Ten publish batches a pass: each pass counts the queue's queued
      // tasks, so a huge loss should not take a pass per batch.
      reconciler_({options_.republish_after, options_.batch * 10, options_.publish_timeout},
                  store, publisher, metrics),
      dispatcher_(options_.dispatch, store, publisher, metrics) {}

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
  // A PermanentError (one bad schedule row) is the step's own: see Step().
  FireResult r = store_.FireDueSchedules(types_, options_.cron_grace.count(), options_.batch);
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

std::vector<OutboxItem> Relay::NextBatch(std::span<const int64_t> exclude) {
  return dispatcher_.Next(options_.batch, exclude);
}

size_t Relay::PublishBatch() {
  const size_t room = std::max<uint32_t>(options_.in_flight, 1);
  // Waiting for a confirm beats idling: with the pipeline full, or the
  // outbox empty for now, nothing else is to be done.
  const bool wait = !in_flight_.empty() && (in_flight_.size() >= room || outbox_short_);
  auto failure =
      CollectConfirms(wait ? DeadlineIn(options_.publish_timeout) : SteadyClock::now());
  DeleteConfirmed();
  // A failed batch's rows are fetched again once the pass backed off.
  if (failure) throw TransientError("publish failed: " + *failure);
  if (in_flight_.size() >= room) return options_.batch;  // busy, not caught up
  // The last pass came back short because the window held rows back: the
  // broker drains at the workers' pace, so the next pass waits for the
  // dispatcher's poll or a notification it wants (Run sleeps), instead of
  // following each confirm (hundreds of passes a second under one
  // tenant's flood, each finding the window nearly full).
  if (wait && dispatcher_.Held()) return 0;
  const size_t fetched = SendNext();
  outbox_short_ = fetched < options_.batch;
  return fetched;
}

std::optional<std::string> Relay::CollectConfirms(Deadline deadline) {
  if (in_flight_.empty()) return std::nullopt;
  std::optional<std::string> failure;
  for (const PublishOutcome& outcome : publisher_.CollectConfirms(deadline)) {
    auto batch = std::find_if(in_flight_.begin(), in_flight_.end(),
                              [&](const Batch& b) { return b.ticket == outcome.ticket; });
    if (batch == in_flight_.end()) continue;
    dispatcher_.Settled(batch->tasks, outcome.confirmed);
    if (outcome.confirmed) {
      MaybeCrash(options_.failpoint, "relay.after_publish");
      to_delete_.insert(to_delete_.end(), batch->outbox_ids.begin(), batch->outbox_ids.end());
      published_ += batch->messages;
      metrics_.Published(batch->messages);
    } else if (!failure) {
      failure = outcome.error;
    }
    in_flight_.erase(batch);
  }
  ReportInFlight();
  return failure;
}

void Relay::DeleteConfirmed() {
  // A crash before the delete publishes these rows again on the next run;
  // claims drop the copies.
  if (to_delete_.empty()) return;
  store_.DeleteOutbox(to_delete_);
  to_delete_.clear();
}

size_t Relay::SendNext() {
  const std::vector<int64_t> exclude = Unfinished();
  auto items = NextBatch(exclude);
  if (items.empty()) return 0;
  std::vector<OutgoingMessage> messages;
  Batch batch;
  messages.reserve(items.size());
  batch.outbox_ids.reserve(items.size());
  for (const auto& item : items) {
    batch.outbox_ids.push_back(item.outbox_id);
    if (item.envelope.queue.empty()) continue;  // no longer queued: nothing to publish
    messages.push_back({BrokerQueue(item), EncodeEnvelope(item.envelope),
                        static_cast<uint8_t>(item.publish_priority), item.envelope.id,
                        item.ahead});
  }
  if (messages.empty()) {
    store_.DeleteOutbox(batch.outbox_ids);
    return items.size();
  }
  MaybeCrash(options_.failpoint, "relay.before_publish");
  batch.ticket = publisher_.PublishAsync(messages, DeadlineIn(options_.publish_timeout));
  batch.messages = messages.size();
  for (const auto& item : items) {
    if (!item.envelope.queue.empty())
      batch.tasks.push_back({BrokerQueue(item), item.envelope.id, item.ahead});
  }
  dispatcher_.Sent(batch.tasks);
  in_flight_.push_back(std::move(batch));
  ReportInFlight();
  return items.size();
}

std::vector<int64_t> Relay::Unfinished() const {
  std::vector<int64_t> ids = to_delete_;
  for (const Batch& batch : in_flight_)
    ids.insert(ids.end(), batch.outbox_ids.begin(), batch.outbox_ids.end());
  return ids;
}

void Relay::ReportInFlight() {
  size_t messages = 0;
  for (const Batch& batch : in_flight_) messages += batch.messages;
  metrics_.RelayInFlight(static_cast<int64_t>(messages));
}

void Relay::Reap() {
  auto reaped = store_.ReapLost(static_cast<uint32_t>(options_.worker_timeout.count()),
                                options_.batch);
  for (const auto& t : reaped) {
    spdlog::warn("reaped task {} attempt {} from worker {} ({}): now {}", t.id, t.attempt,
                 t.worker, ToString(t.reason), ToString(t.state));
    metrics_.LeaseExpired(std::string(MetricLabel(t.reason)), t.queue, t.type, t.state);
  }
  reaped_ += reaped.size();
}

namespace {

// The relay's retries: of its whole loop, and (times ten) of one failing step.
constexpr std::chrono::milliseconds kBackoffCap{3000};

}  // namespace

template <typename Next>
SteadyClock::time_point Relay::Step(const char* name, PartHealth& health, int& failures,
                                    Next&& next) {
  try {
    auto when = next();
    failures = 0;
    if (health.Succeeded()) spdlog::info("relay: {} works again", name);
    return when;
  } catch (const TransientError&) {
    throw;
  } catch (const std::exception& e) {
    // Retrying at once cannot help; the other steps must not wait for it.
    if (health.Failed(e.what()))
      spdlog::error("relay: {} failed: {}; trying again later", name, e.what());
    return SteadyClock::now() + Backoff(failures++, kBackoffCap) * 10;
  }
}

std::optional<std::string> Relay::Problem() const {
  std::string out;
  for (const auto& [name, health] :
       {std::pair{"relay", &loop_health_}, std::pair{"release", &release_health_},
        std::pair{"cron", &cron_health_}, std::pair{"reap", &reap_health_},
        std::pair{"publish", &publish_health_}, std::pair{"reconcile", &reconcile_health_}}) {
    if (auto problem = health->Problem())
      out += (out.empty() ? "" : "; ") + std::string(name) + ": " + *problem;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

SteadyClock::time_point Relay::HoldReaping(const char* why) {
  spdlog::info("reaper: no task is judged lost for {} ms ({}): workers get a worker timeout to "
               "heartbeat again",
               options_.worker_timeout.count(), why);
  return SteadyClock::now() + options_.worker_timeout;
}

void Relay::AwaitWake(SteadyClock::time_point wake, SteadyClock::time_point& next_release) {
  for (;;) {
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - SteadyClock::now());
    if (wait.count() <= 0) return;
    const auto payloads = store_.AwaitPayloads(wait);
    if (payloads.empty()) return;  // the wake-up, or a notification without payload
    bool pass = false;
    for (const auto& payload : payloads) {
      if (payload == "due") {
        next_release = SteadyClock::now();
        pass = true;
      } else {
        pass = pass || dispatcher_.Wanted(payload);
      }
    }
    if (pass) return;
  }
}

void Relay::Run(const std::atomic<bool>& stop) {
  bool leader = false;
  bool listening = false;
  // A pass failed: this relay could not reach the database (or the
  // database was too slow), and cannot know whether the workers could
  // heartbeat meanwhile. Their heartbeats may be stale and their leases
  // run out for no fault of theirs. (A pass failed by the broker counts
  // too: telling the two apart is not worth a worker timeout of reaping.)
  bool database_in_doubt = false;
  int failures = 0;
  int release_failures = 0, cron_failures = 0, reap_failures = 0, publish_failures = 0;
  int reconcile_failures = 0;
  auto next_release = SteadyClock::now();
  auto next_cron = SteadyClock::now();
  auto next_reap = SteadyClock::now();
  auto next_publish = SteadyClock::now();
  auto next_reconcile = SteadyClock::now();
  while (!stop) {
    try {
      if (!store_.TryLeadership(kLeaderLockKey)) {
        if (leader) spdlog::warn("lost leadership");
        leader = false;
        metrics_.Leader(false);
        // A follower does not listen: notifications nobody reads hold back
        // PostgreSQL's queue (shared by the whole server: NOTIFY fails for
        // everyone once it is full) and pile up in this process.
        if (listening) {
          listening = false;
          store_.Unlisten("fila_outbox");
        }
        // A follower runs no step: nothing of theirs is failing now.
        for (auto* health : {&loop_health_, &release_health_, &cron_health_, &reap_health_,
                             &publish_health_, &reconcile_health_}) {
          health->Succeeded();
        }
        SleepUnlessStopped(options_.leader_retry, stop);
        continue;
      }
      if (!listening) {
        // Registered even when this throws: the next connection listens.
        // What was notified before is looked at by the pass below anyway.
        listening = true;
        store_.Listen("fila_outbox");
      }
      if (!leader) {
        spdlog::info("became leader: relaying the outbox");
        // Whatever came due while another scheduler led is looked at now;
        // lost tasks only once the workers had a worker timeout to
        // heartbeat (the last leader may have gone with the database).
        next_release = next_cron = next_publish = next_reconcile = SteadyClock::now();
        database_in_doubt = true;
      }
      if (std::exchange(database_in_doubt, false)) {
        next_reap = std::max(next_reap, HoldReaping(leader ? "the database is back" : "new leader"));
      }
      leader = true;
      metrics_.Leader(true);

      if (SteadyClock::now() >= next_release) {
        next_release =
            Step("release", release_health_, release_failures, [&] { return ReleaseDue(); });
      }
      if (SteadyClock::now() >= next_cron) {
        next_cron = Step("cron", cron_health_, cron_failures, [&] { return FireSchedules(); });
      }
      if (SteadyClock::now() >= next_reap) {
        next_reap = Step("reap", reap_health_, reap_failures, [&] {
          Reap();
          return SteadyClock::now() + options_.reap_interval;
        });
      }
      size_t handled = 0;
      bool caught_up = false;  // the outbox was drained by this pass
      if (SteadyClock::now() >= next_publish) {
        next_publish = Step("publish", publish_health_, publish_failures, [&] {
          handled = PublishBatch();
          // Drained only with nothing in flight: a batch in flight may
          // still fail and leave its rows.
          caught_up = handled < options_.batch && in_flight_.empty();
          return SteadyClock::now();
        });
      }
      // Only behind a drained outbox: a task waiting there is not lost, and
      // what a pass republishes is published before the next pass looks.
      if (caught_up && SteadyClock::now() >= next_reconcile) {
        next_reconcile = Step("reconcile", reconcile_health_, reconcile_failures,
                              [&] { return reconciler_.Pass(); });
      }
      failures = 0;
      if (loop_health_.Succeeded()) spdlog::info("relay: working again");
      if (handled < options_.batch && in_flight_.empty()) {
        // Caught up: sleep until a NOTIFY, the next due task or cron slot,
        // the next sweep or a stop check.
        auto wake = std::min({next_release, next_cron, next_reap,
                              SteadyClock::now() + std::chrono::milliseconds(500)});
        // A publish backing off after an error is due again at its time;
        // otherwise a NOTIFY (or the sweep) says there is more. A
        // reconciliation already due waits for a drained outbox.
        for (auto next : {next_publish, next_reconcile}) {
          if (next > SteadyClock::now()) wake = std::min(wake, next);
        }
        // The window held rows back: workers draining the broker notify
        // nobody, so look again soon.
        if (dispatcher_.Held()) wake = std::min(wake, SteadyClock::now() + dispatcher_.RetryIn());
        AwaitWake(wake, next_release);
      }
    } catch (const std::exception& e) {
      // TransientError: the database or the broker is away or slow (a
      // statement timeout); anything else was not expected here. Neither
      // ends the loop: back off and try again.
      database_in_doubt = true;
      const auto backoff = Backoff(failures++, kBackoffCap);
      const bool transient = dynamic_cast<const TransientError*>(&e) != nullptr;
      if (loop_health_.Failed(e.what())) {
        spdlog::log(transient ? spdlog::level::warn : spdlog::level::err,
                    "relay: {}; retrying in {} ms", e.what(), backoff.count());
      }
      SleepUnlessStopped(backoff, stop);
    }
  }
}

}  // namespace fila
