#include "fila/core/task_types.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "fila/core/errors.h"
#include "fila/core/json_depth.h"
#include "payload_schema.h"

namespace fila {
namespace {

namespace pb = google::protobuf;

// protobuf 3.21's JSON parser names the field as "(ms): invalid value ..."
// or "seconds: Cannot find field."; pull it out so the error can point at it.
std::string FieldOf(const std::string& message) {
  if (!message.empty() && message.front() == '(') {
    auto close = message.find(')');
    if (close != std::string::npos && close > 1) return "payload." + message.substr(1, close - 1);
  }
  const std::string kUnknown = ": Cannot find field";
  if (auto pos = message.find(kUnknown); pos != std::string::npos && pos > 0) {
    return "payload." + message.substr(0, pos);
  }
  return "payload";
}

const PayloadSchema& SchemaOf(const TaskTypeSpec& spec) {
  if (!spec.schema) throw PermanentError("task type '" + spec.name + "' has no payload schema", "type");
  return *spec.schema;
}

void CheckPayloadDepth(const TaskTypeSpec& spec, std::string_view json) {
  CheckJsonDepth(json, kMaxPayloadDepth, "invalid payload for task type '" + spec.name + "'", "payload");
}

// The stored text of an any-JSON payload as a Struct; PermanentError when
// it is not a JSON object.
pb::Struct ParseObject(const TaskTypeSpec& spec, std::string_view json) {
  pb::Struct object;
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) return object;
  CheckPayloadDepth(spec, json);
  auto status = pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()), &object);
  if (!status.ok()) {
    throw PermanentError("invalid payload for task type '" + spec.name + "': not a JSON object (" +
                             std::string(status.message()).substr(0, 200) + ")",
                         "payload");
  }
  return object;
}

std::string Print(const pb::Message& message, bool all_fields) {
  std::string json;
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = all_fields;
  options.preserve_proto_field_names = true;
  (void)pb::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace

std::string PayloadFromJson(const TaskTypeSpec& spec, std::string_view json) {
  const PayloadSchema& schema = SchemaOf(spec);
  if (schema.kind() == PayloadSchema::Kind::kAnyJson) return Print(ParseObject(spec, json), false);
  auto message = schema.New();
  if (json.empty()) return {};
  CheckPayloadDepth(spec, json);
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()), message.get(), options);
  if (!status.ok()) {
    std::string text(status.message());
    throw PermanentError("invalid payload for task type '" + spec.name + "': " + text, FieldOf(text));
  }
  return message->SerializeAsString();
}

void ValidatePayload(const TaskTypeSpec& spec, std::string_view payload) {
  const PayloadSchema& schema = SchemaOf(spec);
  if (schema.kind() == PayloadSchema::Kind::kAnyJson) {
    ParseObject(spec, payload);
    return;
  }
  auto message = schema.New();
  if (!message->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    throw PermanentError("payload does not parse as " + schema.Name(), "payload");
  }
}

std::string PayloadField(const TaskTypeSpec& spec, std::string_view payload, const std::string& field) {
  const PayloadSchema& schema = SchemaOf(spec);
  if (schema.kind() == PayloadSchema::Kind::kAnyJson) {
    const pb::Struct object = ParseObject(spec, payload);
    auto it = object.fields().find(field);
    if (it == object.fields().end()) return {};
    const pb::Value& v = it->second;
    switch (v.kind_case()) {
      case pb::Value::kStringValue: return v.string_value();
      case pb::Value::kBoolValue: return v.bool_value() ? "true" : "false";
      case pb::Value::kNumberValue: {
        std::string text = Print(v, false);
        return text;
      }
      case pb::Value::kNullValue: return {};
      default: throw PermanentError("payload." + field + " is not a scalar", "payload." + field);
    }
  }
  auto message = schema.New();
  const pb::FieldDescriptor* fd = message->GetDescriptor()->FindFieldByName(field);
  if (fd == nullptr || fd->is_repeated() || fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    throw PermanentError("payload of '" + spec.name + "' has no scalar field " + field, "payload." + field);
  }
  if (!message->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    throw PermanentError("payload does not parse as " + schema.Name(), "payload");
  }
  const pb::Reflection* r = message->GetReflection();
  switch (fd->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING: return r->GetString(*message, fd);
    case pb::FieldDescriptor::CPPTYPE_INT32: return std::to_string(r->GetInt32(*message, fd));
    case pb::FieldDescriptor::CPPTYPE_INT64: return std::to_string(r->GetInt64(*message, fd));
    case pb::FieldDescriptor::CPPTYPE_UINT32: return std::to_string(r->GetUInt32(*message, fd));
    case pb::FieldDescriptor::CPPTYPE_UINT64: return std::to_string(r->GetUInt64(*message, fd));
    case pb::FieldDescriptor::CPPTYPE_BOOL: return r->GetBool(*message, fd) ? "true" : "false";
    case pb::FieldDescriptor::CPPTYPE_ENUM: return r->GetEnum(*message, fd)->name();
    default: return std::to_string(r->GetDouble(*message, fd));
  }
}

std::string PayloadToJson(const TaskTypeSpec& spec, std::string_view payload) {
  if (!spec.schema) return "null";
  if (spec.schema->kind() == PayloadSchema::Kind::kAnyJson) {
    try {
      return Print(ParseObject(spec, payload), false);
    } catch (const PermanentError&) {
      return "null";
    }
  }
  auto message = spec.schema->New();
  if (!message->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return "null";
  return Print(*message, true);
}

struct TaskTypes::State {
  mutable std::shared_mutex mutex;
  std::map<std::string, std::shared_ptr<const TaskTypeSpec>, std::less<>> compiled;
  // name -> version -> spec, every version of every registered type.
  std::map<std::string, std::map<uint32_t, std::shared_ptr<const TaskTypeSpec>>, std::less<>> registered;
  std::function<std::vector<TaskTypeSpec>()> load;
  std::chrono::milliseconds min_interval{0};
  std::chrono::milliseconds max_age{0};
  std::mutex load_mutex;  // one load at a time
  std::chrono::steady_clock::time_point loaded_at{};
  // The last load a missing name asked for: those are limited to one per
  // min_interval on their own, so that a refresh by age (the sampler's,
  // say) does not hide a type registered just after it.
  std::chrono::steady_clock::time_point missing_loaded_at{};
};

TaskTypes::TaskTypes() : state_(std::make_unique<State>()) {}
TaskTypes::~TaskTypes() = default;
TaskTypes::TaskTypes(TaskTypes&&) noexcept = default;
TaskTypes& TaskTypes::operator=(TaskTypes&&) noexcept = default;

void TaskTypes::Register(TaskTypeSpec spec) {
  spec.version = 0;
  if (!spec.schema && !spec.payload_message.empty()) spec.schema = PayloadSchema::Compiled(spec.payload_message);
  std::string name = spec.name;
  std::unique_lock lock(state_->mutex);
  state_->compiled.insert_or_assign(std::move(name), std::make_shared<const TaskTypeSpec>(std::move(spec)));
}

void TaskTypes::SetRegistered(std::vector<TaskTypeSpec> specs) {
  std::map<std::string, std::map<uint32_t, std::shared_ptr<const TaskTypeSpec>>, std::less<>> registered;
  for (auto& spec : specs) {
    std::string name = spec.name;
    const uint32_t version = spec.version;
    registered[name][version] = std::make_shared<const TaskTypeSpec>(std::move(spec));
  }
  std::unique_lock lock(state_->mutex);
  for (const auto& [name, spec] : state_->compiled) registered.erase(name);
  state_->registered = std::move(registered);
}

void TaskTypes::SetLoader(std::function<std::vector<TaskTypeSpec>()> load, std::chrono::milliseconds min_interval,
                          std::chrono::milliseconds max_age) {
  std::lock_guard lock(state_->load_mutex);
  state_->load = std::move(load);
  state_->min_interval = min_interval;
  state_->max_age = max_age;
  state_->loaded_at = {};
}

void TaskTypes::MaybeLoad(bool missing) const {
  State& s = *state_;
  std::unique_lock lock(s.load_mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    if (!missing) return;  // another thread refreshes; the current types serve meanwhile
    lock.lock();           // a missing type waits for the load in progress
  }
  if (!s.load) return;
  const auto now = std::chrono::steady_clock::now();
  if (missing ? now - s.missing_loaded_at < s.min_interval : now - s.loaded_at < s.max_age) return;
  if (missing) s.missing_loaded_at = now;
  std::vector<TaskTypeSpec> specs;
  try {
    specs = s.load();
  } catch (const Error&) {
    // A refresh that fails keeps the types known (compiled-in ones need no
    // database) and is tried again after min_interval; a missing type
    // reports the failure (TransientError: retry).
    s.loaded_at = now - s.max_age + s.min_interval;
    if (missing) throw;
    return;
  }
  s.loaded_at = now;
  const_cast<TaskTypes*>(this)->SetRegistered(std::move(specs));
}

std::shared_ptr<const TaskTypeSpec> TaskTypes::Get(std::string_view type) const {
  MaybeLoad(false);
  bool deleted = false;
  for (int pass = 0; pass < 2; ++pass) {
    {
      std::shared_lock lock(state_->mutex);
      if (auto it = state_->compiled.find(type); it != state_->compiled.end()) return it->second;
      if (auto it = state_->registered.find(type); it != state_->registered.end() && !it->second.empty()) {
        const auto& latest = it->second.rbegin()->second;
        if (!latest->deleted) return latest;
        deleted = true;  // unless registered again since the last load
      }
    }
    if (pass == 0) MaybeLoad(true);
  }
  if (deleted) throw PermanentError("task type '" + std::string(type) + "' was deleted; it takes no new tasks", "type");
  throw PermanentError("unknown task type '" + std::string(type).substr(0, 128) + "'", "type");
}

std::shared_ptr<const TaskTypeSpec> TaskTypes::Get(std::string_view type, uint32_t version) const {
  if (version == 0) {
    std::shared_lock lock(state_->mutex);
    if (auto it = state_->compiled.find(type); it != state_->compiled.end()) return it->second;
  } else {
    for (int pass = 0; pass < 2; ++pass) {
      {
        std::shared_lock lock(state_->mutex);
        if (auto it = state_->registered.find(type); it != state_->registered.end()) {
          if (auto v = it->second.find(version); v != it->second.end()) return v->second;
        }
      }
      if (pass == 0) MaybeLoad(true);
    }
  }
  throw PermanentError("unknown task type '" + std::string(type).substr(0, 128) + "' version " +
                           std::to_string(version),
                       "type");
}

bool TaskTypes::Contains(std::string_view type) const {
  try {
    Get(type);
    return true;
  } catch (const PermanentError&) {
    return false;
  }
}

bool TaskTypes::Contains(std::string_view type, uint32_t version) const {
  try {
    Get(type, version);
    return true;
  } catch (const PermanentError&) {
    return false;
  }
}

std::vector<std::shared_ptr<const TaskTypeSpec>> TaskTypes::All() const {
  MaybeLoad(false);
  std::shared_lock lock(state_->mutex);
  std::vector<std::shared_ptr<const TaskTypeSpec>> out;
  for (const auto& [name, spec] : state_->compiled) out.push_back(spec);
  for (const auto& [name, versions] : state_->registered) {
    if (!versions.empty() && !versions.rbegin()->second->deleted) out.push_back(versions.rbegin()->second);
  }
  return out;
}

std::vector<std::string> TaskTypes::Names() const {
  std::vector<std::string> names;
  for (const auto& spec : All()) names.push_back(spec->name);
  return names;
}

std::string TaskTypes::PayloadFromJson(std::string_view type, std::string_view json) const {
  return fila::PayloadFromJson(*Get(type), json);
}

void TaskTypes::ValidatePayload(std::string_view type, std::string_view payload) const {
  fila::ValidatePayload(*Get(type), payload);
}

std::string TaskTypes::PayloadField(std::string_view type, std::string_view payload,
                                    const std::string& field) const {
  return fila::PayloadField(*Get(type), payload, field);
}

std::string TaskTypes::PayloadToJson(std::string_view type, std::string_view payload, uint32_t version) const {
  try {
    const auto spec = version == 0 && !Contains(type, 0) ? Get(type) : Get(type, version);
    return fila::PayloadToJson(*spec, payload);
  } catch (const PermanentError&) {
    return "null";
  }
}

void ValidateQueueName(std::string_view queue) {
  if (queue.empty() || queue.size() > 64) {
    throw PermanentError("queue name must be 1 to 64 characters", "queue");
  }
  for (char c : queue) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) {
      throw PermanentError("queue name '" + std::string(queue) +
                               "' may hold only a-z, 0-9, '_', '-' and '.'",
                           "queue");
    }
  }
  if (queue == "ingest" || queue == "dead") {
    throw PermanentError("queue name '" + std::string(queue) + "' is reserved", "queue");
  }
}

}  // namespace fila
