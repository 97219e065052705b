// Read-only views for monitoring: the scheduler's queue gauges.

#include <map>

#include "store_impl.h"

namespace fila {

PostgresStore::Sample PostgresStore::SampleQueues(uint32_t worker_timeout_ms) {
  return impl_->Run([&](pqxx::connection& c) {
    // One snapshot, so the numbers agree with each other.
    pqxx::read_transaction tx(c);
    Sample sample;
    std::map<std::string, QueueSample> queues;
    // The partial index tasks_active covers exactly these states.
    for (const auto& r : tx.exec(
             "SELECT queue, state, count(*) FROM tasks"
             " WHERE state IN ('queued', 'scheduled', 'running', 'blocked')"
             " GROUP BY queue, state")) {
      auto& q = queues[r[0].as<std::string>()];
      const auto state = r[1].as<std::string>();
      const auto n = r[2].as<int64_t>();
      if (state == "queued") q.queued = n;
      if (state == "scheduled") q.scheduled = n;
      if (state == "running") q.running = n;
      if (state == "blocked") q.blocked = n;
    }
    for (const auto& r : tx.exec(
             "SELECT queue, greatest(extract(epoch FROM now() - min(run_at)), 0)::float8"
             " FROM tasks WHERE state = 'queued' GROUP BY queue")) {
      queues[r[0].as<std::string>()].oldest_queued_age_seconds = r[1].as<double>();
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
