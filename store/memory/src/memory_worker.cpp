// MemoryStore: what a worker does (claim, per-key limits, finish with
// children, progress, heartbeats), as PostgresStore's statements do it.
#include <algorithm>

#include "fila/core/errors.h"
#include "fila/core/lifecycle.h"
#include "fila/core/text_limit.h"
#include "fila/core/uuid.h"
#include "fila/core/workflow.h"
#include "memory_state.h"

namespace fila {
ClaimedTask MemoryStore::State::Start(MemTask& t, const std::string& worker, uint32_t lease_ms) {
  const int64_t now = Now();
  t.v.attempt += 1;
  t.v.worker = worker;
  t.lease_until_ms = now + lease_ms;
  t.v.started_at_ms = now;
  t.limit_waiting = false;
  t.limit_reserved_at_ms = 0;
  SetState(t, TaskState::kRunning);
  return {t.v.id,          t.v.attempt,     t.v.max_attempts, t.v.timeout_ms,
          t.v.created_at_ms, t.v.run_at_ms, t.retry_base_ms,  t.retry_cap_ms};
}

ClaimResult MemoryStore::Claim(std::span<const std::string> ids, const std::string& worker,
                               uint32_t lease_ms) {
  std::lock_guard lock(state_->mu);
  ClaimResult result;
  std::vector<std::string> limited;
  for (const auto& id : ids) {
    MemTask* t = IsUuid(id) ? state_->Find(id) : nullptr;
    if (!t) {
      result.unknown.push_back(id);
    } else if (t->v.state == TaskState::kQueued && state_->Paused(t->v.queue)) {
      state_->Bounce(*t, result);
    } else if (t->v.state == TaskState::kQueued && t->v.limit_key.empty()) {
      result.claimed.push_back(state_->Start(*t, worker, lease_ms));
    } else if (t->v.state == TaskState::kQueued) {
      limited.push_back(id);
    } else {
      result.not_claimable.push_back(id);
    }
  }
  if (!limited.empty()) state_->AdmitLimited(limited, worker, lease_ms, result);
  return result;
}

void MemoryStore::State::AdmitLimited(const std::vector<std::string>& ids,
                                      const std::string& worker, uint32_t lease_ms,
                                      ClaimResult& result) {
  const int64_t now = Now();
  std::vector<MemTask*> candidates;
  for (const auto& id : ids) candidates.push_back(&tasks.at(id));
  std::stable_sort(candidates.begin(), candidates.end(), [](const MemTask* a, const MemTask* b) {
    if (a->v.limit_key != b->v.limit_key) return a->v.limit_key < b->v.limit_key;
    if (a->v.priority != b->v.priority) return a->v.priority > b->v.priority;
    return a->v.run_at_ms < b->v.run_at_ms;
  });
  for (size_t i = 0; i < candidates.size();) {
    const std::string key = candidates[i]->v.limit_key;
    int64_t& next_start = limit_next_start[key];
    int64_t running = 0;
    for (const auto& [id, t] : tasks) {
      if (t.v.limit_key == key && t.v.state == TaskState::kRunning) ++running;
    }
    for (; i < candidates.size() && candidates[i]->v.limit_key == key; ++i) {
      MemTask& c = *candidates[i];
      const bool room = c.limit.max_concurrent == 0 || running < c.limit.max_concurrent;
      if (!room) {
        // Parked until a unit frees up; run_at: since when it waits.
        c.limit_waiting = true;
        c.v.run_at_ms = now;
        SetState(c, TaskState::kScheduled);
        result.deferred.push_back(c.v.id);
        continue;
      }
      const bool reserved_due = c.limit_reserved_at_ms != 0 && c.limit_reserved_at_ms <= now;
      if (!reserved_due) {
        // GCRA (core/lifecycle.h); a start that does not conform reserves
        // the next free slot and waits for it.
        const GcraDecision rate = DecideGcra(next_start, now, c.limit.rate, c.limit.period.count());
        next_start = rate.next_tat;
        if (!rate.admitted) {
          c.limit_waiting = false;
          c.v.run_at_ms = rate.conforms_at;
          c.limit_reserved_at_ms = rate.conforms_at;
          SetState(c, TaskState::kScheduled);
          result.deferred.push_back(c.v.id);
          continue;
        }
      }
      result.claimed.push_back(Start(c, worker, lease_ms));
      ++running;
    }
  }
}

bool MemoryStore::State::ApplyFinish(const FinishRecord& r) {
  MemTask* t = Find(r.id);
  if (!t || t->v.attempt != r.attempt || t->v.state != TaskState::kRunning) return false;
  const int64_t now = Now();
  const bool scheduled = r.state == TaskState::kScheduled;
  t->v.finished_at_ms = IsTerminal(r.state) ? now : 0;
  if (scheduled) t->v.run_at_ms = r.retry_at_ms;
  const std::string error = TruncateText(r.error);
  if (!error.empty()) t->v.last_error = error;
  if (!r.result.empty()) t->v.result = r.result;
  if (r.state == TaskState::kSucceeded) t->v.progress = 100;
  t->lease_until_ms = 0;
  const bool recorded = std::any_of(t->v.attempts.begin(), t->v.attempts.end(),
                                    [&](const AttemptView& a) { return a.attempt == r.attempt; });
  if (!recorded) {
    t->v.attempts.push_back({r.attempt, r.worker, std::string(ToString(r.outcome)), error,
                             TruncateText(r.error_kind), t->v.started_at_ms, now,
                             scheduled ? r.retry_at_ms : 0});
  }
  SetState(*t, r.state);
  return true;
}

std::vector<bool> MemoryStore::Finish(std::span<const FinishRecord> records) {
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  std::vector<bool> applied(records.size(), false);
  std::vector<size_t> with_children;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].children.empty() || records[i].state != TaskState::kSucceeded) {
      applied[i] = s.ApplyFinish(records[i]);
    } else {
      with_children.push_back(i);
    }
  }
  for (size_t i : with_children) {
    const FinishRecord& r = records[i];
    try {
      if (r.max_tree_tasks > 0) {
        size_t size = 1;
        if (const MemTask* t = s.Find(r.id)) {
          const std::string root = t->root_id.empty() ? t->v.id : t->root_id;
          for (const auto& [id, other] : s.tasks) size += other.root_id == root ? 1 : 0;
        }
        if (size + r.children.size() > r.max_tree_tasks) {
          throw PermanentError("its workflow tree would hold " +
                               std::to_string(size + r.children.size()) +
                               " tasks, over the limit of " + std::to_string(r.max_tree_tasks));
        }
      }
      const MemTask* t = s.Find(r.id);
      if (!t || t->v.attempt != r.attempt || t->v.state != TaskState::kRunning) continue;
      // Children are checked before anything is written: a refused child
      // leaves the task running, to be failed below.
      {
        State dry(s.now_ms);
        dry.tasks = s.tasks;
        dry.idempotency = s.idempotency;
        dry.tasks.at(r.id).v.state = TaskState::kSucceeded;
        (void)dry.EnqueueLocked(r.children);
      }
      applied[i] = s.ApplyFinish(r);
      (void)s.EnqueueLocked(r.children);
    } catch (const PermanentError& e) {
      const FinishRecord failed = ChildrenRefused(r, e.what());
      (void)s.ApplyFinish(failed);
    }
  }
  return applied;
}

void MemoryStore::RecordProgress(std::span<const ProgressUpdate> updates) {
  std::lock_guard lock(state_->mu);
  for (const auto& u : updates) {
    MemTask* t = state_->Find(u.id);
    if (!t || t->v.attempt != u.attempt || t->v.state != TaskState::kRunning) continue;
    t->v.progress = std::clamp(u.percent, 0, 100);
    t->v.progress_message = TruncateText(u.message);
  }
}

bool MemoryStore::Heartbeat(const WorkerInfo& worker, uint32_t lease_ms) {
  std::lock_guard lock(state_->mu);
  const int64_t now = state_->Now();
  auto [it, added] = state_->workers.try_emplace(worker.id);
  if (added) it->second.started_at_ms = now;
  it->second.info = worker;
  it->second.info.held.clear();
  it->second.heartbeat_at_ms = now;
  for (const auto& id : worker.held) {
    MemTask* t = state_->Find(id);
    if (t && t->v.worker == worker.id && t->v.state == TaskState::kRunning) {
      t->lease_until_ms = now + lease_ms;
    }
  }
  return it->second.draining;
}

void MemoryStore::Deregister(const std::string& worker_id) {
  std::lock_guard lock(state_->mu);
  state_->workers.erase(worker_id);
}

std::vector<AttemptRef> MemoryStore::CancelRequested(const std::string& worker_id) {
  std::lock_guard lock(state_->mu);
  std::vector<AttemptRef> refs;
  for (const auto& [id, t] : state_->tasks) {
    if (t.v.worker == worker_id && t.v.state == TaskState::kRunning && t.v.cancel_requested) {
      refs.push_back({id, t.v.attempt});
    }
  }
  return refs;
}

}  // namespace fila
