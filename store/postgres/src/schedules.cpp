// Cron schedules on PostgreSQL: CRUD per tenant and the leader's firing of
// due slots.
#include <spdlog/spdlog.h>

#include "fila/core/cron.h"
#include "fila/core/errors.h"
#include "fila/core/schedule_firing.h"
#include "fila/store_postgres/postgres_store.h"
#include "pg_support.h"
#include "store_impl.h"

namespace fila {
namespace {

constexpr const char* kScheduleColumns =
    "tenant, name, cron, timezone, type, queue, priority, payload, max_attempts, timeout_ms, "
    "catch_up, paused, coalesce((extract(epoch FROM next_fire_at) * 1000)::bigint, 0), "
    "coalesce((extract(epoch FROM last_slot_at) * 1000)::bigint, 0), "
    "coalesce(last_task_id::text, ''), fired, missed";

ScheduleView ReadSchedule(const pqxx::row& r) {
  ScheduleView v;
  v.spec.tenant = r[0].as<std::string>();
  v.spec.name = r[1].as<std::string>();
  v.spec.cron = r[2].as<std::string>();
  v.spec.timezone = r[3].as<std::string>();
  v.spec.type = r[4].as<std::string>();
  v.spec.queue = r[5].as<std::string>();
  v.spec.priority = r[6].as<uint32_t>();
  v.spec.payload = pg::Bytes(r[7]);
  v.spec.max_attempts = r[8].as<uint32_t>();
  v.spec.timeout_ms = r[9].as<uint32_t>();
  v.spec.catch_up = r[10].as<std::string>();
  v.paused = r[11].as<bool>();
  v.next_fire_at_ms = r[12].as<int64_t>();
  v.last_slot_at_ms = r[13].as<int64_t>();
  v.last_task_id = r[14].as<std::string>();
  v.fired = r[15].as<int64_t>();
  v.missed = r[16].as<int64_t>();
  return v;
}

}  // namespace

const std::map<std::string, std::string>& ScheduleStatements() {
  static const std::map<std::string, std::string> kStatements{
      {"schedule_add", std::string(R"(
INSERT INTO schedules (tenant, name, cron, timezone, type, queue, priority, payload, max_attempts,
                       timeout_ms, catch_up, next_fire_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, decode($8, 'hex'), $9, $10, $11,
        CASE WHEN $12::bigint > 0 THEN to_timestamp($12::bigint / 1000.0) END)
ON CONFLICT (tenant, name) DO NOTHING
RETURNING )") + kScheduleColumns},
      {"schedule_list", std::string("SELECT ") + kScheduleColumns +
                            " FROM schedules WHERE tenant = $1 ORDER BY name"},
      {"schedule_get", std::string("SELECT ") + kScheduleColumns +
                           " FROM schedules WHERE tenant = $1 AND name = $2"},
      {"schedule_pause",
       "UPDATE schedules SET paused = true, updated_at = now() WHERE tenant = $1 AND name = $2"
       " RETURNING name"},
      {"schedule_resume", R"(
UPDATE schedules SET paused = false, updated_at = now(),
       next_fire_at = CASE WHEN $3::bigint > 0 THEN to_timestamp($3::bigint / 1000.0) END
WHERE tenant = $1 AND name = $2 RETURNING name)"},
      {"schedule_delete", "DELETE FROM schedules WHERE tenant = $1 AND name = $2 RETURNING name"},
      {"schedule_due", std::string("SELECT ") + kScheduleColumns +
                           ", (extract(epoch FROM now()) * 1000)::bigint FROM schedules"
                           " WHERE NOT paused AND next_fire_at <= now()"
                           " ORDER BY next_fire_at LIMIT $1 FOR UPDATE SKIP LOCKED"},
      {"schedule_advance", R"(
UPDATE schedules SET
  next_fire_at = CASE WHEN $3::bigint > 0 THEN to_timestamp($3::bigint / 1000.0) END,
  last_slot_at = CASE WHEN $4::bigint > 0 THEN to_timestamp($4::bigint / 1000.0) ELSE last_slot_at END,
  last_task_id = coalesce(NULLIF($5, '')::uuid, last_task_id),
  fired = fired + $6, missed = missed + $7, updated_at = now()
WHERE tenant = $1 AND name = $2)"},
      {"schedule_next_due",
       "SELECT (extract(epoch FROM min(next_fire_at) - now()) * 1000)::bigint FROM schedules"
       " WHERE NOT paused"},
  };
  return kStatements;
}

ScheduleView PostgresStore::AddSchedule(const ScheduleSpec& spec) {
  const int64_t next = FirstSlotOfNewSchedule(spec, NowUnixMs());
  const CronSchedule cron = CronSchedule::Parse(spec.cron, spec.timezone);
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("schedule_add", spec.tenant, spec.name, spec.cron,
                                 cron.Timezone(), spec.type, spec.queue, spec.priority,
                                 pg::Hex(spec.payload), spec.max_attempts, spec.timeout_ms,
                                 spec.catch_up, next);
    if (rows.empty()) {
      throw PermanentError("a schedule named '" + spec.name + "' exists", "name");
    }
    return ReadSchedule(rows[0]);
  });
}

std::vector<ScheduleView> PostgresStore::ListSchedules(const std::string& tenant) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<ScheduleView> out;
    for (const auto& r : tx.exec_prepared("schedule_list", tenant)) out.push_back(ReadSchedule(r));
    return out;
  });
}

std::optional<ScheduleView> PostgresStore::GetSchedule(const std::string& tenant,
                                                       const std::string& name) {
  return impl_->Run([&](pqxx::connection& c) -> std::optional<ScheduleView> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("schedule_get", tenant, name);
    if (rows.empty()) return std::nullopt;
    return ReadSchedule(rows[0]);
  });
}

bool PostgresStore::SetSchedulePaused(const std::string& tenant, const std::string& name,
                                      bool paused) {
  if (paused) {
    return impl_->Run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return !tx.exec_prepared("schedule_pause", tenant, name).empty();
    });
  }
  auto current = GetSchedule(tenant, name);
  if (!current) return false;
  const int64_t next =
      CronSchedule::Parse(current->spec.cron, current->spec.timezone).NextAfter(NowUnixMs());
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return !tx.exec_prepared("schedule_resume", tenant, name, next).empty();
  });
}

bool PostgresStore::DeleteSchedule(const std::string& tenant, const std::string& name) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return !tx.exec_prepared("schedule_delete", tenant, name).empty();
  });
}

FireResult PostgresStore::FireDueSchedules(const TaskTypes& types, int64_t grace_ms,
                                           uint32_t limit) {
  return impl_->Run([&](pqxx::connection& c) {
    FireResult result;
    pqxx::work tx(c);
    for (const auto& row : tx.exec_prepared("schedule_due", limit)) {
      const ScheduleView s = ReadSchedule(row);
      const int64_t now = row[17].as<int64_t>();
      std::optional<CronSchedule> cron;
      try {
        cron = CronSchedule::Parse(s.spec.cron, s.spec.timezone);
      } catch (const PermanentError& e) {
        spdlog::error("schedule {}/{} paused: {}", s.spec.tenant, s.spec.name, e.what());
        tx.exec_prepared("schedule_pause", s.spec.tenant, s.spec.name);
        continue;
      }
      const SlotPlan plan = PlanSlots(s.spec, *cron, s.next_fire_at_ms, now, grace_ms);
      const std::vector<int64_t>& fire = plan.fire;
      const int64_t next = plan.next;
      int64_t missed = plan.missed;
      std::vector<NewTask> tasks;
      for (int64_t slot : fire) {
        try {
          tasks.push_back(SlotTask(s.spec, slot, types, now));
        } catch (const PermanentError& e) {
          spdlog::error("schedule {}/{}: slot {} not fired: {}", s.spec.tenant, s.spec.name, slot,
                        e.what());
          ++missed;
        }
      }
      std::string last_task;
      if (!tasks.empty()) {
        auto enqueued = EnqueueIn(tx, tasks);
        if (!enqueued) throw TransientError("a schedule's slot raced with another scheduler");
        for (size_t i = 0; i < enqueued->size(); ++i) {
          const auto& e = (*enqueued)[i];
          result.fired.push_back({s.spec.tenant, s.spec.name, fire[i], e.id, e.created});
          last_task = e.id;
        }
      }
      result.missed += missed;
      tx.exec_prepared("schedule_advance", s.spec.tenant, s.spec.name, next,
                       fire.empty() ? 0 : fire.back(), last_task,
                       static_cast<int64_t>(tasks.size()), missed);
    }
    auto due = tx.exec_prepared1("schedule_next_due");
    result.next_due_in_ms = due[0].is_null() ? -1 : due[0].as<int64_t>();
    tx.commit();
    return result;
  });
}

}  // namespace fila
