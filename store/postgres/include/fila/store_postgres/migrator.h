#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fila {

struct MigrationStatus {
  int version = 0;
  std::string name;
  bool applied = false;
  std::string applied_at;  // empty when not applied
};

// Applies migrations/*.sql (compiled in). Holds a Postgres advisory lock
// while migrating, so concurrent `fila migrate up` runs apply each
// migration once; each migration and its schema_migrations row commit in
// one transaction. Throws TransientError when the database is unreachable.
class Migrator final {
 public:
  explicit Migrator(std::string url);
  ~Migrator();

  // Applies every pending migration; returns the versions applied.
  std::vector<int> Up();
  // Reverts the newest applied migration; returns its version, if any.
  std::optional<int> Down();
  std::vector<MigrationStatus> Status();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The schema version this build needs: its newest migration.
int RequiredSchemaVersion();

}  // namespace fila
