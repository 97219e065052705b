// fila tenants list | get | set | bind | unbind | delete: what operators
// allow each tenant, straight in the database (like fila tokens).
#include <iostream>

#include "commands.h"
#include "fila/core/config.h"
#include "fila/core/tenant.h"
#include "fila/store_postgres/tenant_store_pg.h"
#include "guard.h"

namespace fila::cli {
namespace {

nlohmann::json TenantJson(const TenantSettings& t) {
  nlohmann::json bindings = nlohmann::json::object();
  for (const auto& [kind, values] : t.bindings) bindings[kind] = values;
  auto quota = [](const std::optional<int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  return {{"name", t.name},
          {"exists", t.exists},
          {"bindings", bindings},
          {"max_waiting", quota(t.max_waiting)},
          {"max_schedules", quota(t.max_schedules)},
          {"min_cron_interval_s", quota(t.min_cron_interval_s)},
          {"weight", quota(t.weight)}};
}

std::string TenantText(const TenantSettings& t) {
  auto quota = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string("default"); };
  std::string out = t.name + (t.exists ? "" : " (no settings: nothing bound, default quotas)") + "\n" +
                    "  max waiting tasks: " + quota(t.max_waiting) + "\n" +
                    "  max schedules: " + quota(t.max_schedules) + "\n" +
                    "  min cron interval (s): " + quota(t.min_cron_interval_s) + "\n" +
                    "  weight: " + quota(t.weight) + "\n";
  for (const auto& [kind, values] : t.bindings) {
    for (const auto& value : values) out += "  " + kind + ": " + value + "\n";
  }
  return out;
}

}  // namespace

int Tenants(const std::string& database_url, const std::string& action, const TenantArgs& args) {
  return Guard("database " + RedactUrl(database_url), [&] {
    auto store = MakePostgresTenantStore(database_url, 1);
    if (action == "list") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& t : store->List()) {
        if (args.json) {
          out.push_back(TenantJson(t));
        } else {
          std::cout << TenantText(t);
        }
      }
      if (args.json) std::cout << Dump(out) << "\n";
      return kOk;
    }
    ValidateTenantName(args.name);
    if (action == "get") {
      const TenantSettings t = store->Get(args.name);
      std::cout << (args.json ? Dump(TenantJson(t)) + "\n" : TenantText(t));
      return kOk;
    }
    if (action == "set") {
      TenantSettings t = store->Get(args.name);
      t.name = args.name;
      if (args.max_waiting) t.max_waiting = args.max_waiting;
      if (args.max_schedules) t.max_schedules = args.max_schedules;
      if (args.min_cron_interval_s) t.min_cron_interval_s = args.min_cron_interval_s;
      if (args.weight) {
        ValidateTenantWeight(*args.weight);
        t.weight = args.weight;
      }
      std::cout << TenantText(store->PutQuotas(t));
      return kOk;
    }
    if (action == "bind" || action == "unbind") {
      FindBindingKind(args.kind).validate(args.value);
      if (action == "bind") {
        store->Bind(args.name, args.kind, args.value);
      } else if (!store->Unbind(args.name, args.kind, args.value)) {
        throw PermanentError("tenant " + args.name + " holds no " + args.kind + " '" + args.value + "'",
                             "value");
      }
      std::cout << TenantText(store->Get(args.name));
      return kOk;
    }
    if (action == "delete") {
      if (!store->Delete(args.name)) throw PermanentError("no settings for tenant " + args.name, "name");
      std::cout << "deleted the settings of " << args.name << " (its tasks stay)\n";
      return kOk;
    }
    throw PermanentError("unknown action " + action);
  });
}

}  // namespace fila::cli
