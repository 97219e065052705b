// fila types apply | list | get | delete: task types as data, straight in
// the database (like fila tenants; /v1/types is the same for remote operators).
#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "commands.h"
#include "fila/core/config.h"
#include "fila/core/type_definition.h"
#include "fila/store_postgres/type_store_pg.h"
#include "fila/v1/types.pb.h"
#include "guard.h"
#include "type_file.h"

namespace fila::cli {
namespace {

v1::TaskTypeDefinition Decode(const std::string& definition) {
  v1::TaskTypeDefinition d;
  d.ParseFromString(definition);
  return d;
}

std::string HandlerText(const v1::HandlerSettings& h) {
  switch (h.kind_case()) {
    case v1::HandlerSettings::kHttp: return "http " + h.http().url();
    case v1::HandlerSettings::kExec: {
      std::string command = "exec";
      for (const auto& arg : h.exec().command()) command += " " + arg;
      return command;
    }
    default: return "builtin";
  }
}

std::string SchemaText(const v1::PayloadSchema& s) {
  switch (s.kind_case()) {
    case v1::PayloadSchema::kProto: return s.proto().message();
    case v1::PayloadSchema::kAnyJson: return "any JSON object";
    default: return s.compiled();
  }
}

std::string Row(const v1::TaskTypeDefinition& d) {
  std::string tenants;
  for (const auto& t : d.tenants()) tenants += (tenants.empty() ? "" : ",") + t;
  return d.name() + "  v" + std::to_string(d.version()) + (d.deleted() ? " (deleted)" : "") + "  queue " +
         (d.queue().empty() ? "default" : d.queue()) + "  " + SchemaText(d.schema()) + "  " + HandlerText(d.handler()) +
         (tenants.empty() ? "" : "  tenants " + tenants);
}

nlohmann::json Json(const v1::TaskTypeDefinition& d) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(d, &text, options);
  return nlohmann::json::parse(text);
}

int Apply(TypeStore& store, const TypeArgs& args) {
  const auto definitions = ReadTypeFile(args.file);
  const TaskTypes builtin = DisplayTypes();
  for (size_t i = 0; i < definitions.size(); ++i) {
    try {
      CheckRegistration(definitions[i], builtin);
    } catch (const PermanentError& e) {
      const std::string at = "types[" + std::to_string(i) + "]";
      throw PermanentError(at + ": " + e.what(), at + "." + e.field());
    }
  }
  for (const auto& definition : definitions) {
    if (args.dry_run) {
      std::cout << SpecFromDefinition(definition).name << ": valid\n";
      continue;
    }
    auto [stored, created] = store.Apply(definition);
    const auto d = Decode(stored);
    std::cout << d.name() << ": version " << d.version() << (created ? " created" : " unchanged") << "\n";
  }
  return kOk;
}

}  // namespace

int Types(const std::string& database_url, const std::string& action, const TypeArgs& args) {
  return Guard("database " + RedactUrl(database_url), [&] {
    auto store = MakePostgresTypeStore(database_url, 1);
    if (action == "apply") return Apply(*store, args);
    if (action == "delete") {
      if (!store->Delete(args.name)) throw PermanentError("no registered type '" + args.name + "'", "name");
      std::cout << "deleted " << args.name << ": no new task; queued ones still run\n";
      return kOk;
    }
    // list and get: the built-in types first, shown the same way.
    TypeQuery query;
    if (action == "get") query.name = args.name;
    query.version = args.version;
    query.all_versions = args.all_versions;
    std::vector<v1::TaskTypeDefinition> shown;
    for (const auto& definition : ListDefinitions(DisplayTypes(), *store, query)) shown.push_back(Decode(definition));
    if (action == "get" && shown.empty()) throw PermanentError("no task type '" + args.name + "'", "name");
    if (args.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& d : shown) out.push_back(Json(d));
      std::cout << Dump(action == "get" && shown.size() == 1 ? out[0] : out) << "\n";
    } else {
      for (const auto& d : shown) std::cout << Row(d) << "\n";
    }
    return kOk;
  });
}

}  // namespace fila::cli
