#include "admission.h"

#include <utility>

#include "router_support.h"

namespace fila::api {
namespace {

// Seconds a refused caller is asked to wait: short, since requests finish
// within seconds; streams last longer.
constexpr int kRetryRequestS = 1;
constexpr int kRetryStreamS = 10;

bool Full(size_t count, size_t limit) { return limit != 0 && count >= limit; }

void Decrement(std::unordered_map<std::string, size_t>& counts, const std::string& key) {
  auto it = counts.find(key);
  if (it != counts.end() && --it->second == 0) counts.erase(it);
}

}  // namespace

Admission::Slot& Admission::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    stream_ = other.stream_;
    tenant_counted_ = other.tenant_counted_;
    client_ = std::move(other.client_);
    tenant_ = std::move(other.tenant_);
  }
  return *this;
}

void Admission::Slot::Release() {
  if (owner_ != nullptr) std::exchange(owner_, nullptr)->Release(*this);
}

Admission::Slot Admission::EnterRequest(const std::string& client) {
  std::lock_guard lock(mutex_);
  if (Full(requests_, limits_.in_flight)) {
    throw ApiError{503, "unavailable", "the server is busy; retry later", "", kRetryRequestS};
  }
  if (Full(per_client_.contains(client) ? per_client_[client] : 0, limits_.in_flight_per_client)) {
    throw ApiError{429, "resource_exhausted",
                   "too many requests in flight from this address; retry later", "", kRetryRequestS};
  }
  ++requests_;
  ++per_client_[client];
  Slot slot;
  slot.owner_ = this;
  slot.client_ = client;
  return slot;
}

void Admission::CountTenant(Slot& slot, const std::string& tenant) {
  std::lock_guard lock(mutex_);
  if (Full(per_tenant_.contains(tenant) ? per_tenant_[tenant] : 0, limits_.in_flight_per_tenant)) {
    throw ApiError{429, "resource_exhausted",
                   "too many requests in flight for this tenant; retry later", "", kRetryRequestS};
  }
  ++per_tenant_[tenant];
  slot.tenant_ = tenant;
  slot.tenant_counted_ = true;
}

Admission::Slot Admission::EnterStream(const std::string& tenant) {
  std::lock_guard lock(mutex_);
  if (Full(streams_, limits_.streams)) {
    throw ApiError{503, "unavailable", "too many event streams are open; retry later", "",
                   kRetryStreamS};
  }
  if (Full(streams_per_tenant_.contains(tenant) ? streams_per_tenant_[tenant] : 0,
           limits_.streams_per_tenant)) {
    throw ApiError{429, "resource_exhausted",
                   "too many event streams open for this tenant; retry later", "", kRetryStreamS};
  }
  ++streams_;
  ++streams_per_tenant_[tenant];
  Slot slot;
  slot.owner_ = this;
  slot.stream_ = true;
  slot.tenant_ = tenant;
  return slot;
}

void Admission::Release(Slot& slot) {
  std::lock_guard lock(mutex_);
  if (slot.stream_) {
    --streams_;
    Decrement(streams_per_tenant_, slot.tenant_);
    return;
  }
  --requests_;
  Decrement(per_client_, slot.client_);
  if (slot.tenant_counted_) Decrement(per_tenant_, slot.tenant_);
}

}  // namespace fila::api
