#pragma once

// A small thread-safe pool of connections for stores used by many threads
// at once (handlers run on every worker slot).

#include <pqxx/pqxx>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pg_support.h"

namespace fila::pg {

class ConnectionPool final {
 public:
  // `prepare` runs on every new connection (prepared statements).
  ConnectionPool(std::string url, size_t max_connections,
                 std::function<void(pqxx::connection&)> prepare = {})
      : url_(std::move(url)), max_(max_connections), prepare_(std::move(prepare)) {}

  // Runs `fn` on a pooled connection, translating library errors like
  // PostgresStore does; a broken connection is dropped, not returned.
  // Waits for a free connection when all `max_connections` are busy.
  template <typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<pqxx::connection&>())) {
    auto conn = Take();
    bool broken = false;
    try {
      if constexpr (std::is_void_v<decltype(fn(*conn))>) {
        fn(*conn);
        Give(std::move(conn), false);
      } else {
        auto result = fn(*conn);
        Give(std::move(conn), false);
        return result;
      }
    } catch (...) {
      try {
        Translate(broken);
      } catch (...) {
        Give(std::move(conn), broken);
        throw;
      }
    }
  }

 private:
  std::unique_ptr<pqxx::connection> Take();
  void Give(std::unique_ptr<pqxx::connection> conn, bool broken);

  std::string url_;
  size_t max_;
  std::function<void(pqxx::connection&)> prepare_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  size_t open_ = 0;
};

}  // namespace fila::pg
