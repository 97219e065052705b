// MemoryStore: the console's reads and bulk jobs (ConsoleStore), with the
// PostgreSQL store's semantics (console_pg.cpp).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "fila/core/errors.h"
#include "fila/core/uuid.h"
#include "memory_state.h"

namespace fila {
namespace {

// jsonb containment of one path and scalar: the value at `path` equals it.
bool PayloadHas(const std::string& args_json, const PayloadWhere& where) {
  if (args_json.empty()) return false;
  // Stored payloads were depth-checked at enqueue; the parse is not recursive input of ours.
  auto doc = nlohmann::json::parse(args_json, nullptr, false);
  auto want = nlohmann::json::parse(where.literal, nullptr, false);
  if (doc.is_discarded() || want.is_discarded()) return false;
  const nlohmann::json* at = &doc;
  for (const auto& name : where.path) {
    if (!at->is_object()) return false;
    auto it = at->find(name);
    if (it == at->end()) return false;
    at = &*it;
  }
  return *at == want;
}

// The first 256 characters (UTF-8 code points), like left(text, 256).
std::string ErrorKey(const std::string& error) {
  size_t chars = 0;
  for (size_t i = 0; i < error.size(); ++i) {
    if ((static_cast<unsigned char>(error[i]) & 0xC0) != 0x80 && ++chars > 256) return error.substr(0, i);
  }
  return error;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // percentile_cont: linear interpolation between the closest ranks.
  const double pos = p * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

bool Unfinished(TaskState s) {
  return s == TaskState::kQueued || s == TaskState::kScheduled || s == TaskState::kRunning ||
         s == TaskState::kBlocked;
}

}  // namespace

bool MatchesFilter(const MemTask& t, const ListFilter& f, const std::vector<TaskState>& default_states) {
  std::vector<TaskState> states = f.states;
  if (f.state) states.push_back(*f.state);
  if (states.empty()) states = default_states;
  if (!states.empty() && std::find(states.begin(), states.end(), t.v.state) == states.end()) return false;
  if (!f.type.empty() && t.v.type != f.type) return false;
  if (!f.queue.empty() && t.v.queue != f.queue) return false;
  if (!f.tenant.empty() && t.v.tenant != f.tenant) return false;
  if (f.priority && t.v.priority != *f.priority) return false;
  if (f.created_after_ms > 0 && t.v.created_at_ms < f.created_after_ms) return false;
  if (f.created_before_ms > 0 && t.v.created_at_ms >= f.created_before_ms) return false;
  if (f.where && PayloadHas(t.args_json, *f.where) != f.where->equal) return false;
  return true;
}

int64_t MemoryStore::CountTasks(const ListFilter& filter) {
  std::lock_guard lock(state_->mu);
  return std::count_if(state_->tasks.begin(), state_->tasks.end(),
                       [&](const auto& entry) { return MatchesFilter(entry.second, filter); });
}

std::vector<ErrorGroup> MemoryStore::ErrorGroups(const ListFilter& filter, uint32_t limit) {
  std::lock_guard lock(state_->mu);
  std::map<std::string, ErrorGroup> groups;
  for (const auto& [id, t] : state_->tasks) {
    if (!MatchesFilter(t, filter, {TaskState::kFailed, TaskState::kDead})) continue;
    const std::string key = ErrorKey(t.v.last_error);
    ErrorGroup& g = groups[key];
    g.error = key;
    ++g.count;
    if (g.sample_task_id.empty() || t.v.finished_at_ms > g.last_at_ms) {
      g.sample_task_id = id;
      g.last_at_ms = t.v.finished_at_ms;
    }
  }
  std::vector<ErrorGroup> out;
  for (auto& [key, g] : groups) out.push_back(std::move(g));
  std::sort(out.begin(), out.end(), [](const ErrorGroup& a, const ErrorGroup& b) {
    return a.count != b.count ? a.count > b.count : a.error < b.error;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

BulkJob MemoryStore::CreateBulkJob(const BulkJob& job, const AuditEntry& audit) {
  std::lock_guard lock(state_->mu);
  MemBulkJob j;
  j.job = job;
  j.job.id = NewUuid();
  j.job.state = "running";
  j.job.done = j.job.skipped = j.job.failed = 0;
  j.job.created_at_ms = state_->Now();
  j.job.finished_at_ms = 0;
  AuditEntry entry = audit;
  entry.target = j.job.id;
  entry.id = static_cast<int64_t>(state_->audit.size()) + 1;
  entry.at_ms = state_->Now();
  state_->audit.push_back(entry);
  state_->bulk_jobs[j.job.id] = j;
  return j.job;
}

std::optional<BulkJob> MemoryStore::GetBulkJob(const std::string& id) {
  std::lock_guard lock(state_->mu);
  auto it = state_->bulk_jobs.find(id);
  if (it == state_->bulk_jobs.end()) return std::nullopt;
  return it->second.job;
}

std::vector<BulkJob> MemoryStore::ListBulkJobs(uint32_t limit) {
  std::lock_guard lock(state_->mu);
  std::vector<BulkJob> out;
  for (const auto& [id, j] : state_->bulk_jobs) out.push_back(j.job);
  std::sort(out.begin(), out.end(), [](const BulkJob& a, const BulkJob& b) {
    return std::tie(a.created_at_ms, a.id) > std::tie(b.created_at_ms, b.id);
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::optional<BulkJob> MemoryStore::LeaseBulkJob(uint32_t lease_ms) {
  std::lock_guard lock(state_->mu);
  const int64_t now = state_->Now();
  MemBulkJob* pick = nullptr;
  for (auto& [id, j] : state_->bulk_jobs) {
    if (j.job.state != "running" || j.lease_until_ms >= now) continue;
    if (!pick || j.job.created_at_ms < pick->job.created_at_ms) pick = &j;
  }
  if (!pick) return std::nullopt;
  pick->lease_until_ms = now + lease_ms;
  return pick->job;
}

BulkJob MemoryStore::BulkStep(const std::string& id, const ListFilter& filter, uint32_t batch,
                              uint32_t lease_ms) {
  std::lock_guard lock(state_->mu);
  State& s = *state_;
  auto it = s.bulk_jobs.find(id);
  if (it == s.bulk_jobs.end()) throw PermanentError("no bulk job " + id, "id");
  MemBulkJob& j = it->second;
  if (j.job.state != "running") return j.job;
  std::vector<std::string> ids;
  for (auto t = s.tasks.upper_bound(j.cursor); t != s.tasks.end() && ids.size() < batch; ++t) {
    if (MatchesFilter(t->second, filter)) ids.push_back(t->first);
  }
  int64_t changed = 0;
  for (const auto& task_id : ids) {
    MemTask* t = s.Find(task_id);
    switch (j.job.action) {
      case BulkAction::kRetry:
        if (t->v.state == TaskState::kFailed || t->v.state == TaskState::kDead ||
            t->v.state == TaskState::kCancelled) {
          s.ReplayLocked(*t);
          ++changed;
        }
        break;
      case BulkAction::kCancel:
        changed += s.CancelLocked(*t).changed ? 1 : 0;
        break;
      case BulkAction::kDelete:
        changed += s.DeleteTerminalLocked(task_id) ? 1 : 0;
        break;
    }
  }
  j.job.done += changed;
  j.job.skipped += static_cast<int64_t>(ids.size()) - changed;
  if (!ids.empty()) j.cursor = ids.back();
  j.lease_until_ms = s.Now() + lease_ms;
  if (ids.size() < batch) {
    j.job.state = "done";
    j.job.finished_at_ms = s.Now();
  }
  return j.job;
}

void MemoryStore::FailBulkJob(const std::string& id, const std::string& error) {
  std::lock_guard lock(state_->mu);
  auto it = state_->bulk_jobs.find(id);
  if (it == state_->bulk_jobs.end() || it->second.job.state != "running") return;
  it->second.job.state = "failed";
  it->second.job.error = error;
  it->second.job.finished_at_ms = state_->Now();
}

void MemoryStore::AppendAudit(const AuditEntry& entry) {
  std::lock_guard lock(state_->mu);
  AuditEntry e = entry;
  e.id = static_cast<int64_t>(state_->audit.size()) + 1;
  e.at_ms = state_->Now();
  state_->audit.push_back(e);
}

std::vector<AuditEntry> MemoryStore::ListAudit(uint32_t limit, int64_t before_id) {
  std::lock_guard lock(state_->mu);
  std::vector<AuditEntry> out;
  for (auto it = state_->audit.rbegin(); it != state_->audit.rend() && out.size() < limit; ++it) {
    if (before_id > 0 && it->id >= before_id) continue;
    out.push_back(*it);
  }
  return out;
}

bool MemoryStore::DrainWorker(const std::string& worker_id) {
  std::lock_guard lock(state_->mu);
  auto it = state_->workers.find(worker_id);
  if (it == state_->workers.end()) return false;
  it->second.draining = true;
  return true;
}

std::vector<StatsPoint> MemoryStore::Stats(int64_t since_ms, uint32_t bucket_s, const std::string& tenant) {
  std::lock_guard lock(state_->mu);
  struct Acc {
    StatsPoint p;
    std::vector<double> wait, run;
  };
  std::map<std::tuple<int64_t, std::string, std::string>, Acc> acc;
  const int64_t bucket_ms = static_cast<int64_t>(std::max<uint32_t>(bucket_s, 1)) * 1000;
  for (const auto& [id, t] : state_->tasks) {
    const auto& v = t.v;
    if (v.finished_at_ms == 0 || v.finished_at_ms < since_ms) continue;
    if (!tenant.empty() && v.tenant != tenant) continue;
    const int64_t bucket = v.finished_at_ms / bucket_ms * bucket_ms;
    Acc& a = acc[{bucket, v.queue, v.type}];
    a.p.queue = v.queue;
    a.p.type = v.type;
    a.p.bucket_start_ms = bucket;
    ++a.p.finished;
    if (v.state == TaskState::kFailed || v.state == TaskState::kDead) ++a.p.failed;
    if (v.started_at_ms > 0) {
      a.wait.push_back(static_cast<double>(std::max<int64_t>(0, v.started_at_ms - v.run_at_ms)));
      a.run.push_back(static_cast<double>(std::max<int64_t>(0, v.finished_at_ms - v.started_at_ms)));
    }
  }
  std::vector<StatsPoint> out;
  for (auto& [key, a] : acc) {
    a.p.wait_p50_ms = Percentile(a.wait, 0.5);
    a.p.wait_p95_ms = Percentile(a.wait, 0.95);
    a.p.run_p50_ms = Percentile(a.run, 0.5);
    a.p.run_p95_ms = Percentile(a.run, 0.95);
    out.push_back(a.p);
  }
  return out;
}

std::vector<QueueBacklog> MemoryStore::Backlogs(const std::string& tenant) {
  std::lock_guard lock(state_->mu);
  const int64_t now = state_->Now();
  std::map<std::string, QueueBacklog> by_queue;
  for (const auto& [id, t] : state_->tasks) {
    if (!Unfinished(t.v.state) || (!tenant.empty() && t.v.tenant != tenant)) continue;
    QueueBacklog& b = by_queue[t.v.queue];
    b.queue = t.v.queue;
    if (t.v.state != TaskState::kRunning) ++b.backlog;
    if (t.v.state == TaskState::kQueued) {
      b.oldest_age_s = std::max(b.oldest_age_s, std::max<int64_t>(0, now - t.v.run_at_ms) / 1000.0);
    }
  }
  std::vector<QueueBacklog> out;
  for (auto& [q, b] : by_queue) out.push_back(b);
  return out;
}

std::vector<QueueDetail> MemoryStore::QueueDetails(const std::string& tenant, uint32_t stale_after_ms) {
  std::lock_guard lock(state_->mu);
  const int64_t now = state_->Now();
  std::map<std::string, QueueDetail> by_queue;
  for (const auto& [id, t] : state_->tasks) {
    if (!tenant.empty() && t.v.tenant != tenant) continue;
    if (Unfinished(t.v.state)) ++by_queue[t.v.queue].by_priority[t.v.priority];
    if (t.v.finished_at_ms > now - 60000) by_queue[t.v.queue].rate += 1.0 / 60.0;
  }
  for (const auto& [id, w] : state_->workers) {
    if (w.draining || now - w.heartbeat_at_ms >= static_cast<int64_t>(stale_after_ms)) continue;
    for (const auto& q : w.info.queues) {
      if (!tenant.empty() && !by_queue.contains(q)) continue;
      ++by_queue[q].consumers;
    }
  }
  std::vector<QueueDetail> out;
  for (auto& [q, d] : by_queue) {
    d.queue = q;
    out.push_back(d);
  }
  return out;
}

}  // namespace fila
