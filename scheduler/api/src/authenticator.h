#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "store_pool.h"

namespace fila::api {

// Who is calling, from their bearer token.
struct Caller {
  std::string tenant;
  bool operator_role = false;
  std::string token_id;  // who called, for what operators' actions record
};

// Checks bearer tokens against the database. Only valid tokens are cached
// (for `ttl`, so a revocation bites within it): unknown tokens never take
// cache room and cannot evict valid ones. Tokens not in the cache are
// looked up at most `max_unknown_lookups` at a time, so a flood of random
// tokens holds at most that many database connections. Thread-safe.
class Authenticator final {
 public:
  Authenticator(StorePool& stores, std::chrono::milliseconds ttl, size_t max_unknown_lookups);

  // The caller of an `Authorization` header value ("Bearer <token>");
  // nullopt when it is missing, malformed, unknown or revoked. Throws
  // TransientError when the database cannot answer in time (also when too
  // many unknown tokens are being checked at once).
  std::optional<Caller> Authenticate(const std::string& authorization);

 private:
  std::optional<Caller> LookUp(const std::string& token);

  struct Entry {
    Caller caller;
    std::chrono::steady_clock::time_point expires;
  };

  StorePool& stores_;
  const std::chrono::milliseconds ttl_;
  const size_t max_unknown_lookups_;
  std::mutex mutex_;
  std::condition_variable lookup_freed_;
  size_t unknown_lookups_ = 0;
  std::unordered_map<std::string, Entry> valid_;
};

}  // namespace fila::api
