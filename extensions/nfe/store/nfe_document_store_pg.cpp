#include "fila/nfe/nfe_document_store_pg.h"

#include <algorithm>

#include "fila/core/errors.h"
#include "pg_pool.h"
#include "pg_support.h"

namespace fila {
namespace {

constexpr const char* kUpsert = "nfe_upsert";

class PostgresNfeDocumentStore final : public nfe::DocumentStore {
 public:
  PostgresNfeDocumentStore(std::string url, size_t max_connections)
      : pool_(std::move(url), std::max<size_t>(1, max_connections), [](pqxx::connection& c) {
          c.prepare(kUpsert,
                    "INSERT INTO nfe_documents (tenant, account, doc_key, period, omie_id, kind, path, sha256, "
                    "size_bytes, valid, failed_checks, task_id) "
                    "SELECT coalesce((SELECT tenant FROM tasks WHERE id::text = $1), 'default'), $2, $3, $4, $5, "
                    "$6, $7, $8, $9, $10, $11::text[], "
                    "(SELECT id FROM tasks WHERE id::text = $1) "
                    "ON CONFLICT (tenant, account, doc_key) DO UPDATE SET period = EXCLUDED.period, "
                    "omie_id = EXCLUDED.omie_id, kind = EXCLUDED.kind, path = EXCLUDED.path, "
                    "sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes, valid = EXCLUDED.valid, "
                    "failed_checks = EXCLUDED.failed_checks, task_id = EXCLUDED.task_id, updated_at = now()");
        }) {}

  void Upsert(const nfe::DocumentRow& row) override {
    pool_.Run([&](pqxx::connection& conn) {
      pqxx::work tx(conn);
      // A task id that is not a uuid (tests) or not a task leaves the
      // default tenant.
      tx.exec_prepared(kUpsert, row.task_id, row.account, row.doc_key, row.period, row.omie_id, row.kind,
                       row.path, row.sha256, row.size_bytes, row.valid, pg::ArrayLiteral(row.failed_checks));
      tx.commit();
    });
  }

 private:
  pg::ConnectionPool pool_;
};

}  // namespace

std::unique_ptr<nfe::DocumentStore> MakePostgresNfeDocumentStore(std::string url, size_t max_connections) {
  return std::make_unique<PostgresNfeDocumentStore>(std::move(url), max_connections);
}

}  // namespace fila
