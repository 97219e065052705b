#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>

#include "fila/core/clock.h"
#include "fila/core/errors.h"
#include "fila/core/state_store.h"
#include "fila/core/task_types.h"
#include "fila/core/tenant.h"

namespace fila {

// A use of something the task's tenant does not hold: a queue, an account,
// an upload target. The API answers 403.
class PermissionDenied final : public PermanentError {
 public:
  using PermanentError::PermanentError;
};

// The tenant is over one of its quotas. Retrying later may succeed (once
// its tasks ran): the API answers 429 with Retry-After.
class QuotaExceeded final : public TransientError {
 public:
  QuotaExceeded(const std::string& message, int retry_after_s)
      : TransientError(message), retry_after_s_(retry_after_s) {}
  int RetryAfterSeconds() const noexcept { return retry_after_s_; }

 private:
  int retry_after_s_;
};

// Who asks: producers may use only their types' default queues and the
// queues bound to their tenant; operators may use any queue.
enum class QueueRule { kProducer, kAnyQueue };

// Checks that `task` uses only what its tenant holds: the queue (under
// kProducer) and every BoundField of its type. Throws PermissionDenied
// naming the field.
void CheckTenantUse(const NewTask& task, const TaskTypes& types, const TenantSettings& tenant,
                    QueueRule rule);

// The shortest gap, in seconds, between two slots of `cron` in `timezone`
// over the coming slots (enough to see every pattern of the expression).
// PermanentError for a malformed expression.
int64_t ShortestCronGapSeconds(const std::string& cron, const std::string& timezone);

// What every producer path (HTTP API, AMQP ingest) checks before it
// enqueues or schedules for a tenant: bindings and quotas. The waiting-task
// count of a tenant is read from the store (up to the quota) and counted up
// locally until the next read, so a burst cannot overshoot the quota by
// more than what other schedulers enqueue meanwhile. One read at a time
// per tenant: the callers that come while it runs use the last count (the
// first read of a tenant is waited for). The next read comes a second
// later, or 20 times the last read's duration (at most 30 s) when counting
// is slow: a tenant with a backlog of millions costs a scheduler at most a
// twentieth of a core. Thread-safe.
class TenantGate final {
 public:
  using Now = std::function<SteadyClock::time_point()>;
  TenantGate(TenantDirectory& directory, TenantQuotaDefaults defaults, Now now = SteadyClock::now);
  // CheckUse of every task, then ReserveWaiting. Throws PermissionDenied,
  // QuotaExceeded, or TransientError when the store is unreachable.
  void CheckEnqueue(std::span<const NewTask> tasks, const TaskTypes& types, QueueRule rule);
  // CheckTenantUse against the task's tenant as the directory has it.
  void CheckUse(const NewTask& task, const TaskTypes& types, QueueRule rule);
  // Counts `tasks` against their tenants' waiting-task quotas; throws
  // QuotaExceeded (counting none of them) when one is over.
  void ReserveWaiting(std::span<const NewTask> tasks);
  // A schedule: its task as an enqueue, the tenant's schedule quota and
  // minimum cron interval (PermanentError naming "cron").
  void CheckSchedule(const ScheduleSpec& spec, const NewTask& task, const TaskTypes& types,
                     QueueRule rule);
  TenantDirectory& Directory() { return directory_; }

 private:
  struct Waiting {
    int64_t count = 0;
    bool known = false;     // read at least once
    bool reading = false;   // a read is under way
    SteadyClock::time_point next_read;
  };
  void CheckWaiting(const TenantSettings& tenant, int64_t adding);
  // Reads the tenant's count unless it is fresh or being read (with
  // `lock` held; released during the read).
  void Refresh(const std::string& tenant, int64_t max, std::unique_lock<std::mutex>& lock);

  TenantDirectory& directory_;
  TenantQuotaDefaults defaults_;
  Now now_;
  std::mutex mutex_;
  std::condition_variable read_done_;
  std::map<std::string, Waiting> waiting_;
};

}  // namespace fila
