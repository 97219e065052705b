// The store contract on PostgreSQL: a fresh migrated database per test
// (scripts/stack), the database's own clock.
#include <thread>

#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/tenant_store_pg.h"
#include "store_conformance.h"
#include "support/harness.h"

namespace fila::test {
namespace {

class PostgresHarness final : public StoreHarness {
 public:
  PostgresHarness() : store_(db_.url()) {}
  StateStore& Store() override { return store_; }
  void Advance(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
  bool ControlsTime() const override { return false; }
  void SetTenantWeight(const std::string& tenant, int64_t weight) override {
    auto tenants = MakePostgresTenantStore(db_.url(), 1);
    TenantSettings s = tenants->Get(tenant);
    s.weight = weight;
    tenants->PutQuotas(s);
  }

 private:
  TestDatabase db_;
  PostgresStore store_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformance,
                         ::testing::Values(StoreKind{"postgres", [] {
                           return std::unique_ptr<StoreHarness>(new PostgresHarness);
                         }}),
                         StoreKindName);

}  // namespace
}  // namespace fila::test
