#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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
                    " (extract(epoch FROM clock_timestamp()) * 1000)::bigint,"
                    " (extract(epoch FROM sent_at) * 1000)::bigint,"
                    " CASE WHEN sender IS NOT NULL AND sender_until > clock_timestamp()"
                    "  THEN (extract(epoch FROM sender_until) * 1000)::bigint END"
                    " FROM limit_keys WHERE key = $1 FOR UPDATE");
          c.prepare("kl_expire", "DELETE FROM key_permits WHERE key = $1 AND expires_at < now()");
          c.prepare("kl_count", "SELECT count(*) FROM key_permits WHERE key = $1");
          c.prepare("kl_take",
                    "INSERT INTO key_permits (key, holder, expires_at)"
                    " VALUES ($1, $2::uuid, now() + $3 * interval '1 millisecond')");
          c.prepare("kl_next",
                    "UPDATE limit_keys SET next_start = to_timestamp($2 / 1000.0) WHERE key = $1");
          c.prepare("kl_defer",
                    "UPDATE limit_keys SET next_start = greatest(next_start,"
                    " clock_timestamp() + $2 * interval '1 millisecond') WHERE key = $1");
          c.prepare("kl_hold",
                    "UPDATE limit_keys SET sender = $2::uuid,"
                    " sender_until = clock_timestamp() + $3 * interval '1 millisecond' WHERE key = $1");
          c.prepare("kl_sent",
                    "UPDATE limit_keys SET sent_at = greatest(sent_at, clock_timestamp()),"
                    " sender = CASE WHEN sender = $2::uuid THEN NULL ELSE sender END WHERE key = $1");
          c.prepare("kl_release", "DELETE FROM key_permits WHERE holder = $1::uuid");
          c.prepare("kl_unhold", "UPDATE limit_keys SET sender = NULL WHERE key = $1 AND sender = $2::uuid");
          c.prepare("kl_renew",
                    "UPDATE key_permits SET expires_at = now() + $2 * interval '1 millisecond'"
                    " WHERE holder = ANY($1::uuid[])");
        }) {
    renewer_ = std::thread([this] { RenewLoop(); });
  }

  ~PostgresKeyLimiter() override {
    {
      std::lock_guard lock(held_mutex_);
      stopping_ = true;
    }
    renew_wake_.notify_all();
    renewer_.join();
  }

  Permit Acquire(std::string_view key, const LimitSpec& limit, Deadline deadline,
                 const std::function<bool()>& cancelled) override {
    const std::string k(key);
    while (true) {
      if (cancelled && cancelled()) throw TransientError("cancelled while waiting for limit " + k);
      const std::string holder = NewUuid();
      const int64_t wait_ms = TryOnce(k, limit, holder);
      if (wait_ms < 0) {
        const bool gap = limit.min_gap.count() > 0;
        if (limit.max_concurrent == 0 && !gap) return Permit();
        // The turn to send is given back by the send, or else by the release.
        auto unsent = std::make_shared<std::atomic<bool>>(gap);
        std::function<void()> sent;
        if (gap) {
          sent = [this, k, holder, unsent] {
            unsent->store(false);
            Sent(k, holder);
          };
        }
        return Permit([this, k, holder, units = limit.max_concurrent > 0,
                       unsent] { Release(k, holder, units, unsent->load()); },
                      std::move(sent));
      }
      const auto wake = SteadyClock::now() + std::chrono::milliseconds(std::clamp<int64_t>(wait_ms, 1, 50));
      if (wake >= deadline) throw TransientError("timed out waiting for limit " + k);
      std::this_thread::sleep_until(wake);
    }
  }

  void Defer(std::string_view key, std::chrono::milliseconds pause) override {
    const std::string k(key);
    try {
      pool_.Run([&](pqxx::connection& c) {
        pqxx::work tx(c);
        tx.exec_prepared("kl_ensure", k);
        tx.exec_prepared("kl_defer", k, static_cast<int64_t>(pause.count()));
        tx.commit();
      });
    } catch (const std::exception& e) {
      spdlog::warn("key limiter: could not pause {} ({})", k, e.what());
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
      const int64_t sent_at = row[2].as<int64_t>();
      const std::optional<int64_t> held_until =
          row[3].is_null() ? std::nullopt : std::optional<int64_t>(row[3].as<int64_t>());
      if (limit.max_concurrent > 0) {
        tx.exec_prepared("kl_expire", key);
        if (tx.exec_prepared1("kl_count", key)[0].as<int64_t>() >= limit.max_concurrent) {
          return 50;  // a holder lets go some time; poll
        }
      }
      const GcraDecision rate = DecideKeyStart(next_start, now, limit.rate, limit.period.count());
      if (!rate.admitted) return rate.conforms_at - now;
      if (limit.min_gap.count() > 0) {
        // Someone admitted has not sent yet, or the last send is too recent.
        if (held_until) return *held_until - now;
        if (now < sent_at + limit.min_gap.count()) return sent_at + limit.min_gap.count() - now;
        tx.exec_prepared("kl_hold", key, holder, static_cast<int64_t>(std::chrono::milliseconds(kSendHold).count()));
      }
      if (rate.next_tat != next_start) tx.exec_prepared("kl_next", key, rate.next_tat);
      if (limit.max_concurrent > 0) tx.exec_prepared("kl_take", key, holder, lease_.count());
      tx.commit();
      if (limit.max_concurrent > 0) {
        std::lock_guard lock(held_mutex_);
        held_.insert(holder);
      }
      return -1;
    });
  }

  // The request is leaving: the gap counts from the database's clock now.
  void Sent(const std::string& key, const std::string& holder) {
    try {
      pool_.Run([&](pqxx::connection& c) {
        pqxx::nontransaction tx(c);
        tx.exec_prepared("kl_sent", key, holder);
      });
    } catch (const std::exception& e) {
      // Safe side: the key stays held until kSendHold passes.
      spdlog::warn("key limiter: send on {} not recorded ({}); the key waits out its hold", key, e.what());
    }
  }

  void Release(const std::string& key, const std::string& holder, bool units, bool unsent) {
    {
      std::lock_guard lock(held_mutex_);
      held_.erase(holder);
    }
    if (!units && !unsent) return;  // a gap's turn given back by its send: nothing held
    try {
      pool_.Run([&](pqxx::connection& c) {
        pqxx::nontransaction tx(c);
        if (units) tx.exec_prepared("kl_release", holder);
        if (unsent) tx.exec_prepared("kl_unhold", key, holder);  // a holder that never sent
      });
    } catch (const std::exception& e) {
      // The lease frees it later; a release must never throw from a destructor.
      spdlog::warn("key limiter: permit not released now ({}); its lease will free it", e.what());
    }
  }

  // A live holder's permits never expire: every third of a lease, their
  // leases are renewed; a process that died stops renewing, and its
  // permits are free one lease later.
  void RenewLoop() {
    std::unique_lock lock(held_mutex_);
    while (!renew_wake_.wait_for(lock, lease_ / 3, [this] { return stopping_; })) {
      if (held_.empty()) continue;
      std::string holders = "{";
      for (const auto& h : held_) holders += (holders.size() > 1 ? "," : "") + h;
      holders += "}";
      lock.unlock();
      try {
        pool_.Run([&](pqxx::connection& c) {
          pqxx::nontransaction tx(c);
          tx.exec_prepared("kl_renew", holders, static_cast<int64_t>(lease_.count()));
        });
      } catch (const std::exception& e) {
        spdlog::warn("key limiter: permit leases not renewed ({}); retrying", e.what());
      }
      lock.lock();
    }
  }

  std::chrono::milliseconds lease_;
  pg::ConnectionPool pool_;
  std::mutex held_mutex_;
  std::condition_variable renew_wake_;
  std::set<std::string> held_;  // holders of this process's permits (uuids)
  bool stopping_ = false;
  std::thread renewer_;  // last: started once the rest is built
};

}  // namespace

std::unique_ptr<KeyLimiter> MakePostgresKeyLimiter(const std::string& database_url,
                                                   size_t max_connections,
                                                   std::chrono::milliseconds permit_lease) {
  return std::make_unique<PostgresKeyLimiter>(database_url, max_connections, permit_lease);
}

}  // namespace fila
