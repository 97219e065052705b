// MemoryStore: enqueue, dependencies and the state changes with what
// PostgreSQL's triggers do on them.
#include <algorithm>

#include "fila/core/errors.h"
#include "fila/core/text_limit.h"
#include "fila/core/uuid.h"
#include "fila/core/workflow.h"
#include "memory_state.h"

namespace fila {
namespace {


}  // namespace

MemoryStore::MemoryStore(NowMs now_ms) : state_(std::make_unique<State>(std::move(now_ms))) {}
MemoryStore::~MemoryStore() = default;

MemTask* MemoryStore::State::Find(const std::string& id) {
  auto it = tasks.find(id);
  return it == tasks.end() ? nullptr : &it->second;
}

void MemoryStore::State::Signal(const std::string& payload) {
  notified = true;
  if (!payload.empty()) payloads.push_back(payload);
  wake.notify_all();
}

void MemoryStore::State::AddOutbox(const std::string& id) {
  outbox[next_outbox_id++] = {id, Now()};
  if (MemTask* t = Find(id)) t->outboxed_at_ms = Now();
  Signal("");
}

void MemoryStore::State::SetState(MemTask& t, TaskState to) {
  const TaskState from = t.v.state;
  t.v.state = to;
  if (to == TaskState::kScheduled) Signal("due");
  if (from == TaskState::kRunning && to != TaskState::kRunning && !t.v.limit_key.empty() &&
      t.limit.max_concurrent > 0) {
    WakeLimitWaiters(t.v.limit_key, 1);
  }
  if (from != to && IsTerminal(to) && !t.dependents.empty()) SettleDependents(t);
}

size_t MemoryStore::State::WakeLimitWaiters(const std::string& key, int64_t count) {
  std::vector<MemTask*> waiting;
  for (auto& [id, w] : tasks) {
    if (w.v.state == TaskState::kScheduled && w.limit_waiting && w.v.limit_key == key) waiting.push_back(&w);
  }
  // Longest waiting first, by priority (run_at: since when it waits).
  std::stable_sort(waiting.begin(), waiting.end(), [](const MemTask* a, const MemTask* b) {
    if (a->v.priority != b->v.priority) return a->v.priority > b->v.priority;
    return a->v.run_at_ms < b->v.run_at_ms;
  });
  if (count < 0) count = 0;
  if (waiting.size() > static_cast<size_t>(count)) waiting.resize(static_cast<size_t>(count));
  for (MemTask* w : waiting) {
    w->limit_waiting = false;
    SetState(*w, TaskState::kQueued);
    AddOutbox(w->v.id);
  }
  return waiting.size();
}

void MemoryStore::State::SettleDependents(MemTask& parent) {
  const int64_t now = Now();
  if (parent.v.state == TaskState::kSucceeded) {
    for (const auto& id : parent.dependents) {
      MemTask* d = Find(id);
      if (!d || d->v.state != TaskState::kBlocked) continue;
      const bool ready = std::all_of(d->v.depends_on.begin(), d->v.depends_on.end(), [&](auto& p) {
        const MemTask* pt = Find(p);
        return pt && pt->v.state == TaskState::kSucceeded;
      });
      if (!ready) continue;
      SetState(*d, d->v.run_at_ms > now ? TaskState::kScheduled : TaskState::kQueued);
      if (d->v.state == TaskState::kQueued) AddOutbox(d->v.id);
    }
    return;
  }
  // Every blocked task below the parent is cancelled, each once, naming the
  // direct parent when it is one, else a parent cancelled here.
  std::set<std::string> doomed;
  std::vector<std::string> frontier{parent.v.id};
  while (!frontier.empty()) {
    std::vector<std::string> next;
    for (const auto& id : frontier) {
      MemTask* t = Find(id);
      if (!t) continue;
      for (const auto& d : t->dependents) {
        MemTask* dt = Find(d);
        if (dt && dt->v.state == TaskState::kBlocked && doomed.insert(d).second) next.push_back(d);
      }
    }
    frontier = std::move(next);
  }
  for (const auto& id : doomed) {
    MemTask& t = tasks.at(id);
    std::string why;
    for (const auto& p : t.v.depends_on) {  // sorted: the lowest doomed parent
      if (p == parent.v.id) {
        why = p + " ended " + std::string(ToString(parent.v.state));
        break;
      }
      if (why.empty() && doomed.count(p) != 0) why = p + " ended cancelled";
    }
    t.v.state = TaskState::kCancelled;  // settled here with the whole subtree
    t.v.finished_at_ms = now;
    t.v.last_error = "dependency " + why;
  }
}

std::vector<EnqueueResult> MemoryStore::State::EnqueueLocked(std::span<const NewTask> batch) {
  const int64_t now = Now();
  std::vector<EnqueueResult> results;
  std::vector<MemTask> fresh;
  std::map<std::pair<std::string, std::string>, size_t> batch_keys;  // -> index in results
  std::map<std::string, size_t> batch_ids;                           // -> index in fresh
  for (const auto& n : batch) {
    if (!n.id.empty() && !IsUuid(n.id)) throw PermanentError("task id is not a UUID", "id");
    if (!n.idempotency_key.empty()) {
      const auto key = std::make_pair(n.tenant, n.idempotency_key);
      if (auto it = idempotency.find(key); it != idempotency.end()) {
        results.push_back({it->second, tasks.at(it->second).v.state, false});
        continue;
      }
      if (auto it = batch_keys.find(key); it != batch_keys.end()) {
        results.push_back({results[it->second].id, results[it->second].state, false});
        continue;
      }
      batch_keys[key] = results.size();
    }
    MemTask t;
    t.v.id = n.id.empty() ? NewUuid() : n.id;
    if (tasks.count(t.v.id) != 0 || batch_ids.count(t.v.id) != 0) {
      throw PermanentError("a task with id " + t.v.id + " exists", "id");
    }
    t.v.type = n.type;
    t.v.type_version = n.type_version;
    t.v.queue = n.queue;
    t.v.priority = n.priority;
    t.v.max_attempts = n.max_attempts;
    t.attempt_budget = n.max_attempts;
    t.v.timeout_ms = n.timeout_ms;
    t.v.tenant = n.tenant;
    t.v.idempotency_key = n.idempotency_key;
    t.v.payload = n.payload;
    t.args_json = n.args_json;
    t.v.trace_id = n.trace_id;
    t.v.run_at_ms = n.run_at_ms > 0 ? n.run_at_ms : now;
    t.v.state = !n.depends_on.empty()                    ? TaskState::kBlocked
                : (n.run_at_ms > 0 && n.run_at_ms > now) ? TaskState::kScheduled
                                                         : TaskState::kQueued;
    t.v.created_at_ms = now;
    last_created_us = std::max(last_created_us + 1, now * 1000);
    t.v.created_at_us = last_created_us;
    t.v.parent_id = n.parent_id;
    t.v.limit_key = n.limit_key;
    t.limit = n.limit;
    t.retry_base_ms = n.retry_base_ms;
    t.retry_cap_ms = n.retry_cap_ms;
    if (const MemTask* p = n.parent_id.empty() ? nullptr : Find(n.parent_id)) {
      t.root_id = p->root_id.empty() ? p->v.id : p->root_id;
    }
    t.v.depends_on = n.depends_on;
    std::sort(t.v.depends_on.begin(), t.v.depends_on.end());
    t.v.depends_on.erase(std::unique(t.v.depends_on.begin(), t.v.depends_on.end()),
                         t.v.depends_on.end());
    results.push_back({t.v.id, t.v.state, true});
    batch_ids[t.v.id] = fresh.size();
    fresh.push_back(std::move(t));
  }
  // Dependencies: every parent exists (in the store or this batch) and is
  // the same tenant's; another tenant's task is reported like a missing one.
  bool any_deps = false;
  for (const auto& t : fresh) {
    for (const auto& p : t.v.depends_on) {
      any_deps = true;
      if (p == t.v.id) throw PermanentError("a task cannot depend on itself", "depends_on");
    }
  }
  if (any_deps) {
    RejectCycles(batch);
    for (const auto& t : fresh) {
      for (const auto& p : t.v.depends_on) {
        const MemTask* pt = Find(p);
        if (auto it = batch_ids.find(p); !pt && it != batch_ids.end()) pt = &fresh[it->second];
        if (!pt || pt->v.tenant != t.v.tenant) {
          throw PermanentError("depends_on: no task " + p, "depends_on");
        }
      }
    }
  }
  // Checked: now written.
  std::vector<std::string> with_deps;
  for (auto& t : fresh) {
    const std::string id = t.v.id;
    if (!t.v.idempotency_key.empty()) idempotency[{t.v.tenant, t.v.idempotency_key}] = id;
    const TaskState state = t.v.state;
    tasks.emplace(id, std::move(t));
    if (state == TaskState::kQueued) AddOutbox(id);
    if (state == TaskState::kScheduled) Signal("due");
    if (state == TaskState::kBlocked) with_deps.push_back(id);
  }
  for (const auto& id : with_deps) {
    for (const auto& p : tasks.at(id).v.depends_on) tasks.at(p).dependents.push_back(id);
  }
  // New blocked tasks whose parents already ended are settled at once.
  for (const auto& id : with_deps) {
    MemTask& t = tasks.at(id);
    std::string bad;
    bool ok = true;
    for (const auto& p : t.v.depends_on) {
      const TaskState ps = tasks.at(p).v.state;
      if (ps != TaskState::kSucceeded) ok = false;
      if (bad.empty() && IsTerminal(ps) && ps != TaskState::kSucceeded) {
        bad = p + " ended " + std::string(ToString(ps));
      }
    }
    if (!bad.empty()) {
      t.v.finished_at_ms = now;
      t.v.last_error = "dependency " + bad;
      SetState(t, TaskState::kCancelled);
    } else if (ok) {
      SetState(t, t.v.run_at_ms > now ? TaskState::kScheduled : TaskState::kQueued);
      if (t.v.state == TaskState::kQueued) AddOutbox(id);
    }
  }
  for (auto& r : results) r.state = tasks.at(r.id).v.state;
  return results;
}

}  // namespace fila
