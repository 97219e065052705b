#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "fila/api/api_server.h"

namespace fila::api {

// Counts what is in flight and refuses what would pass a limit, with the
// API's error (ApiError from router_support.h): 503 past a global limit (the
// server is full), 429 past a tenant's or client's share, both with a
// Retry-After. Thread-safe; never blocks.
class Admission final {
 public:
  explicit Admission(ApiLimits limits) : limits_(limits) {}

  // What one request or stream holds; released when destroyed. Move-only.
  class Slot final {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept { *this = std::move(other); }
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Release(); }
    void Release();

   private:
    friend class Admission;
    Admission* owner_ = nullptr;
    bool stream_ = false;
    bool tenant_counted_ = false;
    std::string client_;
    std::string tenant_;
  };

  // A request from `client` (its address). Throws ApiError past a limit.
  Slot EnterRequest(const std::string& client);
  // The request's tenant is known: it counts against it too. Throws
  // ApiError (429) past the tenant's share; `slot` is left as it was.
  void CountTenant(Slot& slot, const std::string& tenant);
  // An event stream of `tenant`. Throws ApiError past a limit.
  Slot EnterStream(const std::string& tenant);

 private:
  void Release(Slot& slot);

  const ApiLimits limits_;
  std::mutex mutex_;
  size_t requests_ = 0;
  size_t streams_ = 0;
  // Keys are erased at zero, so only what is in flight takes memory.
  std::unordered_map<std::string, size_t> per_client_;
  std::unordered_map<std::string, size_t> per_tenant_;
  std::unordered_map<std::string, size_t> streams_per_tenant_;
};

}  // namespace fila::api
