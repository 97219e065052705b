#include "fila/core/type_definition.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>

#include "fila/core/errors.h"
#include "fila/core/tenant.h"
#include "fila/core/type_store.h"
#include "fila/v1/types.pb.h"
#include "payload_schema.h"

namespace fila {
namespace {

using std::chrono::milliseconds;

v1::TaskTypeDefinition Parse(std::string_view definition) {
  v1::TaskTypeDefinition d;
  if (!d.ParseFromArray(definition.data(), static_cast<int>(definition.size()))) {
    throw PermanentError("not a serialized fila.v1.TaskTypeDefinition", "definition");
  }
  return d;
}

// Type names follow queue names' rule: they appear in metrics and logs.
void CheckName(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name.front())) &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
                  });
  if (!ok) throw PermanentError("a type name is 1 to 64 of [a-z0-9_.-], starting with a letter or digit", "name");
}

void CheckHandler(const v1::HandlerSettings& h, TaskTypeSpec& spec) {
  switch (h.kind_case()) {
    case v1::HandlerSettings::kHttp: {
      const std::string& url = h.http().url();
      if ((url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) || url.size() > 2048) {
        throw PermanentError("handler.http.url must be an http(s) URL of at most 2048 bytes", "handler.http.url");
      }
      spec.handler.kind = HandlerSpec::Kind::kHttp;
      spec.handler.url = url;
      spec.handler.concurrency = h.http().concurrency();
      return;
    }
    case v1::HandlerSettings::kExec: {
      if (h.exec().command_size() == 0 || h.exec().command(0).empty()) {
        throw PermanentError("handler.exec.command needs a program", "handler.exec.command");
      }
      spec.handler.kind = HandlerSpec::Kind::kExec;
      spec.handler.command.assign(h.exec().command().begin(), h.exec().command().end());
      spec.handler.concurrency = h.exec().concurrency();
      if (h.exec().grace_ms() > 0) spec.handler.grace = milliseconds(h.exec().grace_ms());
      return;
    }
    case v1::HandlerSettings::kBuiltin:
      // A handler compiled into the workers that consume the type's queue:
      // a program built on the C++ SDK registers it under the type's name
      // (fila/sdk.h). Naming another type's would run that type's code.
      if (h.builtin() != spec.name) {
        throw PermanentError("handler.builtin must be the type's own name (a handler compiled into the worker)",
                             "handler.builtin");
      }
      spec.handler.kind = HandlerSpec::Kind::kBuiltin;
      return;
    default:
      throw PermanentError("handler is required: http {url} or exec {command}", "handler");
  }
}

}  // namespace

TaskTypeSpec SpecFromDefinition(std::string_view definition) {
  const v1::TaskTypeDefinition d = Parse(definition);
  TaskTypeSpec spec;
  CheckName(d.name());
  spec.name = d.name();
  spec.version = d.version();
  spec.default_queue = d.queue().empty() ? "default" : d.queue();
  ValidateQueueName(spec.default_queue);
  switch (d.schema().kind_case()) {
    case v1::PayloadSchema::kProto:
      if (d.schema().proto().message().empty()) {
        throw PermanentError("schema.proto.message names no message", "schema.proto.message");
      }
      spec.schema = PayloadSchema::FromDescriptorSet(d.schema().proto().descriptor_set().SerializeAsString(),
                                                     d.schema().proto().message(), "schema.proto");
      break;
    case v1::PayloadSchema::kAnyJson:
      if (!d.schema().any_json()) throw PermanentError("schema.any_json must be true when given", "schema");
      spec.schema = PayloadSchema::AnyJson();
      break;
    case v1::PayloadSchema::kCompiled:
      throw PermanentError("only compiled-in types have a compiled schema", "schema");
    default:
      throw PermanentError("schema is required: proto {descriptor_set, message} or any_json: true", "schema");
  }
  if (d.priority() > 9) throw PermanentError("priority must be between 0 and 9", "priority");
  spec.default_priority = d.priority();
  if (d.timeout_ms() > 24u * 3600 * 1000) throw PermanentError("timeout_ms is at most 24 h", "timeout_ms");
  if (d.timeout_ms() > 0) spec.default_timeout = milliseconds(d.timeout_ms());
  if (d.retry().max_attempts() > 100) throw PermanentError("retry.max_attempts is at most 100", "retry.max_attempts");
  if (d.retry().max_attempts() > 0) spec.retry.max_attempts = d.retry().max_attempts();
  if (d.retry().base_ms() > 0) spec.retry.base = milliseconds(d.retry().base_ms());
  if (d.retry().cap_ms() > 0) spec.retry.cap = milliseconds(d.retry().cap_ms());
  if (spec.retry.base > spec.retry.cap) throw PermanentError("retry.base_ms exceeds retry.cap_ms", "retry.base_ms");
  spec.limit = {.max_concurrent = d.limit().concurrency(),
                .rate = d.limit().rate(),
                .period = milliseconds(d.limit().period_ms())};
  if (spec.limit.rate > 0 && spec.limit.period.count() == 0) {
    throw PermanentError("limit.rate needs limit.period_ms", "limit.period_ms");
  }
  spec.limit_key_field = d.limit().key_field();
  if (d.max_result_bytes() > (uint64_t{64} << 20)) {
    throw PermanentError("max_result_bytes is at most 64 MiB", "max_result_bytes");
  }
  if (d.max_result_bytes() > 0) spec.max_result_bytes = d.max_result_bytes();
  CheckHandler(d.handler(), spec);
  for (const auto& tenant : d.tenants()) {
    try {
      ValidateTenantName(tenant);
    } catch (const PermanentError& e) {
      throw PermanentError(e.what(), "tenants");
    }
    spec.tenants.push_back(tenant);
  }
  spec.deleted = d.deleted();
  spec.definition = std::string(definition);
  return spec;
}

std::string DefinitionOf(const TaskTypeSpec& spec) {
  if (!spec.definition.empty()) return spec.definition;
  v1::TaskTypeDefinition d;
  d.set_name(spec.name);
  d.set_version(spec.version);
  d.set_queue(spec.default_queue);
  if (!spec.payload_message.empty()) d.mutable_schema()->set_compiled(spec.payload_message);
  d.set_priority(spec.default_priority);
  d.set_timeout_ms(static_cast<uint32_t>(spec.default_timeout.count()));
  d.mutable_retry()->set_max_attempts(spec.retry.max_attempts);
  d.mutable_retry()->set_base_ms(static_cast<uint32_t>(spec.retry.base.count()));
  d.mutable_retry()->set_cap_ms(static_cast<uint32_t>(spec.retry.cap.count()));
  d.mutable_limit()->set_key_field(spec.limit_key_field);
  d.mutable_limit()->set_concurrency(spec.limit.max_concurrent);
  d.mutable_limit()->set_rate(spec.limit.rate);
  d.mutable_limit()->set_period_ms(static_cast<uint32_t>(spec.limit.period.count()));
  d.set_max_result_bytes(spec.max_result_bytes);
  d.mutable_handler()->set_builtin(spec.name);
  d.set_builtin(true);
  return d.SerializeAsString();
}

bool SameDefinition(std::string_view a, std::string_view b) {
  v1::TaskTypeDefinition x = Parse(a);
  v1::TaskTypeDefinition y = Parse(b);
  for (auto* d : {&x, &y}) {
    d->clear_version();
    d->clear_created_at();
    d->clear_deleted();
  }
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

std::string StampDefinition(std::string_view definition, uint32_t version, int64_t created_at_ms, bool deleted) {
  v1::TaskTypeDefinition d = Parse(definition);
  d.set_version(version);
  d.mutable_created_at()->set_seconds(created_at_ms / 1000);
  d.mutable_created_at()->set_nanos(static_cast<int32_t>(created_at_ms % 1000) * 1000000);
  d.set_deleted(deleted);
  return d.SerializeAsString();
}

std::vector<TaskTypeSpec> LoadRegisteredTypes(TypeStore& store, std::vector<std::string>* skipped) {
  std::vector<TaskTypeSpec> specs;
  for (const auto& definition : store.All()) {
    try {
      specs.push_back(SpecFromDefinition(definition));
    } catch (const PermanentError& e) {
      if (skipped != nullptr) {
        v1::TaskTypeDefinition d;
        d.ParseFromString(definition);
        skipped->push_back(d.name() + " version " + std::to_string(d.version()) + ": " + e.what());
      }
    }
  }
  return specs;
}

std::vector<std::string> ListDefinitions(const TaskTypes& builtin, TypeStore& store, const TypeQuery& query) {
  std::vector<std::string> out;
  for (const auto& spec : builtin.All()) {
    if (spec->version != 0) continue;  // registered ones: from the store, every version
    if (query.version == 0 && (query.name.empty() || spec->name == query.name)) out.push_back(DefinitionOf(*spec));
  }
  std::vector<v1::TaskTypeDefinition> registered;
  for (const auto& definition : query.name.empty() ? store.All() : store.Versions(query.name)) {
    registered.push_back(Parse(definition));
  }
  for (size_t i = 0; i < registered.size(); ++i) {
    const auto& d = registered[i];
    const bool latest = i + 1 == registered.size() || registered[i + 1].name() != d.name();
    const bool wanted = query.all_versions || (query.version > 0 ? d.version() == query.version : latest);
    if (wanted) out.push_back(d.SerializeAsString());
  }
  return out;
}

TaskTypeSpec CheckRegistration(std::string_view definition, const TaskTypes& builtin) {
  TaskTypeSpec spec = SpecFromDefinition(definition);
  if (builtin.Contains(spec.name, 0)) {
    throw PermanentError("'" + spec.name + "' is a built-in type; register your own name", "name");
  }
  return spec;
}

}  // namespace fila
