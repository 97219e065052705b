// MemoryStore: what the leader's relay does (leadership, notifications, the
// outbox, due tasks, the reaper, cron, reconciliation).
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "fila/core/errors.h"
#include "fila/core/lifecycle.h"
#include "fila/core/schedule_firing.h"
#include "memory_state.h"

namespace fila {
namespace {

// The message of a task in the outbox. A task no longer queued needs none:
// marked by an empty queue (its row is deleted unpublished).
Envelope EnvelopeOf(const MemTask& t) {
  Envelope e;
  e.id = t.v.id;
  e.type = t.v.type;
  e.queue = t.v.state == TaskState::kQueued ? t.v.queue : std::string();
  e.priority = t.v.priority;
  e.attempt = t.v.attempt;
  e.max_attempts = t.v.max_attempts;
  e.timeout_ms = t.v.timeout_ms;
  e.tenant = t.v.tenant;
  e.idempotency_key = t.v.idempotency_key;
  e.payload = t.v.payload;
  e.trace_id = t.v.trace_id;
  e.enqueued_at_unix_ms = t.v.created_at_ms;
  e.type_version = t.v.type_version;
  return e;
}

}  // namespace

void MemoryStore::SetLeadershipAvailable(bool available) {
  std::lock_guard lock(state_->mu);
  state_->leadership_available = available;
}

void MemoryStore::Notify(const std::string& payload) {
  std::lock_guard lock(state_->mu);
  state_->Signal(payload);
}

bool MemoryStore::TryLeadership(int64_t /*key*/) {
  std::lock_guard lock(state_->mu);
  return state_->leadership_available;
}

void MemoryStore::Listen(const std::string& /*channel*/) {}  // every change notifies
void MemoryStore::Unlisten(const std::string& /*channel*/) {}  // in process: nothing held back

std::vector<std::string> MemoryStore::AwaitPayloads(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  state_->wake.wait_for(lock, timeout, [&] { return state_->notified; });
  state_->notified = false;
  std::vector<std::string> out;
  out.swap(state_->payloads);
  return out;
}

std::vector<OutboxItem> MemoryStore::FetchOutbox(uint32_t limit,
                                                 std::span<const int64_t> exclude) {
  std::lock_guard lock(state_->mu);
  const std::set<int64_t> skip(exclude.begin(), exclude.end());
  std::vector<OutboxItem> items;
  for (const auto& [outbox_id, row] : state_->outbox) {
    if (items.size() >= limit) break;
    if (skip.contains(outbox_id)) continue;
    const MemTask& t = state_->tasks.at(row.first);
    if (state_->Paused(t.v.queue)) continue;
    OutboxItem item;
    item.outbox_id = outbox_id;
    item.envelope = EnvelopeOf(t);
    item.publish_priority = item.envelope.priority;
    items.push_back(std::move(item));
  }
  return items;
}

void MemoryStore::SetTenantWeight(const std::string& tenant, int64_t weight) {
  std::lock_guard lock(state_->mu);
  state_->tenant_weights[tenant] = weight;
}

DispatchResult MemoryStore::FetchDispatch(const DispatchRequest& request) {
  std::lock_guard lock(state_->mu);
  const std::set<int64_t> skip(request.skip.begin(), request.skip.end());
  // The groups, as PostgreSQL's outbox_dispatch index orders them, with
  // their rows in id order.
  std::map<std::tuple<std::string, uint32_t, std::string>, std::vector<int64_t>> rows;
  for (const auto& [outbox_id, row] : state_->outbox) {
    if (skip.contains(outbox_id)) continue;
    const MemTask& t = state_->tasks.at(row.first);
    if (state_->Paused(t.v.queue)) continue;
    rows[{t.v.queue, t.v.priority, t.v.tenant}].push_back(outbox_id);
  }
  DispatchResult out;
  std::vector<DispatchGroup> groups;
  std::vector<const std::vector<int64_t>*> group_rows;
  std::set<std::string> unknown;
  for (const auto& [key, ids] : rows) {
    DispatchGroup g;
    std::tie(g.queue, g.priority, g.tenant) = key;
    g.head_id = ids.front();
    g.head_created_ms = state_->outbox.at(g.head_id).second;
    g.rows = static_cast<int64_t>(ids.size());
    for (int64_t id : ids) g.created_ms.push_back(state_->outbox.at(id).second);
    if (request.bounded && !request.room.contains(g.queue)) unknown.insert(g.queue);
    groups.push_back(std::move(g));
    group_rows.push_back(&ids);
  }
  out.unknown_queues.assign(unknown.begin(), unknown.end());
  std::map<std::pair<std::string, std::string>, TenantShare> shares;
  const std::set<std::string> ahead(request.in_broker_ahead.begin(), request.in_broker_ahead.end());
  for (const auto& id : request.in_broker) {
    const MemTask* t = state_->Find(id);
    if (t == nullptr || t->v.state != TaskState::kQueued) continue;
    out.in_broker.push_back(id);
    TenantShare& share = shares[{t->v.queue, t->v.tenant}];
    ++share.usage;
    if (ahead.contains(id)) ++share.serving;
  }
  for (const auto& [id, t] : state_->tasks) {
    if (t.v.state != TaskState::kRunning) continue;
    TenantShare& share = shares[{t.v.queue, t.v.tenant}];
    ++share.usage;
    ++share.serving;
  }
  for (auto& [key, share] : shares) {
    auto it = state_->tenant_weights.find(key.second);
    if (it != state_->tenant_weights.end()) share.weight = it->second;
  }
  for (const auto& g : groups) {
    auto it = state_->tenant_weights.find(g.tenant);
    if (it != state_->tenant_weights.end()) shares[{g.queue, g.tenant}].weight = it->second;
  }
  const int64_t now = state_->Now();
  std::vector<size_t> next(groups.size(), 0);
  auto plan = PlanDispatch(request, groups, shares, now);
  out.full_queues = std::move(plan.full_queues);
  out.held_queues = std::move(plan.held_queues);
  out.backlog = std::move(plan.backlog);
  out.top_priority = plan.top_priority;
  for (const auto& pick : plan.picks) {
    const int64_t outbox_id = (*group_rows[pick.group])[next[pick.group]++];
    const auto& [task_id, created_ms] = state_->outbox.at(outbox_id);
    const MemTask& t = state_->tasks.at(task_id);
    OutboxItem item;
    item.outbox_id = outbox_id;
    item.envelope = EnvelopeOf(t);
    item.publish_priority = plan.PublishPriority(t.v.queue, t.v.priority, now - created_ms,
                                                 request.AgingOf(t.v.queue));
    item.ahead = pick.ahead;
    item.queued_ms = created_ms;
    out.items.push_back(std::move(item));
  }
  return out;
}

void MemoryStore::DeleteOutbox(std::span<const int64_t> outbox_ids) {
  std::lock_guard lock(state_->mu);
  for (int64_t id : outbox_ids) state_->outbox.erase(id);
}

std::vector<MemTask*> MemoryStore::State::Published(const std::string& queue,
                                                    int64_t older_than_ms) {
  std::set<std::string> pending;
  for (const auto& [outbox_id, row] : outbox) pending.insert(row.first);
  std::vector<MemTask*> out;
  for (auto& [id, t] : tasks) {
    if (t.v.state != TaskState::kQueued || t.v.queue != queue || pending.contains(id)) continue;
    if (older_than_ms >= 0 && t.outboxed_at_ms >= Now() - older_than_ms) continue;
    out.push_back(&t);
  }
  std::stable_sort(out.begin(), out.end(), [](const MemTask* a, const MemTask* b) {
    return a->outboxed_at_ms < b->outboxed_at_ms;
  });
  return out;
}

std::vector<std::string> MemoryStore::QueuesWithStaleTasks(int64_t older_than_ms) {
  std::lock_guard lock(state_->mu);
  std::set<std::string> queues;
  for (const auto& [id, t] : state_->tasks) {
    if (t.v.state == TaskState::kQueued) queues.insert(t.v.queue);
  }
  std::vector<std::string> out;
  for (const auto& queue : queues) {
    if (!state_->Published(queue, older_than_ms).empty()) out.push_back(queue);
  }
  return out;
}

int64_t MemoryStore::CountPublished(const std::string& queue) {
  std::lock_guard lock(state_->mu);
  return static_cast<int64_t>(state_->Published(queue, -1).size());
}

std::vector<std::string> MemoryStore::QueuedOrRunning(const std::vector<std::string>& ids) {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (const auto& id : ids) {
    const auto it = state_->tasks.find(id);
    if (it == state_->tasks.end()) continue;
    const TaskState state = it->second.v.state;
    if (state == TaskState::kQueued || state == TaskState::kRunning) out.push_back(id);
  }
  return out;
}

std::vector<std::string> MemoryStore::Republish(const std::vector<std::string>& ids) {
  std::lock_guard lock(state_->mu);
  std::set<std::string> pending;
  for (const auto& [outbox_id, row] : state_->outbox) pending.insert(row.first);
  std::vector<std::string> out;
  for (const auto& id : ids) {
    const auto it = state_->tasks.find(id);
    if (it == state_->tasks.end() || it->second.v.state != TaskState::kQueued) continue;
    if (!pending.insert(id).second) continue;  // a row waits already (or a repeated id)
    state_->AddOutbox(id);
    out.push_back(id);
  }
  return out;
}

int64_t MemoryStore::FreeConsumerSlots(const std::string& queue, int64_t seen_within_ms) {
  std::lock_guard lock(state_->mu);
  const int64_t since = state_->now_ms() - seen_within_ms;
  std::map<std::string, int64_t> running;
  for (const auto& [id, t] : state_->tasks) {
    if (t.v.state == TaskState::kRunning) ++running[t.v.worker];
  }
  int64_t slots = 0;
  for (const auto& [id, w] : state_->workers) {
    const bool consumes = std::ranges::find(w.info.queues, queue) != w.info.queues.end();
    const auto it = running.find(id);
    const int64_t busy = it == running.end() ? 0 : it->second;
    if (consumes && w.heartbeat_at_ms > since) {
      slots += std::max<int64_t>(0, static_cast<int64_t>(w.info.concurrency) - busy);
    }
  }
  return slots;
}

int64_t MemoryStore::RepublishStale(const std::string& queue, int64_t older_than_ms,
                                    uint32_t limit) {
  std::lock_guard lock(state_->mu);
  auto stale = state_->Published(queue, older_than_ms);
  if (stale.size() > limit) stale.resize(limit);
  for (MemTask* t : stale) state_->AddOutbox(t->v.id);
  return static_cast<int64_t>(stale.size());
}

int64_t MemoryStore::ReleaseDue(uint32_t limit, int64_t* next_due_in_ms) {
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  const int64_t now = s.Now();
  std::vector<MemTask*> due;
  for (auto& [id, t] : s.tasks) {
    if (t.v.state == TaskState::kScheduled && !t.limit_waiting && t.v.run_at_ms <= now) due.push_back(&t);
  }
  std::stable_sort(due.begin(), due.end(),
                   [](const MemTask* a, const MemTask* b) { return a->v.run_at_ms < b->v.run_at_ms; });
  if (due.size() > limit) due.resize(limit);
  for (MemTask* t : due) {
    s.SetState(*t, TaskState::kQueued);
    s.AddOutbox(t->v.id);
  }
  if (next_due_in_ms != nullptr) {
    std::optional<int64_t> next;
    for (const auto& [id, t] : s.tasks) {
      if (t.v.state == TaskState::kScheduled && !t.limit_waiting)
        next = std::min(next.value_or(t.v.run_at_ms), t.v.run_at_ms);
    }
    *next_due_in_ms = next ? *next - now : -1;
  }
  // Waiting tasks of keys with room that no queued or running task takes
  // (as PostgreSQL's "limit_wake"): the head waiter's concurrency, less
  // those tasks.
  std::map<std::string, std::pair<const MemTask*, int64_t>> keys;  // key -> (head waiter, active)
  for (const auto& [id, t] : s.tasks) {
    if (t.v.limit_key.empty()) continue;
    auto& [head, active] = keys[t.v.limit_key];
    if (t.v.state == TaskState::kQueued || t.v.state == TaskState::kRunning) ++active;
    if (t.v.state != TaskState::kScheduled || !t.limit_waiting) continue;
    if (!head || t.v.priority > head->v.priority ||
        (t.v.priority == head->v.priority && t.v.run_at_ms < head->v.run_at_ms)) {
      head = &t;
    }
  }
  size_t woken = 0;
  for (const auto& [key, head_active] : keys) {
    const auto& [head, active] = head_active;
    if (head) woken += s.WakeLimitWaiters(key, static_cast<int64_t>(head->limit.max_concurrent) - active);
  }
  return static_cast<int64_t>(due.size() + woken);
}

std::vector<ReapedTask> MemoryStore::ReapLost(uint32_t worker_timeout_ms, uint32_t limit) {
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  const int64_t now = s.Now();
  struct Lost {
    MemTask* task;
    ReapDecision decision;
  };
  std::vector<Lost> lost;
  for (auto& [id, t] : s.tasks) {
    if (t.v.state != TaskState::kRunning) continue;
    auto w = s.workers.find(t.v.worker);
    const bool lease_expired = t.lease_until_ms != 0 && t.lease_until_ms < now;
    const bool registered = w != s.workers.end();
    if (!lease_expired && registered &&
        w->second.heartbeat_at_ms >= now - static_cast<int64_t>(worker_timeout_ms)) {
      continue;
    }
    lost.push_back({&t, DecideLostAttempt({t.v.attempt, t.v.max_attempts, t.v.cancel_requested,
                                           lease_expired, registered})});
  }
  std::stable_sort(lost.begin(), lost.end(), [](const Lost& a, const Lost& b) {
    return a.task->v.started_at_ms < b.task->v.started_at_ms;
  });
  if (lost.size() > limit) lost.resize(limit);
  std::vector<ReapedTask> reaped;
  for (auto& [t, decision] : lost) {
    const TaskState to = decision.state;
    const std::string reason(ToString(decision.reason));
    t->v.finished_at_ms = to == TaskState::kQueued ? 0 : now;
    // The attempt names the worker; the task's error (which producers
    // read) does not name hosts.
    t->v.last_error = reason;
    t->lease_until_ms = 0;
    const bool recorded = std::any_of(t->v.attempts.begin(), t->v.attempts.end(),
                                      [&](const AttemptView& a) { return a.attempt == t->v.attempt; });
    if (!recorded) {
      t->v.attempts.push_back({t->v.attempt, t->v.worker, "lost", reason, "lost", t->v.started_at_ms,
                               now, 0});
    }
    s.SetState(*t, to);
    if (to == TaskState::kQueued) s.AddOutbox(t->v.id);
    reaped.push_back({t->v.id, t->v.attempt, t->v.worker, decision.reason, to, t->v.queue, t->v.type});
  }
  return reaped;
}

FireResult MemoryStore::FireDueSchedules(const TaskTypes& types, int64_t grace_ms, uint32_t limit) {
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  const int64_t now = s.Now();
  FireResult result;
  std::vector<MemSchedule*> due;
  for (auto& [key, sched] : s.schedules) {
    const ScheduleView& v = sched.view;
    if (!v.paused && v.next_fire_at_ms > 0 && v.next_fire_at_ms <= now) due.push_back(&sched);
  }
  std::stable_sort(due.begin(), due.end(), [](const MemSchedule* a, const MemSchedule* b) {
    return a->view.next_fire_at_ms < b->view.next_fire_at_ms;
  });
  if (due.size() > limit) due.resize(limit);
  for (MemSchedule* sched : due) {
    ScheduleView& v = sched->view;
    std::optional<CronSchedule> cron;
    try {
      cron = CronSchedule::Parse(v.spec.cron, v.spec.timezone);
    } catch (const PermanentError&) {
      v.paused = true;  // as PostgresStore: a schedule that no longer parses is paused
      continue;
    }
    const SlotPlan plan = PlanSlots(v.spec, *cron, v.next_fire_at_ms, now, grace_ms);
    int64_t missed = plan.missed;
    std::vector<NewTask> tasks;
    for (int64_t slot : plan.fire) {
      try {
        tasks.push_back(SlotTask(v.spec, slot, types, now));
      } catch (const PermanentError&) {
        ++missed;
      }
    }
    if (!tasks.empty()) {
      auto enqueued = s.EnqueueLocked(tasks);
      for (size_t i = 0; i < enqueued.size(); ++i) {
        result.fired.push_back({v.spec.tenant, v.spec.name, plan.fire[i], enqueued[i].id,
                                enqueued[i].created});
        v.last_task_id = enqueued[i].id;
      }
    }
    result.missed += missed;
    v.next_fire_at_ms = plan.next > 0 ? plan.next : 0;
    if (!plan.fire.empty()) v.last_slot_at_ms = plan.fire.back();
    v.fired += static_cast<int64_t>(tasks.size());
    v.missed += missed;
  }
  std::optional<int64_t> next;
  for (const auto& [key, sched] : s.schedules) {
    if (!sched.view.paused && sched.view.next_fire_at_ms > 0) {
      next = std::min(next.value_or(sched.view.next_fire_at_ms), sched.view.next_fire_at_ms);
    }
  }
  result.next_due_in_ms = next ? *next - now : -1;
  return result;
}

}  // namespace fila
