#include "db.h"

#include <cstdlib>
#include <iostream>
#include <pqxx/pqxx>
#include <random>

#include "procs.h"

namespace fila::bench {

std::string RandomSuffix() {
  static std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(8, '0');
  for (char& c : out) c = kHex[engine() % 16];
  return out;
}

std::string WithDatabaseName(const std::string& url, const std::string& name) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) {
    throw BenchError("the database URL must be a postgresql:// URL");
  }
  const size_t path = url.find('/', scheme + 3);
  const size_t query = url.find('?', scheme + 3);
  if (path == std::string::npos || (query != std::string::npos && query < path)) {
    const size_t at = query == std::string::npos ? url.size() : query;
    return url.substr(0, at) + "/" + name + url.substr(at);
  }
  return url.substr(0, path + 1) + name + (query == std::string::npos ? "" : url.substr(query));
}

std::string DurabilitySettings(const std::string& url) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  std::string out;
  for (const char* setting :
       {"fsync", "synchronous_commit", "full_page_writes", "max_wal_size", "checkpoint_timeout"}) {
    if (!out.empty()) out += ' ';
    out += setting;
    out += '=';
    out += tx.exec1(std::string("SHOW ") + setting)[0].as<std::string>();
  }
  return out;
}

ScratchDatabase::ScratchDatabase(std::string base_url)
    : base_url_(std::move(base_url)),
      name_("fila_bench_" + RandomSuffix()),
      url_(WithDatabaseName(base_url_, name_)) {
  try {
    pqxx::connection c(base_url_);
    pqxx::nontransaction tx(c);  // CREATE DATABASE refuses to run in a transaction
    tx.exec0("CREATE DATABASE " + tx.quote_name(name_));
  } catch (const std::exception& e) {
    throw BenchError("cannot create database " + name_ + ": " + e.what());
  }
  // A checkpoint now, so that the previous scenario's dirty pages and WAL
  // are not flushed (and full-page images not written) in the middle of
  // this one's figures.
  try {
    pqxx::connection c(base_url_);
    pqxx::nontransaction tx(c);
    tx.exec0("CHECKPOINT");
  } catch (const std::exception& e) {
    std::cerr << "fila-bench: warning: CHECKPOINT failed (needs superuser or pg_checkpoint): "
              << e.what() << "\n";
  }
}

ScratchDatabase::~ScratchDatabase() {
  try {
    pqxx::connection c(base_url_);
    pqxx::nontransaction tx(c);
    tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::cerr << "fila-bench: warning: cannot drop database " << name_ << ": " << e.what() << "\n";
  }
}

void ScratchDatabase::Migrate(const std::string& bin_dir, const std::string& log_path) {
  RunCapture(bin_dir + "/fila", {"migrate", "up"}, {{"FILA_DATABASE_URL", url_}}, log_path,
             std::chrono::seconds(120));
  // What-if figures: the schema as it would be with this SQL applied (an
  // index dropped, a setting changed), measured side by side with the
  // schema as shipped in another run.
  const char* sql = std::getenv("FILA_BENCH_AFTER_MIGRATE_SQL");
  if (sql == nullptr || *sql == '\0') return;
  try {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    tx.exec0(sql);
  } catch (const std::exception& e) {
    throw BenchError(std::string("FILA_BENCH_AFTER_MIGRATE_SQL failed: ") + e.what());
  }
  std::cerr << "fila-bench: applied FILA_BENCH_AFTER_MIGRATE_SQL to " << name_ << "\n";
}

struct TaskDb::Impl {
  explicit Impl(const std::string& url) : connection(url) {}
  pqxx::connection connection;
};

TaskDb::TaskDb(const std::string& url) : impl_(std::make_unique<Impl>(url)) {}
TaskDb::~TaskDb() = default;

StateCounts TaskDb::Count(const std::string& queue) {
  pqxx::read_transaction tx(impl_->connection);
  StateCounts counts;
  for (const auto& r :
       tx.exec_params("SELECT state, count(*), count(*) FILTER (WHERE attempt > 1) FROM tasks"
                      " WHERE queue = $1 GROUP BY state ORDER BY state",
                      queue)) {
    const auto state = r[0].as<std::string>();
    const auto n = r[1].as<int64_t>();
    counts.total += n;
    counts.retried += r[2].as<int64_t>();
    if (state == "succeeded") counts.succeeded = n;
    counts.by_state += (counts.by_state.empty() ? "" : " ") + state + "=" + std::to_string(n);
  }
  return counts;
}

TaskSpan TaskDb::Span(const std::string& queue) {
  pqxx::read_transaction tx(impl_->connection);
  auto r = tx.exec_params1(
      "SELECT extract(epoch FROM min(created_at))::float8, extract(epoch FROM "
      "max(created_at))::float8,"
      " extract(epoch FROM min(finished_at))::float8, extract(epoch FROM max(finished_at))::float8"
      " FROM tasks WHERE queue = $1",
      queue);
  if (r[2].is_null()) throw BenchError("no task of queue " + queue + " has finished");
  return TaskSpan{r[0].as<double>(), r[1].as<double>(), r[2].as<double>(), r[3].as<double>()};
}

Latency TaskDb::StartLatency(const std::string& queue, double created_from) {
  pqxx::read_transaction tx(impl_->connection);
  auto r = tx.exec_params1(
      "WITH l AS (SELECT (extract(epoch FROM started_at - created_at) * 1000)::float8 AS ms FROM "
      "tasks"
      "  WHERE queue = $1 AND started_at IS NOT NULL AND created_at >= to_timestamp($2::float8))"
      " SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::float8,"
      "  percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::float8, max(ms)::float8 FROM l",
      queue, created_from);
  Latency latency;
  latency.count = r[0].as<int64_t>();
  if (latency.count == 0) return latency;
  latency.p50_ms = r[1].as<double>();
  latency.p99_ms = r[2].as<double>();
  latency.max_ms = r[3].as<double>();
  return latency;
}

TaskDb::Wait TaskDb::WaitOf(const std::string& queue, const std::string& tenant, int priority,
                            double from, double to) {
  pqxx::read_transaction tx(impl_->connection);
  auto r = tx.exec_params1(
      "WITH l AS (SELECT (extract(epoch FROM coalesce(started_at, clock_timestamp()) - created_at)"
      "   * 1000)::float8 AS ms, started_at IS NOT NULL AS started FROM tasks"
      "  WHERE queue = $1 AND ($2 = '' OR tenant = $2) AND ($3 < 0 OR priority = $3)"
      "  AND created_at >= to_timestamp($4::float8) AND created_at < to_timestamp($5::float8))"
      " SELECT count(*), count(*) FILTER (WHERE started),"
      "  percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::float8,"
      "  percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::float8,"
      "  percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::float8, max(ms)::float8 FROM l",
      queue, tenant, priority, from, to);
  Wait wait;
  wait.count = r[0].as<int64_t>();
  wait.started = r[1].as<int64_t>();
  if (wait.count == 0) return wait;
  wait.p50_ms = r[2].as<double>();
  wait.p95_ms = r[3].as<double>();
  wait.p99_ms = r[4].as<double>();
  wait.max_ms = r[5].as<double>();
  return wait;
}

int64_t TaskDb::Workers() {
  pqxx::read_transaction tx(impl_->connection);
  return tx.exec1("SELECT count(*) FROM workers")[0].as<int64_t>();
}

int64_t TaskDb::FinishedByWorkers() {
  pqxx::read_transaction tx(impl_->connection);
  return tx.exec1("SELECT coalesce(sum(succeeded + failed), 0) FROM workers")[0].as<int64_t>();
}

bool TaskDb::AnyActive(const std::string& queue) {
  pqxx::read_transaction tx(impl_->connection);
  return tx.exec_params1("SELECT EXISTS (SELECT 1 FROM tasks WHERE queue = $1 AND state IN "
                         "('queued', 'scheduled', 'running', 'blocked'))",
                         queue)[0]
      .as<bool>();
}

int64_t TaskDb::CountRows(const std::string& sql) {
  pqxx::read_transaction tx(impl_->connection);
  return tx.exec1(sql)[0].as<int64_t>();
}

}  // namespace fila::bench
