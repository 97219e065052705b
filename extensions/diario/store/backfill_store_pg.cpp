#include "fila/diario/backfill_store_pg.h"

#include "fila/core/errors.h"
#include "pg_support.h"

namespace fila {
namespace {

using diario::Edition;

class PostgresBackfillStore final : public BackfillStore {
 public:
  explicit PostgresBackfillStore(const std::string& url) : url_(url) {}

  int64_t Open(const BackfillSpec& s) override {
    return Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto row = tx.exec_params1(
          "INSERT INTO diario_backfills (tenant, tribunal, from_date, to_arg, to_date, queue, runs) "
          "VALUES ($1, $2, $3::date, $4, $5::date, $6, 1) "
          "ON CONFLICT (tenant, tribunal, from_date, to_arg) DO UPDATE SET to_date = EXCLUDED.to_date, "
          "queue = EXCLUDED.queue, runs = diario_backfills.runs + 1, updated_at = now(), years_read = 0, "
          "rejected = 0, "
          "state = CASE WHEN diario_backfills.to_date = EXCLUDED.to_date THEN diario_backfills.state "
          "ELSE 'planning' END "
          "RETURNING id",
          s.tenant, s.tribunal, s.from.Iso(), s.to_arg, s.to.Iso(), s.queue);
      tx.commit();
      return row[0].as<int64_t>();
    });
  }

  std::optional<std::string> CachedIndex(const std::string& tribunal, int year) override {
    return Run([&](pqxx::connection& c) -> std::optional<std::string> {
      pqxx::read_transaction tx(c);
      // A copy fetched while the year was still running misses its last
      // editions: only one fetched after the year ended (a day's margin
      // for the tribunal's time zone) stands for the year.
      auto r = tx.exec_params(
          "SELECT body FROM diario_index_years WHERE tribunal = $1 AND year = $2 "
          "AND fetched_at >= make_date($2 + 1, 1, 2)",
          tribunal, year);
      if (r.empty()) return std::nullopt;
      return r[0][0].as<std::string>();
    });
  }

  void SaveIndex(const std::string& tribunal, int year, const std::string& body, int editions,
                 int rejected) override {
    Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_params(
          "INSERT INTO diario_index_years (tribunal, year, body, editions, rejected) VALUES ($1, $2, $3, $4, $5) "
          "ON CONFLICT (tribunal, year) DO UPDATE SET body = EXCLUDED.body, editions = EXCLUDED.editions, "
          "rejected = EXCLUDED.rejected, fetched_at = now()",
          tribunal, year, body, editions, rejected);
      tx.commit();
      return 0;
    });
  }

  int64_t AddYear(int64_t backfill, const std::vector<Edition>& editions, int rejected) override {
    return Run([&](pqxx::connection& c) {
      std::vector<std::string> keys, dates, suffixes, paths;
      std::vector<int> numbers;
      for (const auto& e : editions) {
        keys.push_back(e.Key());
        dates.push_back(e.date.Iso());
        numbers.push_back(e.number);
        suffixes.push_back(e.suffix);
        paths.push_back(e.path);
      }
      pqxx::work tx(c);
      auto r = tx.exec_params(
          "INSERT INTO diario_backfill_editions (backfill_id, edition, gazette_date, number, suffix, path) "
          "SELECT $1, u.k, u.d::date, u.n, u.s, u.p "
          "FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[]) AS u(k, d, n, s, p) "
          "ON CONFLICT (backfill_id, edition) DO NOTHING",
          backfill, pg::ArrayLiteral(keys), pg::ArrayLiteral(dates), pg::IntArrayLiteral<int>(numbers),
          pg::ArrayLiteral(suffixes), pg::ArrayLiteral(paths));
      tx.exec_params("UPDATE diario_backfills SET years_read = years_read + 1, rejected = rejected + $2, "
                     "updated_at = now() WHERE id = $1",
                     backfill, rejected);
      tx.commit();
      return static_cast<int64_t>(r.affected_rows());
    });
  }

  std::vector<Edition> Unqueued(int64_t backfill, int limit) override {
    return Run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      std::vector<Edition> out;
      for (const auto& r : tx.exec_params(
               "SELECT gazette_date::text, number, suffix, path FROM diario_backfill_editions "
               "WHERE backfill_id = $1 AND task_id IS NULL ORDER BY gazette_date, number, suffix LIMIT $2",
               backfill, limit)) {
        Edition e;
        e.date = diario::Date::Parse(r[0].as<std::string>());
        e.number = r[1].as<int>();
        e.suffix = r[2].as<std::string>();
        e.path = r[3].as<std::string>();
        out.push_back(std::move(e));
      }
      return out;
    });
  }

  void MarkQueued(int64_t backfill, const std::vector<std::pair<std::string, std::string>>& edition_task) override {
    Run([&](pqxx::connection& c) {
      std::vector<std::string> keys, tasks;
      for (const auto& [k, t] : edition_task) {
        keys.push_back(k);
        tasks.push_back(t);
      }
      pqxx::work tx(c);
      tx.exec_params(
          "UPDATE diario_backfill_editions e SET task_id = u.t::uuid "
          "FROM unnest($2::text[], $3::text[]) AS u(k, t) WHERE e.backfill_id = $1 AND e.edition = u.k",
          backfill, pg::ArrayLiteral(keys), pg::ArrayLiteral(tasks));
      tx.exec_params("UPDATE diario_backfills SET updated_at = now() WHERE id = $1", backfill);
      tx.commit();
      return 0;
    });
  }

  void SetState(int64_t backfill, const std::string& state) override {
    Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_params("UPDATE diario_backfills SET state = $2, updated_at = now() WHERE id = $1", backfill, state);
      tx.commit();
      return 0;
    });
  }

  std::vector<BackfillProgress> Progress(const std::string& tenant) override {
    return Run([&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      std::vector<BackfillProgress> out;
      // A no-gazette outcome is in the task's result (the handler's JSON).
      for (const auto& r : tx.exec_params(
               "SELECT b.id, b.tenant, b.tribunal, b.from_date::text, b.to_date::text, b.state, b.years_read, "
               "b.rejected, count(e.edition), count(e.task_id), "
               "count(*) FILTER (WHERE t.state = 'succeeded' AND position('\"no_gazette\"' IN "
               "  convert_from(coalesce(t.result, ''), 'UTF8')) = 0), "
               "count(*) FILTER (WHERE t.state = 'succeeded' AND position('\"no_gazette\"' IN "
               "  convert_from(coalesce(t.result, ''), 'UTF8')) > 0), "
               "count(*) FILTER (WHERE t.state IN ('failed', 'dead')), "
               "count(*) FILTER (WHERE t.state IN ('blocked', 'queued', 'scheduled', 'running')), "
               "count(*) FILTER (WHERE t.state = 'cancelled'), "
               "to_char(b.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
               "FROM diario_backfills b LEFT JOIN diario_backfill_editions e ON e.backfill_id = b.id "
               "LEFT JOIN tasks t ON t.id = e.task_id "
               "WHERE $1 = '' OR b.tenant = $1 GROUP BY b.id ORDER BY b.id DESC",
               tenant)) {
        BackfillProgress p;
        p.id = r[0].as<int64_t>();
        p.tenant = r[1].as<std::string>();
        p.tribunal = r[2].as<std::string>();
        p.from = r[3].as<std::string>();
        p.to = r[4].as<std::string>();
        p.state = r[5].as<std::string>();
        p.years_read = r[6].as<int>();
        p.rejected = r[7].as<int64_t>();
        p.discovered = r[8].as<int64_t>();
        p.queued = r[9].as<int64_t>();
        p.done = r[10].as<int64_t>();
        p.no_gazette = r[11].as<int64_t>();
        p.failed = r[12].as<int64_t>();
        p.pending = r[13].as<int64_t>();
        p.cancelled = r[14].as<int64_t>();
        p.updated_at = r[15].as<std::string>();
        out.push_back(std::move(p));
      }
      return out;
    });
  }

 private:
  // One connection, reopened after a failure; library errors translated.
  template <typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<pqxx::connection&>())) {
    bool broken = false;
    try {
      if (!conn_) conn_ = pg::Open(url_);
      return fn(*conn_);
    } catch (...) {
      conn_.reset();
      pg::Translate(broken);
    }
    throw Error("unreachable");
  }

  std::string url_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace

std::unique_ptr<BackfillStore> MakePostgresBackfillStore(const std::string& url) {
  return std::make_unique<PostgresBackfillStore>(url);
}

}  // namespace fila
