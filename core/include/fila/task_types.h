#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fila/key_limiter.h"
#include "fila/retry.h"

namespace fila {

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
};

// Registry of task types. Thread-safe for reads after construction.
class TaskTypes final {
 public:
  // A registry holding the built-in types (noop, sleep, flaky).
  static TaskTypes Builtin();

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
