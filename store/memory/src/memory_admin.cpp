// MemoryStore: producers' and operators' calls (tasks, schedules, counts).
#include <algorithm>
#include <functional>
#include <tuple>

#include "fila/core/errors.h"
#include "fila/core/schedule_firing.h"
#include "fila/core/uuid.h"
#include "memory_state.h"

namespace fila {
namespace {

bool Replayable(TaskState s) {
  return s == TaskState::kFailed || s == TaskState::kDead || s == TaskState::kCancelled;
}

}  // namespace

std::vector<EnqueueResult> MemoryStore::Enqueue(std::span<const NewTask> tasks) {
  std::lock_guard lock(state_->mu);
  return state_->EnqueueLocked(tasks);
}

std::vector<EnqueueOutcome> MemoryStore::EnqueueEach(std::span<const NewTask> tasks) {
  std::lock_guard lock(state_->mu);
  std::vector<EnqueueOutcome> out;
  out.reserve(tasks.size());
  // EnqueueLocked checks a task fully before it writes anything, so a
  // refused task leaves nothing behind.
  for (size_t i = 0; i < tasks.size(); ++i) {
    try {
      out.push_back({state_->EnqueueLocked(tasks.subspan(i, 1)).at(0), nullptr});
    } catch (const PermanentError&) {
      out.push_back({{}, std::current_exception()});
    }
  }
  return out;
}

RequestResult MemoryStore::Cancel(const std::string& id) {
  std::lock_guard lock(state_->mu);
  MemTask* t = IsUuid(id) ? state_->Find(id) : nullptr;
  if (!t) return {};
  return state_->CancelLocked(*t);
}

RequestResult MemoryStore::State::CancelLocked(MemTask& t) {
  const TaskState s = t.v.state;
  if (s == TaskState::kQueued || s == TaskState::kScheduled || s == TaskState::kBlocked) {
    t.v.finished_at_ms = Now();
    SetState(t, TaskState::kCancelled);
    return {true, true, TaskState::kCancelled};
  }
  if (s == TaskState::kRunning && !t.v.cancel_requested) {
    t.v.cancel_requested = true;
    return {true, true, s};
  }
  return {true, false, s};
}

void MemoryStore::State::ReplayLocked(MemTask& t) {
  t.v.max_attempts = t.v.attempt + t.attempt_budget;
  t.v.cancel_requested = false;
  t.v.finished_at_ms = 0;
  t.v.run_at_ms = Now();
  SetState(t, TaskState::kQueued);
  AddOutbox(t.v.id);
}

RequestResult MemoryStore::Replay(const std::string& id) {
  std::lock_guard lock(state_->mu);
  MemTask* t = IsUuid(id) ? state_->Find(id) : nullptr;
  if (!t) return {};
  const bool replay = Replayable(t->v.state);
  if (replay) state_->ReplayLocked(*t);
  return {true, replay, t->v.state};
}

int64_t MemoryStore::ReplayDead(const std::string& type) {
  std::lock_guard lock(state_->mu);
  int64_t n = 0;
  for (auto& [id, t] : state_->tasks) {
    if (t.v.state == TaskState::kDead && (type.empty() || t.v.type == type)) {
      state_->ReplayLocked(t);
      ++n;
    }
  }
  return n;
}

std::optional<TaskView> MemoryStore::GetTask(const std::string& id) {
  std::lock_guard lock(state_->mu);
  const MemTask* t = IsUuid(id) ? state_->Find(id) : nullptr;
  if (!t) return std::nullopt;
  TaskView v = t->v;
  std::sort(v.attempts.begin(), v.attempts.end(),
            [](const AttemptView& a, const AttemptView& b) { return a.attempt < b.attempt; });
  return v;
}

std::vector<TaskTreeNode> MemoryStore::TaskTree(const std::string& id, uint32_t limit) {
  std::lock_guard lock(state_->mu);
  const MemTask* root = IsUuid(id) ? state_->Find(id) : nullptr;
  if (!root) return {};
  std::map<std::string, std::vector<const MemTask*>> children;
  for (const auto& [tid, t] : state_->tasks) {
    if (!t.v.parent_id.empty()) children[t.v.parent_id].push_back(&t);
  }
  std::vector<TaskTreeNode> nodes;
  std::vector<const MemTask*> level{root};
  for (uint32_t depth = 0; !level.empty() && depth <= 50; ++depth) {
    std::sort(level.begin(), level.end(), [](const MemTask* a, const MemTask* b) {
      return std::tie(a->v.created_at_us, a->v.id) < std::tie(b->v.created_at_us, b->v.id);
    });
    std::vector<const MemTask*> next;
    for (const MemTask* t : level) {
      if (nodes.size() >= limit) return nodes;
      nodes.push_back({t->v.id, t->v.type, t->v.state, t->v.parent_id, depth, t->v.depends_on,
                       t->v.last_error});
      auto it = children.find(t->v.id);
      if (it != children.end()) next.insert(next.end(), it->second.begin(), it->second.end());
    }
    level = std::move(next);
  }
  return nodes;
}

std::vector<TaskView> MemoryStore::ListTasks(const ListFilter& f) {
  std::lock_guard lock(state_->mu);
  const bool cursor = f.before_created_at_us > 0 && IsUuid(f.before_id);
  std::vector<const MemTask*> hits;
  for (const auto& [id, t] : state_->tasks) {
    if (!MatchesFilter(t, f)) continue;
    if (cursor && std::tie(t.v.created_at_us, t.v.id) >= std::tie(f.before_created_at_us, f.before_id))
      continue;
    hits.push_back(&t);
  }
  std::sort(hits.begin(), hits.end(), [](const MemTask* a, const MemTask* b) {
    return std::tie(a->v.created_at_us, a->v.id) > std::tie(b->v.created_at_us, b->v.id);
  });
  std::vector<TaskView> out;
  for (const MemTask* t : hits) {
    if (out.size() >= f.limit) break;
    out.push_back(t->v);
    out.back().attempts.clear();  // filled by GetTask only
    out.back().depends_on.clear();
  }
  return out;
}

bool MemoryStore::DeleteTerminal(const std::string& id) {
  std::lock_guard lock(state_->mu);
  return IsUuid(id) && state_->DeleteTerminalLocked(id);
}

bool MemoryStore::State::DeleteTerminalLocked(const std::string& id) {
  MemTask* t = Find(id);
  if (!t) return false;
  const TaskState st = t->v.state;
  if (!IsTerminal(st)) return false;
  if (!t->v.idempotency_key.empty()) idempotency.erase({t->v.tenant, t->v.idempotency_key});
  std::erase_if(outbox, [&](const auto& row) { return row.second.first == id; });
  for (const auto& p : t->v.depends_on) {
    if (MemTask* pt = Find(p)) std::erase(pt->dependents, id);
  }
  tasks.erase(id);
  return true;
}

ScheduleView MemoryStore::AddSchedule(const ScheduleSpec& spec) {
  std::lock_guard lock(state_->mu);
  const int64_t next = FirstSlotOfNewSchedule(spec, state_->Now());
  auto key = std::make_pair(spec.tenant, spec.name);
  if (state_->schedules.count(key) != 0) {
    throw PermanentError("a schedule named '" + spec.name + "' exists", "name");
  }
  MemSchedule s;
  s.view.spec = spec;
  s.view.spec.timezone = CronSchedule::Parse(spec.cron, spec.timezone).Timezone();
  s.view.next_fire_at_ms = next;
  state_->schedules[key] = s;
  return s.view;
}

std::vector<ScheduleView> MemoryStore::ListSchedules(const std::string& tenant) {
  std::lock_guard lock(state_->mu);
  std::vector<ScheduleView> out;
  for (const auto& [key, s] : state_->schedules) {  // by (tenant, name)
    if (key.first == tenant) out.push_back(s.view);
  }
  return out;
}

std::optional<ScheduleView> MemoryStore::GetSchedule(const std::string& tenant,
                                                     const std::string& name) {
  std::lock_guard lock(state_->mu);
  auto it = state_->schedules.find({tenant, name});
  if (it == state_->schedules.end()) return std::nullopt;
  return it->second.view;
}

bool MemoryStore::SetSchedulePaused(const std::string& tenant, const std::string& name,
                                    bool paused) {
  std::lock_guard lock(state_->mu);
  auto it = state_->schedules.find({tenant, name});
  if (it == state_->schedules.end()) return false;
  ScheduleView& v = it->second.view;
  v.paused = paused;
  if (!paused) {
    const int64_t next = CronSchedule::Parse(v.spec.cron, v.spec.timezone).NextAfter(state_->Now());
    v.next_fire_at_ms = next > 0 ? next : 0;
  }
  return true;
}

bool MemoryStore::DeleteSchedule(const std::string& tenant, const std::string& name) {
  std::lock_guard lock(state_->mu);
  return state_->schedules.erase({tenant, name}) != 0;
}

std::vector<QueueStateCount> MemoryStore::CountByQueueAndState() {
  std::lock_guard lock(state_->mu);
  std::map<std::pair<std::string, std::string>, QueueStateCount> counts;  // ordered as SQL text
  for (const auto& [id, t] : state_->tasks) {
    auto& c = counts[{t.v.queue, std::string(ToString(t.v.state))}];
    c.queue = t.v.queue;
    c.state = t.v.state;
    ++c.count;
  }
  std::vector<QueueStateCount> out;
  for (auto& [key, c] : counts) out.push_back(c);
  return out;
}

std::vector<QueueStatusView> MemoryStore::QueueStatuses(const std::string& tenant) {
  std::lock_guard lock(state_->mu);
  const int64_t now = state_->Now();
  struct Acc {
    std::map<std::string, std::pair<TaskState, int64_t>> counts;  // by state text
    std::optional<int64_t> oldest_queued_run_at;
    double run_seconds = 0;
    int64_t runs = 0;
  };
  std::map<std::string, Acc> queues;
  for (const auto& [id, t] : state_->tasks) {
    if (!tenant.empty() && t.v.tenant != tenant) continue;
    Acc& a = queues[t.v.queue];
    auto& c = a.counts[std::string(ToString(t.v.state))];
    c.first = t.v.state;
    ++c.second;
    if (t.v.state == TaskState::kQueued) {
      a.oldest_queued_run_at = std::min(a.oldest_queued_run_at.value_or(t.v.run_at_ms), t.v.run_at_ms);
    }
    if (t.v.state == TaskState::kSucceeded && t.v.finished_at_ms > now - 3600 * 1000) {
      a.run_seconds += (t.v.finished_at_ms - t.v.started_at_ms) / 1000.0;
      ++a.runs;
    }
  }
  if (tenant.empty()) {
    for (const auto& [queue, pause] : state_->queue_pauses) queues[queue];
  }
  std::vector<QueueStatusView> out;
  for (const auto& [queue, a] : queues) {
    QueueStatusView q{queue, {}, 0, 0};
    if (auto p = state_->queue_pauses.find(queue); p != state_->queue_pauses.end()) {
      q.paused = true;
      q.paused_by = p->second.paused_by;
      q.paused_at_ms = p->second.paused_at_ms;
    }
    for (const auto& [text, c] : a.counts) q.counts.push_back(c);
    if (a.oldest_queued_run_at) {
      q.oldest_queued_age_seconds = std::max(0.0, (now - *a.oldest_queued_run_at) / 1000.0);
    }
    if (a.runs > 0) q.mean_run_seconds = a.run_seconds / a.runs;
    out.push_back(std::move(q));
  }
  return out;
}

int64_t MemoryStore::CountActive() {
  std::lock_guard lock(state_->mu);
  int64_t n = 0;
  for (const auto& [id, t] : state_->tasks) {
    const TaskState s = t.v.state;
    n += s == TaskState::kQueued || s == TaskState::kScheduled || s == TaskState::kRunning;
  }
  return n;
}

}  // namespace fila
