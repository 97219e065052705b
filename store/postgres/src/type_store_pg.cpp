#include "fila/store_postgres/type_store_pg.h"

#include "fila/core/errors.h"
#include "fila/core/type_definition.h"
#include "fila/v1/types.pb.h"
#include "pg_pool.h"

namespace fila {
namespace {

class PostgresTypeStore final : public TypeStore {
 public:
  PostgresTypeStore(const std::string& url, size_t connections)
      : pool_(url, connections, [](pqxx::connection& c) {
          // One writer per type name at a time: versions never collide.
          c.prepare("type_lock", "SELECT pg_advisory_xact_lock(hashtextextended('fila_type:' || $1, 0))");
          c.prepare("type_latest",
                    "SELECT version, definition, deleted_at IS NOT NULL FROM task_types WHERE name = $1"
                    " ORDER BY version DESC LIMIT 1");
          c.prepare("type_insert",
                    "INSERT INTO task_types (name, version, definition) VALUES ($1, $2, decode($3, 'hex'))");
          c.prepare("type_delete",
                    "UPDATE task_types SET deleted_at = now(), definition = decode($3, 'hex')"
                    " WHERE name = $1 AND version = $2 AND deleted_at IS NULL RETURNING name");
          c.prepare("type_all", "SELECT definition FROM task_types ORDER BY name, version");
          c.prepare("type_versions", "SELECT definition FROM task_types WHERE name = $1 ORDER BY version");
          c.prepare("type_now", "SELECT (extract(epoch FROM now()) * 1000)::bigint");
        }) {}

  std::pair<std::string, bool> Apply(const std::string& definition) override {
    const std::string name = SpecFromDefinition(definition).name;
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_prepared("type_lock", name);
      uint32_t version = 1;
      auto latest = tx.exec_prepared("type_latest", name);
      if (!latest.empty()) {
        const std::string stored = pg::Bytes(latest[0][1]);
        if (!latest[0][2].as<bool>() && SameDefinition(stored, definition)) return std::make_pair(stored, false);
        version = latest[0][0].as<uint32_t>() + 1;
      }
      const int64_t now = tx.exec_prepared1("type_now")[0].as<int64_t>();
      const std::string stamped = StampDefinition(definition, version, now, false);
      tx.exec_prepared("type_insert", name, version, pg::Hex(stamped));
      tx.commit();
      return std::make_pair(stamped, true);
    });
  }

  std::vector<std::string> All() override { return Read("type_all", ""); }
  std::vector<std::string> Versions(const std::string& name) override { return Read("type_versions", name); }

  bool Delete(const std::string& name) override {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_prepared("type_lock", name);
      auto latest = tx.exec_prepared("type_latest", name);
      if (latest.empty() || latest[0][2].as<bool>()) return false;
      v1::TaskTypeDefinition d;
      d.ParseFromString(pg::Bytes(latest[0][1]));
      d.set_deleted(true);
      const bool deleted =
          !tx.exec_prepared("type_delete", name, latest[0][0].as<uint32_t>(), pg::Hex(d.SerializeAsString())).empty();
      tx.commit();
      return deleted;
    });
  }

 private:
  std::vector<std::string> Read(const char* statement, const std::string& name) {
    return pool_.Run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      std::vector<std::string> out;
      auto rows = name.empty() ? tx.exec_prepared(statement) : tx.exec_prepared(statement, name);
      for (const auto& r : rows) out.push_back(pg::Bytes(r[0]));
      return out;
    });
  }

  pg::ConnectionPool pool_;
};

}  // namespace

std::unique_ptr<TypeStore> MakePostgresTypeStore(const std::string& database_url, size_t max_connections) {
  return std::make_unique<PostgresTypeStore>(database_url, max_connections);
}

}  // namespace fila
