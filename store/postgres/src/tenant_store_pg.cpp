#include "fila/store_postgres/tenant_store_pg.h"

#include <algorithm>

#include "fila/core/errors.h"
#include "pg_pool.h"

namespace fila {
namespace {

std::optional<int64_t> OptionalInt(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<int64_t>();
}

class PostgresTenantStore final : public TenantStore {
 public:
  PostgresTenantStore(const std::string& url, size_t connections)
      : pool_(url, connections, [](pqxx::connection& c) {
          c.prepare("tenant_get",
                    "SELECT name, max_waiting, max_schedules, min_cron_interval_s, weight FROM tenants"
                    " WHERE ($1 = '' OR name = $1) ORDER BY name");
          c.prepare("tenant_bindings",
                    "SELECT tenant, kind, value FROM tenant_bindings WHERE ($1 = '' OR tenant = $1)"
                    " ORDER BY tenant, kind, value");
          c.prepare("tenant_put", R"(
INSERT INTO tenants (name, max_waiting, max_schedules, min_cron_interval_s, weight)
VALUES ($1, $2::bigint, $3::integer, $4::integer, $5::integer)
ON CONFLICT (name) DO UPDATE SET max_waiting = EXCLUDED.max_waiting,
  max_schedules = EXCLUDED.max_schedules, min_cron_interval_s = EXCLUDED.min_cron_interval_s,
  weight = EXCLUDED.weight, updated_at = now())");
          c.prepare("tenant_ensure", "INSERT INTO tenants (name) VALUES ($1) ON CONFLICT DO NOTHING");
          c.prepare("tenant_bind",
                    "INSERT INTO tenant_bindings (tenant, kind, value, exclusive) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (tenant, kind, value) DO NOTHING");
          c.prepare("tenant_unbind",
                    "DELETE FROM tenant_bindings WHERE tenant = $1 AND kind = $2 AND value = $3"
                    " RETURNING tenant");
          c.prepare("tenant_delete", "DELETE FROM tenants WHERE name = $1 RETURNING name");
          c.prepare("tenant_waiting",
                    "SELECT count(*) FROM (SELECT FROM tasks WHERE tenant = $1"
                    " AND state IN ('queued', 'scheduled', 'blocked') LIMIT $2) w");
          c.prepare("tenant_schedules", "SELECT count(*) FROM schedules WHERE tenant = $1");
        }) {}

  TenantSettings Get(const std::string& tenant) override {
    auto all = Read(tenant);
    if (!all.empty()) return std::move(all.front());
    TenantSettings none;
    none.name = tenant;
    return none;
  }

  std::vector<TenantSettings> List() override { return Read(""); }

  TenantSettings PutQuotas(const TenantSettings& s) override {
    pool_.Run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      tx.exec_prepared("tenant_put", s.name, s.max_waiting, s.max_schedules, s.min_cron_interval_s,
                       s.weight);
    });
    return Get(s.name);
  }

  void Bind(const std::string& tenant, const std::string& kind, const std::string& value) override {
    const bool exclusive = FindBindingKind(kind).exclusive;
    pool_.Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_prepared("tenant_ensure", tenant);
      try {
        tx.exec_prepared("tenant_bind", tenant, kind, value, exclusive);
      } catch (const pqxx::unique_violation&) {
        throw PermanentError(kind + " '" + value + "' is bound to another tenant; unbind it there first",
                             "value");
      }
      tx.commit();
    });
  }

  bool Unbind(const std::string& tenant, const std::string& kind, const std::string& value) override {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return !tx.exec_prepared("tenant_unbind", tenant, kind, value).empty();
    });
  }

  bool Delete(const std::string& tenant) override {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return !tx.exec_prepared("tenant_delete", tenant).empty();
    });
  }

  int64_t CountWaiting(const std::string& tenant, int64_t at_most) override {
    return Count("tenant_waiting", tenant, std::max<int64_t>(at_most, 0));
  }
  int64_t CountSchedules(const std::string& tenant) override { return Count("tenant_schedules", tenant); }

 private:
  template <typename... Params>
  int64_t Count(const char* statement, const Params&... params) {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return tx.exec_prepared1(statement, params...)[0].template as<int64_t>();
    });
  }

  // `tenant` "" reads every tenant.
  std::vector<TenantSettings> Read(const std::string& tenant) {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);  // one snapshot for both reads
      std::vector<TenantSettings> out;
      std::map<std::string, size_t> index;
      for (const auto& r : tx.exec_prepared("tenant_get", tenant)) {
        TenantSettings s;
        s.name = r[0].as<std::string>();
        s.exists = true;
        s.max_waiting = OptionalInt(r[1]);
        s.max_schedules = OptionalInt(r[2]);
        s.min_cron_interval_s = OptionalInt(r[3]);
        s.weight = OptionalInt(r[4]);
        index[s.name] = out.size();
        out.push_back(std::move(s));
      }
      for (const auto& r : tx.exec_prepared("tenant_bindings", tenant)) {
        auto it = index.find(r[0].as<std::string>());
        if (it == index.end()) continue;
        out[it->second].bindings[r[1].as<std::string>()].push_back(r[2].as<std::string>());
      }
      return out;
    });
  }

  pg::ConnectionPool pool_;
};

}  // namespace

std::unique_ptr<TenantStore> MakePostgresTenantStore(const std::string& database_url,
                                                     size_t max_connections) {
  return std::make_unique<PostgresTenantStore>(database_url, max_connections);
}

}  // namespace fila
