// The tenant routes of the API (/v1/tenants): what operators allow each
// tenant. Operators read and change every tenant; a producer reads its own.
#include "fila/codec/tenants.h"
#include "router.h"
#include "router_support.h"

namespace fila::api {
namespace {

// A producer asking for another tenant learns nothing of it.
void RequireSelfOrOperator(const Caller& caller, const std::string& name) {
  if (!caller.operator_role && caller.tenant != name) {
    throw ApiError{404, "not_found", "no tenant " + name, "name"};
  }
}

std::optional<int64_t> Quota(bool has, int64_t value, const char* field) {
  if (!has) return std::nullopt;
  if (value < 0) throw ApiError{400, "invalid_argument", std::string(field) + " must not be negative", field};
  return value;
}

}  // namespace

Response Router::Tenants(const Request& r, const Caller& caller) {
  v1::ListTenantsResponse out;
  if (caller.operator_role) {
    for (const auto& t : tenants_.Directory().Store().List()) *out.add_tenants() = codec::ToProto(t);
  } else {
    *out.add_tenants() = codec::ToProto(tenants_.Directory().Store().Get(caller.tenant));
  }
  return Reply(r, 200, out);
}

Response Router::TenantRoute(const Request& r, const Caller& caller, const std::string& rest) {
  TenantStore& store = tenants_.Directory().Store();
  if (rest.find('/') != std::string::npos) throw ApiError{404, "not_found", "no such resource: " + r.path, ""};
  const auto colon = rest.rfind(':');
  const std::string verb = colon == std::string::npos ? "" : rest.substr(colon + 1);
  const std::string name = colon == std::string::npos ? rest : rest.substr(0, colon);
  ValidateTenantName(name);
  if (verb.empty() && r.method == "GET") {
    RequireSelfOrOperator(caller, name);
    return Reply(r, 200, codec::ToProto(store.Get(name)));
  }
  RequireOperator(caller);
  if (verb == "bind" || verb == "unbind") {
    if (r.method != "POST") throw ApiError{405, "method_not_allowed", r.method + " is not allowed on " + r.path, ""};
    v1::TenantBinding b;
    Decode(RequestFormat(r), r.body, b);
    FindBindingKind(b.kind()).validate(b.value());
    if (verb == "bind") {
      store.Bind(name, b.kind(), b.value());
    } else if (!store.Unbind(name, b.kind(), b.value())) {
      throw ApiError{404, "not_found", "tenant " + name + " holds no " + b.kind() + " '" + b.value() + "'", "value"};
    }
    return Reply(r, 200, codec::ToProto(store.Get(name)));
  }
  if (!verb.empty()) throw ApiError{404, "not_found", "unknown action ':" + verb + "'", ""};
  if (r.method == "PUT") {
    v1::Tenant m;
    Decode(RequestFormat(r), r.body, m);
    TenantSettings s;
    s.name = name;
    s.max_waiting = Quota(m.has_max_waiting(), m.max_waiting(), "max_waiting");
    s.max_schedules = Quota(m.has_max_schedules(), m.max_schedules(), "max_schedules");
    s.min_cron_interval_s =
        Quota(m.has_min_cron_interval_seconds(), m.min_cron_interval_seconds(), "min_cron_interval_seconds");
    if (m.has_weight()) {
      ValidateTenantWeight(m.weight());
      s.weight = m.weight();
    }
    return Reply(r, 200, codec::ToProto(store.PutQuotas(s)));
  }
  if (r.method == "DELETE") {
    if (!store.Delete(name)) throw ApiError{404, "not_found", "no tenant " + name, "name"};
    return {204, "", ""};
  }
  throw ApiError{405, "method_not_allowed", r.method + " is not allowed on " + r.path, ""};
}

}  // namespace fila::api
