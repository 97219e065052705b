#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "fila/core/errors.h"
#include "fila/core/lifecycle.h"
#include "fila/core/uuid.h"
#include "fila/store_postgres/postgres_key_limiter.h"
#include "pg_pool.h"

namespace fila {
namespace {

class PostgresKeyLimiter final : public KeyLimiter {
 public:
  PostgresKeyLimiter(const std::string& url, size_t connections, std::chrono::milliseconds lease)
      : lease_(lease), pool_(url, connections, [](pqxx::connection& c) {
          c.prepare("kl_ensure", "INSERT INTO limit_keys (key) VALUES ($1) ON CONFLICT DO NOTHING");
          c.prepare("kl_lock",
                    "SELECT (extract(epoch FROM next_start) * 1000)::bigint,"
                    " (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
                    " FROM limit_keys WHERE key = $1 FOR UPDATE");
          c.prepare("kl_expire", "DELETE FROM key_permits WHERE key = $1 AND expires_at < now()");
          c.prepare("kl_count", "SELECT count(*) FROM key_permits WHERE key = $1");
          c.prepare("kl_take",
                    "INSERT INTO key_permits (key, holder, expires_at)"
                    " VALUES ($1, $2::uuid, now() + $3 * interval '1 millisecond')");
          c.prepare("kl_next",
                    "UPDATE limit_keys SET next_start = to_timestamp($2 / 1000.0) WHERE key = $1");
          c.prepare("kl_release", "DELETE FROM key_permits WHERE holder = $1::uuid");
        }) {}

  Permit Acquire(std::string_view key, const LimitSpec& limit, Deadline deadline,
                 const std::function<bool()>& cancelled) override {
    const std::string k(key);
    while (true) {
      if (cancelled && cancelled()) throw TransientError("cancelled while waiting for limit " + k);
      const std::string holder = NewUuid();
      const int64_t wait_ms = TryOnce(k, limit, holder);
      if (wait_ms < 0) {
        if (limit.max_concurrent == 0) return Permit();
        return Permit([this, holder] { Release(holder); });
      }
      const auto wake = SteadyClock::now() + std::chrono::milliseconds(std::clamp<int64_t>(wait_ms, 1, 50));
      if (wake >= deadline) throw TransientError("timed out waiting for limit " + k);
      std::this_thread::sleep_until(wake);
    }
  }

 private:
  // -1: admitted (a permit row `holder` exists if concurrency applies);
  // otherwise how long to wait before trying again.
  int64_t TryOnce(const std::string& key, const LimitSpec& limit, const std::string& holder) {
    return pool_.Run([&](pqxx::connection& c) -> int64_t {
      pqxx::work tx(c);
      tx.exec_prepared("kl_ensure", key);
      auto row = tx.exec_prepared1("kl_lock", key);
      const int64_t next_start = row[0].as<int64_t>();
      const int64_t now = row[1].as<int64_t>();
      if (limit.max_concurrent > 0) {
        tx.exec_prepared("kl_expire", key);
        if (tx.exec_prepared1("kl_count", key)[0].as<int64_t>() >= limit.max_concurrent) {
          return 50;  // a holder lets go some time; poll
        }
      }
      const GcraDecision rate = DecideGcra(next_start, now, limit.rate, limit.period.count());
      if (!rate.admitted) return rate.conforms_at - now;
      if (rate.next_tat != next_start) tx.exec_prepared("kl_next", key, rate.next_tat);
      if (limit.max_concurrent > 0) tx.exec_prepared("kl_take", key, holder, lease_.count());
      tx.commit();
      return -1;
    });
  }

  void Release(const std::string& holder) {
    try {
      pool_.Run([&](pqxx::connection& c) {
        pqxx::nontransaction tx(c);
        tx.exec_prepared("kl_release", holder);
      });
    } catch (const std::exception& e) {
      // The lease frees it later; a release must never throw from a destructor.
      spdlog::warn("key limiter: permit not released now ({}); its lease will free it", e.what());
    }
  }

  std::chrono::milliseconds lease_;
  pg::ConnectionPool pool_;
};

}  // namespace

std::unique_ptr<KeyLimiter> MakePostgresKeyLimiter(const std::string& database_url,
                                                   size_t max_connections,
                                                   std::chrono::milliseconds permit_lease) {
  return std::make_unique<PostgresKeyLimiter>(database_url, max_connections, permit_lease);
}

}  // namespace fila
