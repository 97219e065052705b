#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fila/key_limiter.h"
#include "fila/retry.h"

namespace fila {

// Bounds on what one request may ask for, whoever sends it.
struct TaskLimits {
  size_t max_payload_bytes = 1024 * 1024;
  int64_t max_timeout_ms = 24LL * 3600 * 1000;
  int64_t max_attempts = 100;
  int64_t max_delay_ms = 366LL * 24 * 3600 * 1000;
  size_t max_depends_on = 1000;
  // Tasks one handler attempt may enqueue, and tasks one workflow tree
  // (a root and everything its handlers enqueued, level by level) may hold.
  size_t max_children = 1000;
  size_t max_tree_tasks = 10000;
};

// A payload field whose value must be bound to the task's tenant by an
// operator (TenantSettings): e.g. the ERP account of an export.
struct BoundField {
  std::string field;    // top-level scalar field of the payload message
  std::string binding;  // binding kind (BindingKinds())
  bool urls_only = false;  // only http(s) values need the binding (others are folders)
};

// What the system knows about a task type before any worker sees it: the
// protobuf message of its payload and its defaults.
struct TaskTypeSpec {
  std::string name;
  std::string payload_message;  // full protobuf name, e.g. "fila.v1.SleepPayload"
  std::string default_queue = "default";
  std::chrono::milliseconds default_timeout{std::chrono::minutes(5)};
  RetryPolicy retry;
  // Per-key limit of every task of this type (a task may override it). The
  // key is `limit_key`, or "<type>:<value of payload field limit_key_field>"
  // when that is set (e.g. the ERP account), or the type's name.
  LimitSpec limit;
  std::string limit_key;
  std::string limit_key_field;
  // Fields whose values the tenant must hold (checked at enqueue and again
  // by the handler).
  std::vector<BoundField> bound_fields;
  // Checks of the payload beyond its schema, at enqueue (e.g. how many
  // tasks it will fan out to). Throws PermanentError naming the field.
  std::function<void(const std::string& payload, const TaskLimits& limits)> check;
};

// Types that exist to test fila itself (sleep, flaky, fanout): a producer
// could use them to tie up or flood workers, so they exist only where an
// operator enabled them (--enable-test-types).
enum class TestTypes { kDisabled, kEnabled };

// Registry of task types. Thread-safe for reads after construction.
class TaskTypes final {
 public:
  // The built-in types: noop and the job kinds, plus the test types when
  // enabled.
  static TaskTypes Builtin(TestTypes test_types = TestTypes::kDisabled);

  void Register(TaskTypeSpec spec);
  // Throws PermanentError (field "type") for an unknown type.
  const TaskTypeSpec& Get(std::string_view type) const;
  bool Contains(std::string_view type) const;
  std::vector<std::string> Names() const;

  // Converts a JSON payload (protobuf JSON mapping) into the serialized
  // payload message of `type`. Throws PermanentError naming the field on
  // malformed JSON, unknown fields or wrong value types.
  std::string PayloadFromJson(std::string_view type, std::string_view json) const;
  // Checks that `payload` parses as the payload message of `type`.
  void ValidatePayload(std::string_view type, std::string_view payload) const;
  // The value of a top-level scalar field of the payload, as text ("" when
  // unset). Throws PermanentError when the message has no such field.
  std::string PayloadField(std::string_view type, std::string_view payload,
                           const std::string& field) const;
  // The payload of `type` rendered as JSON, for display.
  std::string PayloadToJson(std::string_view type, std::string_view payload) const;

 private:
  std::map<std::string, TaskTypeSpec, std::less<>> specs_;
};

// Checks a logical queue name: 1-64 of [a-z0-9_.-], not a reserved name.
// Throws PermanentError (field "queue").
void ValidateQueueName(std::string_view queue);

}  // namespace fila
