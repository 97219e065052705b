// PostgresStore: the fair dispatch of the outbox (LeaderStore::FetchDispatch,
// docs/fairness.md). Never a scan of the outbox, which may hold a million
// rows: the (queue, priority, tenant) groups are found by a loose index scan
// of outbox_dispatch (migration 0014), one probe per group, and each group is
// read from its head in id order. PlanDispatch (core) makes the choice.
#include <algorithm>
#include <set>
#include <unordered_map>

#include "fila/core/dispatch.h"
#include "fila/store_postgres/postgres_store.h"
#include "pg_support.h"
#include "store_impl.h"

namespace fila {
namespace {

// The rows of one group that a pass may look at: not skipped.
constexpr const char* kGroupRows =
    "o.queue = g.queue AND o.priority = g.priority AND o.tenant = g.tenant"
    " AND o.id <> ALL($1::bigint[])";

}  // namespace

const std::map<std::string, std::string>& DispatchStatements() {
  static const std::map<std::string, std::string> kStatements{
      // Each group of a queue not paused with its head (oldest row not
      // skipped) and its rows, up to what this pass could take of its
      // queue ($2, $3: queues and their caps; $4 the cap of any other
      // queue): their ids, then when each became queued (each row ranks by
      // its own wait), in one array (one subquery: with two, PostgreSQL
      // planned the statement again at a pass in four). And the clock the
      // waits are measured with, and whether another tenant has tasks
      // running in the queue: two probes of tasks_running_queue_tenant
      // (migration 0022), whatever the number of running tasks.
      {"dispatch_groups", std::string(R"(
WITH RECURSIVE g AS (
  (SELECT queue, priority, tenant FROM outbox ORDER BY queue, priority, tenant LIMIT 1)
  UNION ALL
  SELECT n.queue, n.priority, n.tenant FROM g CROSS JOIN LATERAL (
    SELECT o.queue, o.priority, o.tenant FROM outbox o
    WHERE (o.queue, o.priority, o.tenant) > (g.queue, g.priority, g.tenant)
    ORDER BY o.queue, o.priority, o.tenant LIMIT 1) n
), caps AS (
  SELECT * FROM unnest($2::text[], $3::bigint[]) AS c(queue, n)
)
SELECT g.queue, g.priority, g.tenant, h.id, (extract(epoch FROM h.created_at) * 1000)::bigint,
       (SELECT array_agg(x.id ORDER BY x.id) || array_agg(x.ms ORDER BY x.id) FROM (
          SELECT o.id, (extract(epoch FROM o.created_at) * 1000)::bigint AS ms FROM outbox o
          WHERE )") + kGroupRows + R"(
          ORDER BY o.id LIMIT coalesce((SELECT c.n FROM caps c WHERE c.queue = g.queue), $4)) x),
       (extract(epoch FROM now()) * 1000)::bigint,
       EXISTS (SELECT 1 FROM tasks t WHERE t.state = 'running' AND t.queue = g.queue
               AND t.tenant < g.tenant)
         OR EXISTS (SELECT 1 FROM tasks t WHERE t.state = 'running' AND t.queue = g.queue
                    AND t.tenant > g.tenant)
FROM g CROSS JOIN LATERAL (
  SELECT o.id, o.created_at FROM outbox o WHERE )" + kGroupRows + R"( ORDER BY o.id LIMIT 1) h
WHERE NOT EXISTS (SELECT 1 FROM queue_pauses p WHERE p.queue = g.queue))"},
      // Usage and weights in one round trip (a contested pass ran three,
      // each waiting its turn under a flood): 'b' rows are the tasks handed
      // to the broker ($1) that no worker claimed yet (by primary key only:
      // see the claim's `state || ''`), 'r' rows the running tasks of the
      // queues ($2) by tenant, 'w' rows the weights of the tenants ($3) and
      // of those with tasks running there (read once, in `r`).
      {"dispatch_usage",
       "WITH r AS (SELECT queue, tenant, count(*) AS n FROM tasks WHERE state = 'running'"
       " AND queue = ANY($2::text[]) GROUP BY queue, tenant)"
       " SELECT 'b', id::text, queue, tenant, 1::bigint FROM tasks"
       " WHERE id = ANY($1::uuid[]) AND state || '' = 'queued'"
       " UNION ALL SELECT 'r', '', queue, tenant, n FROM r"
       " UNION ALL SELECT 'w', name, '', '', coalesce(weight, 1)::bigint FROM tenants"
       " WHERE name = ANY($3::text[]) OR name IN (SELECT tenant FROM r)"},
      // The chosen rows ($1, ids dispatch_groups read), with their tasks:
      // by primary key, so nothing to skip and next to nothing to plan
      // (reading each group's first rows again, past the rows in flight,
      // took longer to plan than to run).
      {"dispatch_rows", std::string(R"(
SELECT o.id, (extract(epoch FROM o.created_at) * 1000)::bigint, t.id, t.type, t.queue,
       t.priority, t.attempt, t.max_attempts, t.timeout_ms, t.tenant,
       coalesce(t.idempotency_key, ''), t.payload, t.trace_id,
       (extract(epoch FROM t.created_at) * 1000)::bigint, t.state, t.type_version
FROM (SELECT o.id, o.created_at, o.task_id FROM outbox o WHERE o.id = ANY($1::bigint[])) o
)") + kTaskOfOutboxRow + "ORDER BY o.id"},
      // Of the tasks sent to an express lane ($1: ids the relay read from
      // the tasks table), those that may still hold an express slot: by
      // primary key only (`state || ''`, as dispatch_usage: a bare state
      // test lets the planner pick a partial index of every queued or
      // running task).
      {"queued_or_running",
       "SELECT id::text FROM tasks WHERE id = ANY($1::uuid[])"
       " AND state || '' IN ('queued', 'running')"},
      // As republish_stale (reconcile.cpp), by id: each task at most once.
      {"republish",
       "WITH upd AS ("
       "  UPDATE tasks t SET updated_at = now()"
       "  WHERE t.id = ANY($1::uuid[]) AND t.state || '' = 'queued'"
       "    AND t.id NOT IN (SELECT o.task_id FROM outbox o)"
       "  RETURNING t.id"
       ") INSERT INTO outbox (task_id) SELECT id FROM upd RETURNING task_id::text"},
  };
  return kStatements;
}

namespace {

// `statement` on the task ids `ids` (one statement, atomic in autocommit),
// and the ids it returns. `Store`: the store's (private) Impl.
template <typename Store>
std::vector<std::string> IdsOf(Store& store, const char* statement, const std::vector<std::string>& ids) {
  if (ids.empty()) return {};
  return store.Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<std::string> out;
    for (const auto& r : tx.exec_prepared(statement, pg::ArrayLiteral(ids))) out.push_back(r[0].as<std::string>());
    return out;
  });
}

}  // namespace

std::vector<std::string> PostgresStore::QueuedOrRunning(const std::vector<std::string>& ids) {
  return IdsOf(*impl_, "queued_or_running", ids);
}

std::vector<std::string> PostgresStore::Republish(const std::vector<std::string>& ids) {
  return IdsOf(*impl_, "republish", ids);
}

DispatchResult PostgresStore::FetchDispatch(const DispatchRequest& request) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    DispatchResult out;
    const std::string skip = pg::IntArrayLiteral<int64_t>(request.skip);
    std::vector<std::string> cap_queues;
    std::vector<int64_t> caps;
    for (const auto& [queue, room] : request.room) {
      cap_queues.push_back(queue);
      // One more than a pass may take (a tenant below its share may take
      // kPastWindowRows past a full window): whether rows are left behind.
      caps.push_back(std::min<int64_t>(std::max<int64_t>(room, 0) + kPastWindowRows, request.limit) + 1);
    }
    const int64_t other_cap = request.bounded ? 0 : request.limit;
    std::vector<DispatchGroup> groups;
    std::vector<std::vector<int64_t>> ids_of;  // per group, its rows' ids as read
    int64_t now_ms = 0;
    std::set<std::string> others_run;  // queues where a tenant without rows has tasks running
    for (const auto& r : tx.exec_prepared("dispatch_groups", skip, pg::ArrayLiteral(cap_queues),
                                          pg::IntArrayLiteral<int64_t>(caps), other_cap)) {
      DispatchGroup g;
      g.queue = r[0].as<std::string>();
      g.priority = r[1].as<uint32_t>();
      g.tenant = r[2].as<std::string>();
      g.head_id = r[3].as<int64_t>();
      g.head_created_ms = r[4].as<int64_t>();
      std::vector<int64_t> ids = pg::Int64Array(r[5]);  // ids, then their times
      const auto half = static_cast<std::ptrdiff_t>(ids.size() / 2);
      g.created_ms.assign(ids.begin() + half, ids.end());
      ids.resize(static_cast<size_t>(half));
      ids_of.push_back(std::move(ids));
      g.rows = static_cast<int64_t>(g.created_ms.size());
      now_ms = r[6].as<int64_t>();
      if (r[7].as<bool>()) others_run.insert(g.queue);
      groups.push_back(std::move(g));
    }
    if (request.bounded) {
      std::set<std::string> unknown;
      for (const auto& g : groups) {
        if (!request.room.contains(g.queue)) unknown.insert(g.queue);
      }
      out.unknown_queues.assign(unknown.begin(), unknown.end());
    }
    // Usage and weights matter only where tenants compete: a queue whose
    // rows are one tenant's, with no other tenant's tasks running, is
    // served in priority and id order anyway.
    std::map<std::pair<std::string, std::string>, TenantShare> shares;
    std::map<std::string, std::set<std::string>> tenants_of;
    for (const auto& g : groups) tenants_of[g.queue].insert(g.tenant);
    std::vector<std::string> contested, tenants;
    std::set<std::string> all_tenants;
    for (const auto& [queue, ts] : tenants_of) {
      if (ts.size() < 2 && !others_run.contains(queue)) continue;
      contested.push_back(queue);
      all_tenants.insert(ts.begin(), ts.end());
    }
    tenants.assign(all_tenants.begin(), all_tenants.end());
    // Uncontested, the ledger of tasks in the broker is not read (a lookup
    // of every id per pass) and the caller forgets it (out.in_broker stays
    // empty).
    if (!contested.empty()) {
      const std::set<std::string> ahead(request.in_broker_ahead.begin(), request.in_broker_ahead.end());
      std::map<std::string, int64_t> weights;
      for (const auto& r : tx.exec_prepared("dispatch_usage", pg::ArrayLiteral(request.in_broker),
                                            pg::ArrayLiteral(contested), pg::ArrayLiteral(tenants))) {
        const char kind = r[0].c_str()[0];
        if (kind == 'w') {
          weights[r[1].as<std::string>()] = r[4].as<int64_t>();
          continue;
        }
        TenantShare& share = shares[{r[2].as<std::string>(), r[3].as<std::string>()}];
        const auto n = r[4].as<int64_t>();
        share.usage += n;
        if (kind == 'r') {
          share.serving += n;
        } else {
          out.in_broker.push_back(r[1].as<std::string>());
          if (ahead.contains(out.in_broker.back())) ++share.serving;
        }
      }
      for (const auto& queue : contested) {
        for (const auto& tenant : tenants_of[queue]) shares[{queue, tenant}];
      }
      for (auto& [key, share] : shares) {
        auto it = weights.find(key.second);
        share.weight = it == weights.end() ? 1 : it->second;
      }
    }
    auto plan = PlanDispatch(request, groups, shares, now_ms);
    out.full_queues = std::move(plan.full_queues);
    out.held_queues = std::move(plan.held_queues);
    out.backlog = std::move(plan.backlog);
    out.top_priority = plan.top_priority;
    const auto& picks = plan.picks;
    if (picks.empty()) return out;
    // The first rows of each group, as many as the plan took of it. A row
    // deleted since (its task cancelled) comes back no more: the pass
    // publishes one fewer.
    std::vector<int64_t> taken(groups.size(), 0);
    for (const auto& p : picks) ++taken[p.group];
    std::unordered_map<int64_t, size_t> group_of;
    std::vector<int64_t> chosen;
    for (size_t i = 0; i < groups.size(); ++i) {
      const auto n = std::min<size_t>(static_cast<size_t>(taken[i]), ids_of[i].size());
      for (size_t k = 0; k < n; ++k) {
        group_of.emplace(ids_of[i][k], i);
        chosen.push_back(ids_of[i][k]);
      }
    }
    std::vector<std::vector<OutboxItem>> rows(groups.size());
    for (const auto& r : tx.exec_prepared("dispatch_rows", pg::IntArrayLiteral<int64_t>(chosen))) {
      OutboxItem item;
      item.outbox_id = r[0].as<int64_t>();
      const size_t group = group_of.at(item.outbox_id);
      const int64_t created_ms = r[1].as<int64_t>();
      item.queued_ms = created_ms;
      item.envelope = EnvelopeFromRow(r, 2);
      const Envelope& e = item.envelope;
      // Each row's own wait: younger rows of an aged group may rank lower.
      // (A task no longer queued has an empty queue: its priority is moot.)
      item.publish_priority =
          plan.PublishPriority(e.queue, e.priority, now_ms - created_ms, request.AgingOf(e.queue));
      rows[group].push_back(std::move(item));
    }
    std::vector<size_t> next(groups.size(), 0);
    for (const auto& p : picks) {
      if (next[p.group] < rows[p.group].size()) {
        out.items.push_back(std::move(rows[p.group][next[p.group]++]));
        out.items.back().ahead = p.ahead;
      }
    }
    return out;
  });
}

}  // namespace fila
