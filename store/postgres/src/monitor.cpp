// Read-only views for monitoring: the scheduler's queue gauges and what
// `fila top` shows.

#include <algorithm>
#include <map>
#include <tuple>

#include "store_impl.h"

namespace fila {

void PostgresStore::Ping() {
  impl_->Run([](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec("SELECT 1");
  });
}

PostgresStore::Sample PostgresStore::SampleQueues(uint32_t worker_timeout_ms) {
  return impl_->Run([&](pqxx::connection& c) {
    // One snapshot, so the numbers agree with each other.
    pqxx::read_transaction tx(c);
    Sample sample;
    std::map<std::string, QueueSample> queues;
    // The partial index tasks_active covers exactly these states.
    // By tenant too (one scan): the API's backpressure weighs each
    // tenant's share of the queued tasks.
    for (const auto& r : tx.exec(
             "SELECT queue, state, tenant, count(*) FROM tasks"
             " WHERE state IN ('queued', 'scheduled', 'running', 'blocked')"
             " GROUP BY queue, state, tenant")) {
      auto& q = queues[r[0].as<std::string>()];
      const auto state = r[1].as<std::string>();
      const auto n = r[3].as<int64_t>();
      if (state == "queued") {
        q.queued += n;
        sample.queued_by_tenant[r[2].as<std::string>()] += n;
      }
      if (state == "scheduled") q.scheduled += n;
      if (state == "running") q.running += n;
      if (state == "blocked") q.blocked += n;
    }
    for (const auto& r : tx.exec(
             "SELECT queue, greatest(extract(epoch FROM now() - min(run_at)), 0)::float8"
             " FROM tasks WHERE state = 'queued' GROUP BY queue")) {
      queues[r[0].as<std::string>()].oldest_queued_age_seconds = r[1].as<double>();
    }
    // Who consumes each queue: a queue with tasks and no live consumer
    // waits forever, silently, unless someone watches this.
    for (const auto& r : tx.exec_params(
             "SELECT q, count(*) FROM workers, unnest(queues) AS q"
             " WHERE heartbeat_at > now() - $1 * interval '1 millisecond' GROUP BY q",
             worker_timeout_ms)) {
      queues[r[0].as<std::string>()].consumers = r[1].as<int64_t>();
    }
    // Queues the operators' configuration names keep their series at zero
    // once empty (docs/metrics.md, "Known queues"): every registered
    // worker's queues, live or stale until it deregisters, and the queues
    // bound to tenants, and the paused ones. All are bounded by configuration, never by input.
    for (const auto& r : tx.exec(
             "SELECT DISTINCT q FROM workers, unnest(queues) AS q"
             " UNION SELECT value FROM tenant_bindings WHERE kind = 'queue'"
             " UNION SELECT queue FROM queue_pauses")) {
      queues.try_emplace(r[0].as<std::string>());
    }
    for (auto& [name, q] : queues) {
      q.queue = name;
      sample.queues.push_back(q);
    }
    auto outbox = tx.exec1(
        "SELECT count(*), coalesce(greatest(extract(epoch FROM now() - min(created_at)), 0), 0)"
        "::float8 FROM outbox");
    sample.outbox_rows = outbox[0].as<int64_t>();
    sample.outbox_lag_seconds = outbox[1].as<double>();
    sample.workers_alive =
        tx.exec_params1("SELECT count(*) FROM workers"
                        " WHERE heartbeat_at > now() - $1 * interval '1 millisecond'",
                        worker_timeout_ms)[0]
            .as<int64_t>();
    return sample;
  });
}

}  // namespace fila

// `fila top`: the workers, their running tasks and the queues.

namespace fila {
namespace {

// A worker that died without deregistering keeps its row; past this long
// (and running nothing) it is only counted, so that a month of crashed pods
// does not crowd the live ones off the screen.
constexpr int kForgetWorkerAfterSeconds = 3600;

}  // namespace

const std::string& RunningTasksStatement() {
  static const std::string kSql =
      "SELECT id::text, type, queue, attempt, coalesce(worker, ''),"
      " greatest(extract(epoch FROM now() - coalesce(started_at, now())), 0)::float8,"
      " progress, progress_message"
      " FROM tasks WHERE state = 'running' ORDER BY started_at, id";
  return kSql;
}

MonitorSnapshot PostgresStore::Monitor(uint32_t stale_after_ms) {
  MonitorSnapshot snapshot = impl_->Run([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    MonitorSnapshot s;
    s.stale_after_seconds = stale_after_ms / 1000.0;
    s.taken_at_ms = tx.exec1("SELECT (extract(epoch FROM now()) * 1000)::int8")[0].as<int64_t>();
    // The keys and values of finished_by_queue as two arrays in one order:
    // the store has no JSON parser.
    auto rows = tx.exec_params(
        "SELECT id, hostname, pid, queues, concurrency,"
        " (extract(epoch FROM started_at) * 1000)::int8,"
        " greatest(extract(epoch FROM now() - heartbeat_at), 0)::float8, succeeded, failed,"
        " (SELECT array_agg(key ORDER BY key) FROM jsonb_each_text(finished_by_queue)),"
        " (SELECT array_agg(value ORDER BY key) FROM jsonb_each_text(finished_by_queue)),"
        " version, draining"
        " FROM workers w"
        " WHERE heartbeat_at > now() - $1 * interval '1 second'"
        "    OR EXISTS (SELECT 1 FROM tasks t WHERE t.worker = w.id AND t.state = 'running')",
        kForgetWorkerAfterSeconds);
    std::map<std::string, WorkerView> workers;
    for (const auto& r : rows) {
      WorkerView w;
      w.id = r[0].as<std::string>();
      w.hostname = r[1].as<std::string>();
      w.pid = r[2].as<int64_t>();
      w.queues = pg::TextArray(r[3]);
      w.concurrency = r[4].as<uint32_t>();
      w.started_at_ms = r[5].as<int64_t>();
      w.heartbeat_age_seconds = r[6].as<double>();
      w.stale = w.heartbeat_age_seconds * 1000 > stale_after_ms;
      w.succeeded = r[7].as<uint64_t>();
      w.failed = r[8].as<uint64_t>();
      auto keys = pg::TextArray(r[9]);
      auto values = pg::TextArray(r[10]);
      for (size_t i = 0; i < keys.size() && i < values.size(); ++i) {
        w.finished_by_queue[keys[i]] = std::stoull(values[i]);
      }
      w.version = r[11].as<std::string>();
      w.draining = r[12].as<bool>();
      workers.emplace(w.id, std::move(w));
    }
    const auto all = tx.exec1("SELECT count(*) FROM workers")[0].as<int64_t>();
    s.workers_hidden = all - static_cast<int64_t>(rows.size());
    // Running tasks are at most the workers' slots: the partial index
    // tasks_running_worker covers them.
    for (const auto& r : tx.exec(RunningTasksStatement())) {
      const auto worker = r[4].as<std::string>();
      auto [it, added] = workers.try_emplace(worker);
      if (added) {
        it->second.id = worker;
        it->second.deregistered = true;
        it->second.stale = true;
      }
      it->second.running.push_back({r[0].as<std::string>(), r[1].as<std::string>(),
                                    r[2].as<std::string>(), r[3].as<uint32_t>(), r[5].as<double>(),
                                    r[6].as<int>(), r[7].as<std::string>()});
    }
    for (auto& [id, w] : workers) s.workers.push_back(std::move(w));
    std::stable_sort(s.workers.begin(), s.workers.end(),
                     [](const WorkerView& a, const WorkerView& b) {
                       return std::tie(a.deregistered, a.stale) < std::tie(b.deregistered, b.stale);
                     });
    return s;
  });
  auto sample = SampleQueues(stale_after_ms);
  snapshot.queues = std::move(sample.queues);
  snapshot.outbox_rows = sample.outbox_rows;
  snapshot.outbox_lag_seconds = sample.outbox_lag_seconds;
  return snapshot;
}

}  // namespace fila
