#include "fila/core/tenant_gate.h"

#include <algorithm>
#include <exception>
#include <limits>

#include "fila/core/clock.h"
#include "fila/core/cron.h"

namespace fila {
namespace {

// A tenant's waiting tasks are counted again after a second, or after
// kCountCost times the last count's duration when that is longer (at most
// kMaxCountTtl): with a backlog near a quota of 1,000,000 a count took
// 0.25-0.7 s here, and counts once a second took more than a core.
constexpr auto kCountTtl = std::chrono::seconds(1);
constexpr int kCountCost = 20;
constexpr auto kMaxCountTtl = std::chrono::seconds(30);
// Tenants whose counts are kept at most (past it, forgotten and read again).
constexpr size_t kMaxCountedTenants = 10000;

bool IsUrl(const std::string& value) {
  return value.rfind("http://", 0) == 0 || value.rfind("https://", 0) == 0;
}

}  // namespace

void CheckTenantUse(const NewTask& task, const TaskTypes& types, const TenantSettings& tenant,
                    QueueRule rule) {
  const auto type_spec = types.Get(task.type, task.type_version);
  const TaskTypeSpec& spec = *type_spec;
  if (rule == QueueRule::kProducer && task.queue != spec.default_queue &&
      !tenant.Holds("queue", task.queue)) {
    throw PermissionDenied("queue '" + task.queue + "' is not bound to tenant '" + tenant.name +
                               "'; its producers may use '" + spec.default_queue +
                               "' (an operator binds more with fila tenants bind)",
                           "queue");
  }
  for (const BoundField& bound : spec.bound_fields) {
    const std::string value = PayloadField(spec, task.payload, bound.field);
    if (value.empty() || (bound.urls_only && !IsUrl(value))) continue;
    const bool held = bound.binding == "upload_target"
                          ? UrlUnderTargets(value, tenant.Bound(bound.binding))
                          : tenant.Holds(bound.binding, value);
    if (!held) {
      throw PermissionDenied("payload." + bound.field + " '" + value.substr(0, 256) +
                                 "' is not bound to tenant '" + tenant.name + "' (" + bound.binding +
                                 ")",
                             "payload." + bound.field);
    }
  }
}

int64_t ShortestCronGapSeconds(const std::string& cron, const std::string& timezone) {
  const CronSchedule schedule = CronSchedule::Parse(cron, timezone);
  // A year of slots covers every pattern; 2,000 slots bound the work for
  // expressions that fire every second (their gap shows at once anyway).
  int64_t at = NowUnixMs();
  int64_t shortest = -1;
  for (int i = 0; i < 2000; ++i) {
    const int64_t next = schedule.NextAfter(at);
    if (next < 0) break;
    if (i > 0) {
      const int64_t gap = (next - at) / 1000;
      shortest = shortest < 0 ? gap : std::min(shortest, gap);
      if (shortest <= 1) break;
    }
    at = next;
  }
  return shortest;
}

TenantGate::TenantGate(TenantDirectory& directory, TenantQuotaDefaults defaults, Now now)
    : directory_(directory), defaults_(defaults), now_(std::move(now)) {}

void TenantGate::CheckEnqueue(std::span<const NewTask> tasks, const TaskTypes& types, QueueRule rule) {
  for (const NewTask& task : tasks) CheckUse(task, types, rule);
  ReserveWaiting(tasks);
}

void TenantGate::CheckUse(const NewTask& task, const TaskTypes& types, QueueRule rule) {
  CheckTenantUse(task, types, directory_.Get(task.tenant), rule);
}

void TenantGate::ReserveWaiting(std::span<const NewTask> tasks) {
  std::map<std::string, int64_t> per_tenant;
  for (const NewTask& task : tasks) ++per_tenant[task.tenant];
  // A batch of several tenants (an operator's) counts only if all fit.
  std::map<std::string, int64_t> counted;
  try {
    for (const auto& [name, n] : per_tenant) {
      CheckWaiting(directory_.Get(name), n);
      counted[name] = n;
    }
  } catch (...) {
    std::lock_guard lock(mutex_);
    for (const auto& [name, n] : counted) waiting_[name].count -= n;
    throw;
  }
}

void TenantGate::CheckSchedule(const ScheduleSpec& spec, const NewTask& task, const TaskTypes& types,
                               QueueRule rule) {
  const TenantSettings tenant = directory_.Get(spec.tenant);
  CheckTenantUse(task, types, tenant, rule);
  const int64_t min_gap = tenant.min_cron_interval_s.value_or(defaults_.min_cron_interval_s);
  const int64_t gap = ShortestCronGapSeconds(spec.cron, spec.timezone);
  if (gap >= 0 && gap < min_gap) {
    throw PermanentError("cron '" + spec.cron + "' fires every " + std::to_string(gap) +
                             " s; tenant '" + tenant.name + "' may schedule at most every " +
                             std::to_string(min_gap) + " s",
                         "cron");
  }
  const int64_t max = tenant.max_schedules.value_or(defaults_.max_schedules);
  if (directory_.Store().CountSchedules(spec.tenant) >= max) {
    throw QuotaExceeded("tenant '" + tenant.name + "' has " + std::to_string(max) +
                            " schedules, its quota; delete one first",
                        60);
  }
}

void TenantGate::CheckWaiting(const TenantSettings& tenant, int64_t adding) {
  const int64_t max = tenant.max_waiting.value_or(defaults_.max_waiting);
  std::unique_lock lock(mutex_);
  Refresh(tenant.name, max, lock);
  Waiting& w = waiting_[tenant.name];
  if (w.count + adding > max) {
    throw QuotaExceeded("tenant '" + tenant.name + "' has " + std::to_string(w.count) +
                            " tasks waiting to run; its quota is " + std::to_string(max),
                        5);
  }
  w.count += adding;
}

void TenantGate::Refresh(const std::string& tenant, int64_t max, std::unique_lock<std::mutex>& lock) {
  for (;;) {
    Waiting& w = waiting_[tenant];
    if (w.reading) {
      if (w.known) return;  // the last count serves while another caller reads
      read_done_.wait(lock);
      continue;
    }
    if (w.known && now_() < w.next_read) return;
    w.reading = true;
    lock.unlock();
    const auto started = now_();
    int64_t count = 0;
    std::exception_ptr error;
    try {
      // One past the quota tells that it is full: no need to count further.
      count = directory_.Store().CountWaiting(tenant, max < std::numeric_limits<int64_t>::max() ? max + 1 : max);
    } catch (...) {
      error = std::current_exception();
    }
    const auto finished = now_();
    lock.lock();
    if (waiting_.size() >= kMaxCountedTenants) {
      std::erase_if(waiting_, [&](const auto& entry) { return !entry.second.reading && entry.first != tenant; });
    }
    Waiting& read = waiting_[tenant];
    read.reading = false;
    if (!error) {
      read.count = count;
      read.known = true;
      const auto cost = kCountCost * (finished - started);
      read.next_read = finished + std::clamp<SteadyClock::duration>(cost, kCountTtl, kMaxCountTtl);
    }
    read_done_.notify_all();
    if (error) std::rethrow_exception(error);
    return;
  }
}

}  // namespace fila
