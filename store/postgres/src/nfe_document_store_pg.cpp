#include "fila/nfe_document_store_pg.h"

#include <condition_variable>
#include <mutex>
#include <vector>

#include "fila/errors.h"
#include "pg_support.h"

namespace fila {
namespace {

constexpr const char* kUpsert = "nfe_upsert";

class PostgresNfeDocumentStore final : public nfe::DocumentStore {
 public:
  PostgresNfeDocumentStore(std::string url, size_t max_connections)
      : url_(std::move(url)), max_(std::max<size_t>(1, max_connections)) {}

  void Upsert(const nfe::DocumentRow& row) override {
    auto conn = Take();
    bool broken = false;
    try {
      pqxx::work tx(*conn);
      // A task id that is not a uuid (tests) or not a task leaves the
      // default tenant.
      tx.exec_prepared(kUpsert, row.task_id, row.account, row.doc_key, row.period, row.omie_id, row.kind,
                       row.path, row.sha256, row.size_bytes, row.valid, pg::ArrayLiteral(row.failed_checks));
      tx.commit();
    } catch (...) {
      try {
        pg::Translate(broken);
      } catch (...) {
        Give(std::move(conn), broken);
        throw;
      }
    }
    Give(std::move(conn), false);
  }

 private:
  std::unique_ptr<pqxx::connection> Take() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;
    lock.unlock();
    try {
      auto conn = pg::Open(url_);
      conn->prepare(kUpsert,
                    "INSERT INTO nfe_documents (tenant, account, doc_key, period, omie_id, kind, path, sha256, "
                    "size_bytes, valid, failed_checks, task_id) "
                    "SELECT coalesce((SELECT tenant FROM tasks WHERE id::text = $1), 'default'), $2, $3, $4, $5, "
                    "$6, $7, $8, $9, $10, $11::text[], "
                    "(SELECT id FROM tasks WHERE id::text = $1) "
                    "ON CONFLICT (tenant, account, doc_key) DO UPDATE SET period = EXCLUDED.period, "
                    "omie_id = EXCLUDED.omie_id, kind = EXCLUDED.kind, path = EXCLUDED.path, "
                    "sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes, valid = EXCLUDED.valid, "
                    "failed_checks = EXCLUDED.failed_checks, task_id = EXCLUDED.task_id, updated_at = now()");
      return conn;
    } catch (...) {
      std::lock_guard guard(mutex_);
      --open_;
      available_.notify_one();
      bool broken = false;
      pg::Translate(broken);
    }
  }

  void Give(std::unique_ptr<pqxx::connection> conn, bool broken) {
    std::lock_guard lock(mutex_);
    if (broken || !conn || !conn->is_open()) {
      --open_;
    } else {
      idle_.push_back(std::move(conn));
    }
    available_.notify_one();
  }

  std::string url_;
  size_t max_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  size_t open_ = 0;
};

}  // namespace

std::unique_ptr<nfe::DocumentStore> MakePostgresNfeDocumentStore(std::string url, size_t max_connections) {
  return std::make_unique<PostgresNfeDocumentStore>(std::move(url), max_connections);
}

}  // namespace fila
