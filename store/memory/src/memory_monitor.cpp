// MemoryStore: tokens and the monitor view.
#include <algorithm>
#include <functional>
#include <tuple>

#include "fila/core/errors.h"
#include "fila/core/uuid.h"
#include "memory_state.h"

namespace fila {
namespace {

// A worker silent this long and running nothing is only counted (as on
// PostgreSQL).
constexpr int64_t kForgetWorkerAfterMs = 3600 * 1000;

}  // namespace

std::pair<TokenInfo, std::string> MemoryStore::CreateToken(const std::string& tenant,
                                                           const std::string& role) {
  if (role != "producer" && role != "operator") {
    throw PermanentError("role must be producer or operator", "role");
  }
  std::lock_guard lock(state_->mu);
  std::string secret = "fila_" + NewUuid() + NewUuid();
  std::erase(secret, '-');
  MemToken token{{NewUuid(), tenant, role, state_->Now(), 0}, std::hash<std::string>{}(secret)};
  state_->tokens.push_back(token);
  return {token.info, secret};
}

std::optional<TokenInfo> MemoryStore::Authenticate(const std::string& token) {
  std::lock_guard lock(state_->mu);
  const size_t hash = std::hash<std::string>{}(token);
  for (const auto& t : state_->tokens) {
    // A test store: a 64-bit hash stands in for SHA-256.
    if (t.hash == hash && t.info.revoked_at_ms == 0) return t.info;
  }
  return std::nullopt;
}

bool MemoryStore::RevokeToken(const std::string& id) {
  std::lock_guard lock(state_->mu);
  for (auto& t : state_->tokens) {
    if (t.info.id == id && t.info.revoked_at_ms == 0) {
      t.info.revoked_at_ms = state_->Now();
      return true;
    }
  }
  return false;
}

std::vector<TokenInfo> MemoryStore::ListTokens() {
  std::lock_guard lock(state_->mu);
  std::vector<TokenInfo> out;
  for (const auto& t : state_->tokens) out.push_back(t.info);  // in creation order
  return out;
}

MonitorSnapshot MemoryStore::Monitor(uint32_t stale_after_ms) {
  std::lock_guard lock(state_->mu);
  const State& s = *state_;
  const int64_t now = s.Now();
  MonitorSnapshot snap;
  snap.taken_at_ms = now;
  snap.stale_after_seconds = stale_after_ms / 1000.0;
  std::map<std::string, WorkerView> workers;
  std::set<std::string> running_workers;
  for (const auto& [id, t] : s.tasks) {
    if (t.v.state == TaskState::kRunning) running_workers.insert(t.v.worker);
  }
  for (const auto& [id, w] : s.workers) {
    const int64_t age_ms = std::max<int64_t>(0, now - w.heartbeat_at_ms);
    if (age_ms >= kForgetWorkerAfterMs && running_workers.count(id) == 0) {
      ++snap.workers_hidden;
      continue;
    }
    WorkerView v;
    v.id = id;
    v.hostname = w.info.hostname;
    v.pid = w.info.pid;
    v.queues = w.info.queues;
    v.concurrency = w.info.concurrency;
    v.started_at_ms = w.started_at_ms;
    v.heartbeat_age_seconds = age_ms / 1000.0;
    v.stale = age_ms > stale_after_ms;
    v.succeeded = w.info.succeeded;
    v.failed = w.info.failed;
    v.finished_by_queue = w.info.finished_by_queue;
    v.version = w.info.version;
    v.draining = w.draining;
    workers.emplace(id, std::move(v));
  }
  std::vector<const MemTask*> running;
  std::map<std::string, QueueSample> queues;
  for (const auto& [id, t] : s.tasks) {
    const TaskState st = t.v.state;
    if (st == TaskState::kRunning) running.push_back(&t);
    if (st != TaskState::kQueued && st != TaskState::kScheduled && st != TaskState::kRunning &&
        st != TaskState::kBlocked)
      continue;
    QueueSample& q = queues[t.v.queue];
    q.queued += st == TaskState::kQueued;
    q.scheduled += st == TaskState::kScheduled;
    q.running += st == TaskState::kRunning;
    q.blocked += st == TaskState::kBlocked;
    if (st == TaskState::kQueued) {
      q.oldest_queued_age_seconds =
          std::max(q.oldest_queued_age_seconds, std::max<int64_t>(0, now - t.v.run_at_ms) / 1000.0);
    }
  }
  std::sort(running.begin(), running.end(), [](const MemTask* a, const MemTask* b) {
    return std::tie(a->v.started_at_ms, a->v.id) < std::tie(b->v.started_at_ms, b->v.id);
  });
  for (const MemTask* t : running) {
    auto [it, added] = workers.try_emplace(t->v.worker);
    if (added) {
      it->second.id = t->v.worker;
      it->second.deregistered = true;
      it->second.stale = true;
    }
    it->second.running.push_back({t->v.id, t->v.type, t->v.queue, t->v.attempt,
                                  std::max<int64_t>(0, now - t->v.started_at_ms) / 1000.0,
                                  t->v.progress, t->v.progress_message});
  }
  for (auto& [id, w] : workers) snap.workers.push_back(std::move(w));
  std::stable_sort(snap.workers.begin(), snap.workers.end(),
                   [](const WorkerView& a, const WorkerView& b) {
                     return std::tie(a.deregistered, a.stale) < std::tie(b.deregistered, b.stale);
                   });
  for (const auto& [id, w] : s.workers) {
    if (now - w.heartbeat_at_ms >= static_cast<int64_t>(stale_after_ms)) continue;
    for (const auto& q : w.info.queues) ++queues[q].consumers;
  }
  for (auto& [name, q] : queues) {
    q.queue = name;
    snap.queues.push_back(q);
  }
  snap.outbox_rows = static_cast<int64_t>(s.outbox.size());
  if (!s.outbox.empty()) {
    int64_t oldest = now;
    for (const auto& [oid, row] : s.outbox) oldest = std::min(oldest, row.second);
    snap.outbox_lag_seconds = std::max<int64_t>(0, now - oldest) / 1000.0;
  }
  return snap;
}

}  // namespace fila
