#include "fila/task_types.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <memory>

#include "fila/errors.h"
#include "fila/v1/diario.pb.h"
#include "fila/v1/document.pb.h"
#include "fila/v1/nfe.pb.h"
#include "fila/v1/payloads.pb.h"

namespace fila {
namespace {

namespace pb = google::protobuf;

const pb::Descriptor* FindMessage(const std::string& name) {
  // Linking payloads.pb.cc registers its descriptors in the generated pool;
  // touching one type keeps the linker from dropping the file.
  static const bool kLinked = (v1::NoopPayload::descriptor() != nullptr &&
                               v1::DocumentIngestPayload::descriptor() != nullptr &&
                               v1::NfeDownloadPayload::descriptor() != nullptr &&
                               v1::DiarioProcessPayload::descriptor() != nullptr);
  (void)kLinked;
  return pb::DescriptorPool::generated_pool()->FindMessageTypeByName(name);
}

std::unique_ptr<pb::Message> NewMessage(const std::string& name) {
  const pb::Descriptor* descriptor = FindMessage(name);
  if (descriptor == nullptr) {
    throw PermanentError("payload message " + name + " is not compiled in", "type");
  }
  return std::unique_ptr<pb::Message>(
      pb::MessageFactory::generated_factory()->GetPrototype(descriptor)->New());
}

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

// How many tasks a fanout payload creates below its own task: each level
// enqueues `width` children and one join task; saturates at `cap` + 1.
uint64_t FanoutDescendants(uint64_t width, uint64_t depth, uint64_t cap) {
  uint64_t below = 0;
  for (uint64_t level = 0; level < depth; ++level) {
    if (width != 0 && below + 1 > cap / width) return cap + 1;  // no overflow
    below = width * (below + 1) + 1;
    if (below > cap) return cap + 1;
  }
  return below;
}

void CheckFanout(const std::string& payload, const TaskLimits& limits) {
  v1::FanoutPayload p;
  if (!p.ParseFromString(payload)) throw PermanentError("payload does not parse as fila.v1.FanoutPayload", "payload");
  const uint64_t children = uint64_t{p.width()} + 1;  // the join task too
  if (p.depth() > 0 && children > limits.max_children) {
    throw PermanentError("fanout width " + std::to_string(p.width()) + " makes " +
                             std::to_string(children) + " children per task, over the limit of " +
                             std::to_string(limits.max_children),
                         "payload.width");
  }
  const uint64_t below = FanoutDescendants(p.width(), p.depth(), limits.max_tree_tasks);
  if (below + 1 > limits.max_tree_tasks) {
    throw PermanentError("fanout of width " + std::to_string(p.width()) + " and depth " +
                             std::to_string(p.depth()) + " makes more than " +
                             std::to_string(limits.max_tree_tasks) + " tasks in one tree",
                         "payload.depth");
  }
}

void RegisterTestTypes(TaskTypes& types) {
  types.Register({.name = "sleep",
                  .payload_message = "fila.v1.SleepPayload",
                  .default_timeout = std::chrono::seconds(60)});
  types.Register({.name = "fanout", .payload_message = "fila.v1.FanoutPayload", .check = CheckFanout});
  types.Register({.name = "flaky",
                  .payload_message = "fila.v1.FlakyPayload",
                  .retry = {.max_attempts = 5,
                            .base = std::chrono::milliseconds(200),
                            .cap = std::chrono::seconds(5)}});
}

}  // namespace

TaskTypes TaskTypes::Builtin(TestTypes test_types) {
  TaskTypes types;
  types.Register({.name = "noop", .payload_message = "fila.v1.NoopPayload"});
  if (test_types == TestTypes::kEnabled) RegisterTestTypes(types);
  types.Register({.name = "document.ingest",
                  .payload_message = "fila.v1.DocumentIngestPayload",
                  .default_queue = "document",
                  .default_timeout = std::chrono::minutes(10),
                  .retry = {.max_attempts = 5,
                            .base = std::chrono::seconds(2),
                            .cap = std::chrono::minutes(2)}});
  // Exports of one account share its request budget (KeyLimiter): more
  // than two at once only queue behind each other inside the workers, so
  // the third waits in PostgreSQL instead, without a worker slot. The
  // account and an upload URL must be bound to the tenant by an operator.
  types.Register({.name = "nfe.download",
                  .payload_message = "fila.v1.NfeDownloadPayload",
                  .default_queue = "nfe",
                  .default_timeout = std::chrono::minutes(30),
                  .retry = {.max_attempts = 5,
                            .base = std::chrono::seconds(10),
                            .cap = std::chrono::minutes(5)},
                  .limit = {.max_concurrent = 2},
                  .limit_key_field = "account",
                  .bound_fields = {{.field = "account", .binding = "omie_account"},
                                   {.field = "upload", .binding = "upload_target", .urls_only = true}}});
  // A blocked download (anti-bot page) is retried with backoff for a while.
  types.Register({.name = "diario.process",
                  .payload_message = "fila.v1.DiarioProcessPayload",
                  .default_queue = "diario",
                  .default_timeout = std::chrono::minutes(10),
                  .retry = {.max_attempts = 5,
                            .base = std::chrono::seconds(30),
                            .cap = std::chrono::minutes(10)}});
  return types;
}

void TaskTypes::Register(TaskTypeSpec spec) {
  std::string name = spec.name;
  specs_.insert_or_assign(std::move(name), std::move(spec));
}

const TaskTypeSpec& TaskTypes::Get(std::string_view type) const {
  auto it = specs_.find(type);
  if (it == specs_.end()) {
    throw PermanentError("unknown task type '" + std::string(type) + "'", "type");
  }
  return it->second;
}

bool TaskTypes::Contains(std::string_view type) const { return specs_.find(type) != specs_.end(); }

std::vector<std::string> TaskTypes::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, spec] : specs_) names.push_back(name);
  return names;
}

std::string TaskTypes::PayloadFromJson(std::string_view type, std::string_view json) const {
  auto message = NewMessage(Get(type).payload_message);
  if (json.empty()) return {};
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()),
                                              message.get(), options);
  if (!status.ok()) {
    std::string text(status.message());
    throw PermanentError("invalid payload for task type '" + std::string(type) + "': " + text,
                         FieldOf(text));
  }
  return message->SerializeAsString();
}

void TaskTypes::ValidatePayload(std::string_view type, std::string_view payload) const {
  auto message = NewMessage(Get(type).payload_message);
  if (!message->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    throw PermanentError("payload does not parse as " + Get(type).payload_message, "payload");
  }
}

std::string TaskTypes::PayloadToJson(std::string_view type, std::string_view payload) const {
  auto message = NewMessage(Get(type).payload_message);
  if (!message->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return "null";
  }
  std::string json;
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)pb::util::MessageToJsonString(*message, &json, options);
  return json;
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
