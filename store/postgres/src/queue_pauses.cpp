// PostgresStore: queue pauses (TaskAdminStore::PauseQueue, ResumeQueue,
// QueuePauses). The claim, the relay's outbox reads and the sampler read
// queue_pauses (migration 0017) in their own statements.
#include "fila/core/task_types.h"
#include "fila/store_postgres/postgres_store.h"
#include "pg_support.h"
#include "store_impl.h"

namespace fila {

const char* const kQueuePausesSql =
    "SELECT queue, paused_by, (extract(epoch FROM paused_at) * 1000)::bigint FROM queue_pauses"
    " ORDER BY queue";

bool PostgresStore::PauseQueue(const std::string& queue, const std::string& by) {
  ValidateQueueName(queue);
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return !tx.exec_params("INSERT INTO queue_pauses (queue, paused_by) VALUES ($1, $2)"
                           " ON CONFLICT (queue) DO NOTHING RETURNING queue",
                           queue, pg::StoredText(by))
                .empty();
  });
}

bool PostgresStore::ResumeQueue(const std::string& queue) {
  ValidateQueueName(queue);
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    const bool resumed =
        !tx.exec_params("DELETE FROM queue_pauses WHERE queue = $1 RETURNING queue", queue).empty();
    // The relay sleeps until an outbox row is written; the queue's rows
    // were written while it was paused.
    if (resumed) tx.exec("SELECT pg_notify('fila_outbox', '')");
    tx.commit();
    return resumed;
  });
}

std::vector<QueuePause> PostgresStore::QueuePauses() {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<QueuePause> out;
    for (const auto& r : tx.exec(kQueuePausesSql)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<int64_t>()});
    }
    return out;
  });
}

}  // namespace fila
