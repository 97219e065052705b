// The task type routes of the API (/v1/types): operators register, change
// and delete types; a producer reads the types its tenant may enqueue,
// without their handler (an internal address) or the other tenants named.
#include <algorithm>

#include "fila/core/type_definition.h"
#include "fila/core/type_store.h"
#include "fila/v1/types.pb.h"
#include "router.h"
#include "router_support.h"

namespace fila::api {
namespace {

v1::TaskTypeDefinition Parse(const std::string& definition) {
  v1::TaskTypeDefinition d;
  d.ParseFromString(definition);
  return d;
}

// What the caller may see of a definition; nullopt when nothing.
std::optional<v1::TaskTypeDefinition> ForCaller(v1::TaskTypeDefinition d, const Caller& caller) {
  if (caller.operator_role) return d;
  const auto& allowed = d.tenants();
  if (d.deleted() || (!allowed.empty() && std::find(allowed.begin(), allowed.end(), caller.tenant) == allowed.end())) {
    return std::nullopt;
  }
  d.clear_handler();
  d.clear_tenants();
  return d;
}

uint32_t VersionParam(const Request& r) {
  auto it = r.query.find("version");
  if (it == r.query.end() || it->second.empty()) return 0;
  try {
    const long long v = std::stoll(it->second);
    if (v < 1 || v > UINT32_MAX) throw std::out_of_range("version");
    return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
    throw ApiError{400, "invalid_argument", "version must be a positive number", "version"};
  }
}

bool FlagParam(const Request& r, const char* name) {
  auto it = r.query.find(name);
  return it != r.query.end() && (it->second == "true" || it->second == "1");
}

// Names may not be registered over the compiled-in ones, whichever test
// types this scheduler enables: a worker may enable them.
const TaskTypes& AllBuiltin() {
  static const TaskTypes builtin = TaskTypes::Builtin(TestTypes::kEnabled);
  return builtin;
}

}  // namespace

Response Router::Types(const Request& r, const Caller& caller) {
  TypeQuery query;
  if (auto it = r.query.find("name"); it != r.query.end()) query.name = it->second;
  query.version = VersionParam(r);
  query.all_versions = FlagParam(r, "all_versions");
  v1::ListTaskTypesResponse out;
  for (const auto& definition : ListDefinitions(types_, type_store_, query)) {
    if (auto d = ForCaller(Parse(definition), caller)) *out.add_types() = std::move(*d);
  }
  return Reply(r, 200, out);
}

Response Router::TypeRoute(const Request& r, const Caller& caller, const std::string& name) {
  if (name.find('/') != std::string::npos || name.find(':') != std::string::npos) {
    throw ApiError{404, "not_found", "no such resource: " + r.path, ""};
  }
  if (r.method == "GET") {
    TypeQuery query;
    query.name = name;
    query.version = VersionParam(r);
    for (const auto& definition : ListDefinitions(types_, type_store_, query)) {
      if (auto d = ForCaller(Parse(definition), caller)) return Reply(r, 200, *d);
    }
    throw ApiError{404, "not_found", "no task type '" + name + "'" +
                                         (query.version ? " version " + std::to_string(query.version) : ""),
                   "name"};
  }
  RequireOperator(caller);
  if (r.method == "PUT") {
    v1::TaskTypeDefinition d;
    Decode(RequestFormat(r), r.body, d);
    if (d.name().empty()) d.set_name(name);
    if (d.name() != name) {
      throw ApiError{400, "invalid_argument", "the body names '" + d.name() + "', the path '" + name + "'", "name"};
    }
    if (d.builtin()) throw ApiError{400, "invalid_argument", "builtin is set by fila, not by a definition", "builtin"};
    const std::string definition = d.SerializeAsString();
    CheckRegistration(definition, AllBuiltin());
    auto [stored, created] = type_store_.Apply(definition);
    return Reply(r, created ? 201 : 200, Parse(stored));
  }
  if (r.method == "DELETE") {
    if (AllBuiltin().Contains(name, 0)) {
      throw ApiError{400, "invalid_argument", "'" + name + "' is a built-in type; it cannot be deleted", "name"};
    }
    if (!type_store_.Delete(name)) throw ApiError{404, "not_found", "no registered type '" + name + "'", "name"};
    return {204, "", ""};
  }
  throw ApiError{405, "method_not_allowed", r.method + " is not allowed on " + r.path, ""};
}

}  // namespace fila::api
