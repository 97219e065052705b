// PostgresStore::EnqueueEach: independent enqueues (the API's group commit,
// the ingest's batches) in one transaction and one commit, each task
// answered on its own.
#include <algorithm>
#include <optional>

#include "fila/core/errors.h"
#include "store_impl.h"

namespace fila {
namespace {

// A concurrent enqueue with the same idempotency key may commit after a
// statement's snapshot: a new statement sees it (see Enqueue).
constexpr int kRaceRetries = 5;

// The error being handled, translated, when it is one task's fault (a
// PermanentError: a bad dependency, a row or trigger the database
// refused); null when it concerns the whole transaction (connection lost,
// timeout, serialization): the caller rethrows the original then.
std::exception_ptr TaskFault() {
  bool broken = false;
  try {
    pg::Translate(broken);
  } catch (const PermanentError&) {
    return std::current_exception();
  } catch (...) {
  }
  return nullptr;
}

// Every task of `tasks` under its own savepoint: a task that fails rolls
// back alone. One statement (or two, with dependencies) per task.
std::vector<EnqueueOutcome> EnqueueOneByOne(pqxx::connection& c, std::span<const NewTask> tasks) {
  pqxx::work tx(c);
  std::vector<EnqueueOutcome> out(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (int race = 1;; ++race) {
      std::optional<std::vector<EnqueueResult>> one;
      std::exception_ptr fault;
      // Savepoints by hand: under pqxx::subtransaction (libpqxx 6.4) a
      // refused task's rows stayed (the conformance tests caught it).
      tx.exec("SAVEPOINT enqueue_each");
      try {
        one = EnqueueIn(tx, tasks.subspan(i, 1));
      } catch (...) {
        fault = TaskFault();
        if (!fault) throw;
      }
      tx.exec(one ? "RELEASE SAVEPOINT enqueue_each" : "ROLLBACK TO SAVEPOINT enqueue_each");
      if (fault) {
        out[i].error = fault;
        break;
      }
      if (one) {
        out[i].result = one->at(0);
        break;
      }
      if (race == kRaceRetries) {
        throw TransientError("idempotency key kept racing with concurrent enqueues");
      }
    }
  }
  tx.commit();
  return out;
}

// The whole group as one statement under a `Tx` of its own: most groups
// hold no bad task, and one statement costs far less than a savepoint per
// task. Empty when a task's PermanentError or a lost idempotency race
// refused it; nothing of it is then committed.
template <typename Tx>
std::optional<std::vector<EnqueueResult>> EnqueueWhole(pqxx::connection& c, std::span<const NewTask> tasks) {
  Tx tx(c);
  std::optional<std::vector<EnqueueResult>> all;
  try {
    all = EnqueueIn(tx, tasks);
  } catch (...) {
    if (!TaskFault()) throw;
  }
  if (all) tx.commit();
  return all;
}

}  // namespace

std::vector<EnqueueOutcome> PostgresStore::EnqueueEach(std::span<const NewTask> tasks) {
  if (tasks.empty()) return {};
  // The enqueue reaches existing tasks by key only (an idempotency key's,
  // a parent's root): a generic plan serves. Dependencies bring in
  // statements that join whole sets of tasks; those keep auto.
  const bool deps = std::ranges::any_of(tasks, [](const NewTask& t) { return !t.depends_on.empty(); });
  const Plans plans = deps ? Plans::kAuto : Plans::kGeneric;
  // Without dependencies or idempotency keys the group is one statement,
  // atomic in autocommit: one round trip instead of three (BEGIN, COMMIT).
  // A key needs the transaction: a lost race shows only in the statement's
  // result, and must be rolled back.
  const bool one_statement =
      !deps && std::ranges::none_of(tasks, [](const NewTask& t) { return !t.idempotency_key.empty(); });
  for (int attempt = 1;; ++attempt) {
    auto outcomes = impl_->Run([&](pqxx::connection& c) -> std::optional<std::vector<EnqueueOutcome>> {
      auto all = one_statement ? EnqueueWhole<pqxx::nontransaction>(c, tasks)
                               : EnqueueWhole<pqxx::work>(c, tasks);
      if (all) {
        std::vector<EnqueueOutcome> out;
        out.reserve(all->size());
        for (auto& r : *all) out.push_back({std::move(r), nullptr});
        return out;
      }
      // A task's fault, or a lost idempotency race (which the one-by-one
      // path retries per task): each task under its own savepoint.
      return EnqueueOneByOne(c, tasks);
    }, plans);
    if (outcomes) return std::move(*outcomes);
    if (attempt == kRaceRetries) {
      throw TransientError("idempotency key kept racing with concurrent enqueues");
    }
  }
}

}  // namespace fila
