#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fila/core/clock.h"
#include "fila/core/errors.h"
#include "fila/core/state_store.h"
#include "fila/core/task_types.h"

namespace fila {

// A producer's request for one task, as any front end (CLI, HTTP, AMQP)
// received it, before validation. Unset optionals take the type's default.
struct TaskRequest {
  std::string type;
  std::string queue;
  std::optional<int64_t> priority;
  std::optional<int64_t> max_attempts;
  std::optional<int64_t> timeout_ms;
  std::optional<int64_t> retry_base_ms;
  std::optional<int64_t> retry_cap_ms;
  std::string tenant = "default";
  std::string idempotency_key;
  std::string trace_id;
  int64_t run_at_ms = 0;   // absolute start time; 0: now
  int64_t delay_ms = 0;    // start this long after the enqueue (not with run_at_ms)
  // Tasks (of the same tenant) that must all succeed before this one is
  // queued; it waits as `blocked` and is cancelled if one ends otherwise.
  std::vector<std::string> depends_on;
  // Per-key limit override; unset fields take the type's.
  std::optional<std::string> limit_key;
  std::optional<int64_t> limit_concurrency;
  std::optional<int64_t> limit_rate;
  std::optional<int64_t> limit_period_ms;
  enum class PayloadForm { kNone, kBytes, kJson } payload_form = PayloadForm::kNone;
  std::string payload;  // serialized payload message, or its JSON
};

// The payload is larger than TaskLimits::max_payload_bytes.
class PayloadTooLarge final : public PermanentError {
 public:
  using PermanentError::PermanentError;
};

// Validates `request` and fills in the type's defaults. Throws
// PermanentError naming the field (type, queue, priority, payload.<field>,
// ...) or PayloadTooLarge; nothing is written anywhere.
// `now_ms` turns a delay into run_at.
NewTask PrepareTask(const TaskRequest& request, const TaskTypes& types, const TaskLimits& limits,
                    int64_t now_ms = NowUnixMs());

// A task's limit key as its producer named it: without the tenant's
// namespace that PrepareTask put it in (keys of types and handlers as
// they are).
std::string ProducerLimitKey(const std::string& tenant, const std::string& stored);

// A cron schedule whose every slot enqueues `task` (already prepared, so
// checked as an enqueue would be). Empty `timezone`: UTC; empty
// `catch_up`: skip.
ScheduleSpec ScheduleOf(const NewTask& task, std::string name, std::string cron,
                        std::string timezone, std::string catch_up);

}  // namespace fila
