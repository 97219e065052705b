#pragma once

// The Postgres store's connection state, shared by its translation units.

#include <pqxx/pqxx>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "fila/store_postgres/postgres_store.h"
#include "pg_support.h"

namespace fila {

// The columns ReadTask reads, of `tasks t` (postgres_store.cpp).
const std::string& TaskColumns();
// Every running task with its worker (monitor.cpp; GET /v1/workers).
const std::string& RunningTasksStatement();

// Statements prepared on every (re)connection.
const std::map<std::string, std::string>& Statements();
const std::map<std::string, std::string>& WorkflowStatements();   // workflow.cpp
const std::map<std::string, std::string>& ScheduleStatements();   // schedules.cpp
const std::map<std::string, std::string>& ReconcileStatements();  // reconcile.cpp

// The message of an outbox row from the task's columns starting at `at`:
// id, type, queue, priority, attempt, max_attempts, timeout_ms, tenant,
// idempotency key, payload, trace id, created (ms), state, type_version.
// A task no longer queued needs no message: its queue is left empty, and
// its outbox row is deleted unpublished.
Envelope EnvelopeFromRow(const pqxx::row& r, int at);  // postgres_store.cpp
// The task (t) of each outbox row (o), by its primary key. A plain join
// let a planner without statistics (a new database: a deployment's first
// minute, every benchmark) hash the whole tasks table for every fetch (seen
// in a benchmark's database); LIMIT 1 keeps the subquery from being
// flattened into that join: one index probe per row.
inline constexpr const char* kTaskOfOutboxRow =
    " CROSS JOIN LATERAL (SELECT * FROM tasks t WHERE t.id = o.task_id LIMIT 1) t ";
const std::map<std::string, std::string>& DispatchStatements();   // dispatch_pg.cpp
// Every pause: queue, paused_by, paused_at (ms); queue_pauses.cpp.
extern const char* const kQueuePausesSql;

// A row of the claim statements (claim, limit_claim): id, attempt,
// max_attempts, timeout_ms, retry_base_ms, retry_cap_ms, created and due ms.
ClaimedTask ReadClaimed(const pqxx::row& row);

// workflow.cpp: inserts `tasks` (with their dependencies and outbox rows)
// inside `tx`. Empty when an idempotency key raced with a concurrent
// enqueue: roll back and retry. PermanentError for a dependency that is not
// a task of the same tenant.
std::optional<std::vector<EnqueueResult>> EnqueueIn(pqxx::transaction_base& tx,
                                                    std::span<const NewTask> tasks);

// workflow.cpp: admits the queued tasks of limited keys (`ids`) inside `tx`
// (the claim's transaction) or defers them; adds what became of each to
// `result`.
void AdmitLimitedIn(pqxx::transaction_base& tx, const std::vector<std::string>& ids,
                    const std::string& worker, uint32_t lease_ms, ClaimResult& result);

// The guarded finish statement for `records` inside `tx` (postgres_store.cpp):
// the one place finishes are written, their texts cut (pg::StoredText).
// Returns the (id, attempt) rows whose fence matched.
pqxx::result ExecFinish(pqxx::transaction_base& tx, std::span<const FinishRecord* const> records);

// How the statements of a call are planned. kAuto: PostgreSQL's choice
// (plan_cache_mode auto). kGeneric: one generic plan per prepared
// statement, and no sequential scan where an index serves (enable_seqscan
// off), for calls whose every statement reaches its rows by key. Under
// auto, the claim and the enqueue were planned again at nearly every run:
// their arrays of one or two tasks made a custom plan look cheaper than
// the generic one, whose estimate assumes more. That planning cost more
// than the runs (the noisy-neighbour benchmark: the claim 7.3 s planning
// against 3.9 s running, the enqueue 5.3 s against 4.7 s;
// pg_stat_statements). A generic plan lives until the next replan
// (ReplanEvery): one made while tasks was empty scanned it whole, which
// enable_seqscan off rules out.
enum class Plans { kAuto, kGeneric };

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, const std::string& channel, bool& flag,
           std::vector<std::string>& payloads)
      : pqxx::notification_receiver(conn, channel), flag_(flag), payloads_(payloads) {}
  void operator()(const std::string& payload, int) override {
    flag_ = true;
    if (!payload.empty()) payloads_.push_back(payload);
  }

 private:
  bool& flag_;
  std::vector<std::string>& payloads_;
};

struct PostgresStore::Impl {
  std::string url;
  std::unique_ptr<pqxx::connection> conn;
  std::vector<std::string> channels;
  std::vector<std::unique_ptr<Receiver>> receivers;
  bool notified = false;
  std::vector<std::string> payloads;
  bool leader = false;
  bool reconnected = false;
  bool connected_once = false;
  // Lost tasks the database refused to take back, already logged.
  std::set<std::string> refused_reaps;
  // PostgresStore::ReplanEvery.
  std::chrono::milliseconds replan_every{10000};
  std::chrono::steady_clock::time_point replan_at{};
  // The session's planner settings as this store last set them (UsePlans).
  Plans plans = Plans::kAuto;

  pqxx::connection& Conn() {
    if (!conn) {
      receivers.clear();
      leader = false;
      conn = pg::Open(url);
      reconnected = connected_once;
      connected_once = true;
      for (const auto* statements : {&Statements(), &WorkflowStatements(), &ScheduleStatements(),
                                     &ReconcileStatements(), &DispatchStatements()}) {
        for (const auto& [name, sql] : *statements) conn->prepare(name, sql);
      }
      for (const auto& channel : channels) {
        receivers.push_back(std::make_unique<Receiver>(*conn, channel, notified, payloads));
      }
      replan_at = std::chrono::steady_clock::now() + replan_every;
      plans = Plans::kAuto;
    }
    return *conn;
  }

  // Sets the session's planner settings for what runs next, outside any
  // transaction (a SET inside one would be undone by its rollback); a
  // round trip only when they change.
  void UsePlans(pqxx::connection& c, Plans wanted) {
    if (plans == wanted) return;
    pqxx::nontransaction tx(c);
    tx.exec(wanted == Plans::kGeneric
                ? "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off"
                : "RESET plan_cache_mode; RESET enable_seqscan");
    plans = wanted;
  }

  // A prepared statement keeps its plan until its tables' statistics
  // change, and a new table gets its first ones up to a minute after it
  // filled (autovacuum): a plan made while tasks was nearly empty then
  // reached 16 tasks through an index of every waiting one. Dropping the
  // plans every replan_every (statements stay prepared) makes the next run
  // plan again for the table as it is now.
  void ReplanIfDue(pqxx::connection& c) {
    if (replan_every.count() <= 0 || std::chrono::steady_clock::now() < replan_at) return;
    pqxx::nontransaction tx(c);
    tx.exec("DISCARD PLANS");
    replan_at = std::chrono::steady_clock::now() + replan_every;
  }

  // Runs `fn` under `plans` and translates library errors; a lost
  // connection is dropped so the next call reconnects.
  template <typename Fn>
  auto Run(Fn&& fn, Plans with = Plans::kAuto) -> decltype(fn(std::declval<pqxx::connection&>())) {
    bool broken = false;
    try {
      pqxx::connection& c = Conn();
      ReplanIfDue(c);
      UsePlans(c, with);
      return fn(c);
    } catch (...) {
      try {
        pg::Translate(broken);
      } catch (...) {
        if (broken) {
          receivers.clear();
          conn.reset();
          leader = false;
        }
        throw;
      }
    }
  }
};

}  // namespace fila
