#include "fila/store_postgres/migrator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "fila/core/errors.h"
#include "fila/migrations/migrations.h"
#include "pg_support.h"

namespace fila {
namespace {

// Arbitrary but fixed: every fila migrator takes the same lock.
constexpr int64_t kMigrationLockKey = 0x66696c616d6967;  // "filamig"

const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

}  // namespace

int RequiredSchemaVersion() {
  const auto& all = Migrations();
  return all.empty() ? 0 : all.back().version;
}

struct Migrator::Impl {
  std::string url;

  // Runs `fn` on a fresh connection holding the migration lock.
  template <typename Fn>
  auto Locked(Fn&& fn) {
    bool broken = false;
    try {
      // No default statement_timeout: a migration may rewrite a large
      // table, and the lock waits for a concurrent migrator.
      auto conn = pg::Open(url, pg::StatementTimeout::kNone);
      {
        pqxx::nontransaction tx(*conn);
        // Lock first: concurrent CREATE TABLE IF NOT EXISTS can still collide.
        tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
        tx.exec(kCreateTable);
      }
      // The lock is session-level and dies with the connection, so an
      // exception below cannot leave it held.
      return fn(*conn);
    } catch (...) {
      pg::Translate(broken);
    }
  }

  static std::vector<int> Applied(pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    std::vector<int> versions;
    for (const auto& r : tx.exec("SELECT version FROM schema_migrations ORDER BY version")) {
      versions.push_back(r[0].as<int>());
    }
    return versions;
  }
};

Migrator::Migrator(std::string url) : impl_(std::make_unique<Impl>()) {
  impl_->url = std::move(url);
}

Migrator::~Migrator() = default;

std::vector<int> Migrator::Up() {
  return impl_->Locked([](pqxx::connection& conn) {
    auto applied = Impl::Applied(conn);
    std::vector<int> done;
    for (const auto& m : Migrations()) {
      if (std::find(applied.begin(), applied.end(), m.version) != applied.end()) continue;
      pqxx::work tx(conn);
      tx.exec(std::string(m.up_sql));
      tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                     std::string(m.name));
      tx.commit();
      spdlog::info("applied migration {:04d}_{}", m.version, m.name);
      done.push_back(m.version);
    }
    return done;
  });
}

std::optional<int> Migrator::Down() {
  return impl_->Locked([](pqxx::connection& conn) -> std::optional<int> {
    auto applied = Impl::Applied(conn);
    if (applied.empty()) return std::nullopt;
    const int newest = applied.back();
    const auto& all = Migrations();
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const Migration& m) { return m.version == newest; });
    if (it == all.end()) {
      throw PermanentError("migration " + std::to_string(newest) +
                           " is applied but unknown to this build; use the build that applied it");
    }
    pqxx::work tx(conn);
    tx.exec(std::string(it->down_sql));
    tx.exec_params("DELETE FROM schema_migrations WHERE version = $1", newest);
    tx.commit();
    spdlog::info("reverted migration {:04d}_{}", it->version, it->name);
    return newest;
  });
}

std::vector<MigrationStatus> Migrator::Status() {
  return impl_->Locked([](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    std::vector<MigrationStatus> out;
    for (const auto& m : Migrations()) {
      auto rows = tx.exec_params(
          "SELECT to_char(applied_at, 'YYYY-MM-DD HH24:MI:SS') FROM schema_migrations "
          "WHERE version = $1",
          m.version);
      MigrationStatus s{m.version, std::string(m.name), !rows.empty(),
                        rows.empty() ? std::string() : rows[0][0].as<std::string>()};
      out.push_back(std::move(s));
    }
    return out;
  });
}

}  // namespace fila
