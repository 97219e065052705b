#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fila/core/key_limiter.h"
#include "fila/core/retry.h"

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

// How a type's tasks run: compiled into the worker, posted to an HTTP
// handler (a sidecar, in any language), or given to a command once per task
// (docs/handlers.md). The worker owns the claim, the attempt, the deadline,
// retries, progress and the ack whichever runs the work.
struct HandlerSpec {
  enum class Kind { kBuiltin, kHttp, kExec };
  Kind kind = Kind::kBuiltin;
  std::string url;                        // kHttp: where each task is POSTed
  std::vector<std::string> command;       // kExec: argv, the first looked up in PATH
  uint32_t concurrency = 0;               // at once per worker; 0: the worker's slots
  std::chrono::milliseconds grace{5000};  // kExec: SIGTERM to SIGKILL at the deadline or a cancel
};

// How a type's payloads are parsed, checked and shown: a message compiled
// into fila, a message of a registered descriptor set, or any JSON object.
// Immutable; thread-safe. Defined in payload_schema.cpp.
class PayloadSchema;

// What the system knows about a task type before any worker sees it: its
// payload's schema, its defaults and its handler. Compiled-in types have
// version 0; a type registered as data gets a new version at every change,
// and each task keeps the version it was enqueued under.
struct TaskTypeSpec {
  std::string name;
  uint32_t version = 0;
  std::string payload_message;  // compiled in: full protobuf name, e.g. "fila.v1.SleepPayload"
  std::shared_ptr<const PayloadSchema> schema;  // registered types (FromDefinition)
  std::string default_queue = "default";
  uint32_t default_priority = 0;
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
  size_t max_result_bytes = size_t{1} << 20;
  HandlerSpec handler;
  std::vector<std::string> tenants;  // who may enqueue it; empty: every tenant
  bool deleted = false;              // no new task; queued ones still run
  std::string definition;            // registered types: the serialized fila.v1.TaskTypeDefinition
};

// Types that exist to test fila itself (sleep, flaky, fanout): a producer
// could use them to tie up or flood workers, so they exist only where an
// operator enabled them (--enable-test-types).
enum class TestTypes { kDisabled, kEnabled };

// The payload functions of one type (its version's schema). Each throws
// PermanentError naming the field ("payload.<field>") on bad input.
//
// A JSON payload (protobuf JSON mapping; "" is the empty message) as the
// bytes stored with the task: the serialized message, or the JSON object's
// canonical text for any-JSON types. Unknown fields are refused.
std::string PayloadFromJson(const TaskTypeSpec& spec, std::string_view json);
// Checks that `payload` (bytes a producer sent) is a valid payload.
void ValidatePayload(const TaskTypeSpec& spec, std::string_view payload);
// The value of a top-level scalar field of the payload as text ("" when
// unset). Throws PermanentError when the schema has no such field.
std::string PayloadField(const TaskTypeSpec& spec, std::string_view payload, const std::string& field);
// The payload as a JSON object, for display and for handlers ("null" when
// it does not parse).
std::string PayloadToJson(const TaskTypeSpec& spec, std::string_view payload);

// The registry of task types: the compiled-in ones, and the versions of the
// types registered as data, which a loader (the database) refreshes.
// Thread-safe; specs are immutable once published.
class TaskTypes final {
 public:
  // The built-in types: noop, the test types when enabled, and the types
  // of the installed extensions (InstallExtensions, extension.h).
  static TaskTypes Builtin(TestTypes test_types = TestTypes::kDisabled);

  TaskTypes();
  ~TaskTypes();
  TaskTypes(TaskTypes&&) noexcept;
  TaskTypes& operator=(TaskTypes&&) noexcept;

  // A compiled-in type (version 0).
  void Register(TaskTypeSpec spec);
  // Replaces the registered types with `specs` (every version of each; a
  // name that is compiled in cannot be registered and is skipped).
  void SetRegistered(std::vector<TaskTypeSpec> specs);
  // Where registered types come from: called at most once per
  // `min_interval` when a name or version is not known, and whenever the
  // types are older than `max_age` (so a new version bites within it).
  // Errors of `load` propagate (TransientError: try again).
  void SetLoader(std::function<std::vector<TaskTypeSpec>()> load, std::chrono::milliseconds min_interval,
                 std::chrono::milliseconds max_age);

  // The latest version of `type`. Throws PermanentError (field "type") for
  // an unknown or deleted type.
  std::shared_ptr<const TaskTypeSpec> Get(std::string_view type) const;
  // One version (deleted types too: their queued tasks still run).
  std::shared_ptr<const TaskTypeSpec> Get(std::string_view type, uint32_t version) const;
  bool Contains(std::string_view type) const;
  bool Contains(std::string_view type, uint32_t version) const;
  std::vector<std::string> Names() const;
  // The latest version of every type, compiled in first.
  std::vector<std::shared_ptr<const TaskTypeSpec>> All() const;

  // The payload functions above for the latest version of `type`.
  std::string PayloadFromJson(std::string_view type, std::string_view json) const;
  void ValidatePayload(std::string_view type, std::string_view payload) const;
  std::string PayloadField(std::string_view type, std::string_view payload,
                           const std::string& field) const;
  // The payload of `type` at `version` rendered as JSON, for display.
  std::string PayloadToJson(std::string_view type, std::string_view payload, uint32_t version = 0) const;

 private:
  struct State;
  void MaybeLoad(bool missing) const;
  std::unique_ptr<State> state_;
};

// Checks a logical queue name: 1-64 of [a-z0-9_.-], not a reserved name.
// Throws PermanentError (field "queue").
void ValidateQueueName(std::string_view queue);

}  // namespace fila
