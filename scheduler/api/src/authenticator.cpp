#include "authenticator.h"

#include <string_view>

#include "fila/core/errors.h"
#include "router_support.h"

namespace fila::api {
namespace {

// Valid tokens cached at most; past it expired entries go first, and a
// token that finds no room is simply looked up every time.
constexpr size_t kMaxCachedTokens = 10000;
// How long an unknown token waits for a lookup slot before the request is
// answered 503.
constexpr auto kLookupWait = std::chrono::seconds(1);

}  // namespace

Authenticator::Authenticator(StorePool& stores, std::chrono::milliseconds ttl,
                             size_t max_unknown_lookups)
    : stores_(stores), ttl_(ttl), max_unknown_lookups_(std::max<size_t>(1, max_unknown_lookups)) {}

std::optional<Caller> Authenticator::Authenticate(const std::string& authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() || authorization.compare(0, kBearer.size(), kBearer) != 0) {
    return std::nullopt;
  }
  const std::string token = authorization.substr(kBearer.size());
  const auto now = std::chrono::steady_clock::now();
  {
    std::unique_lock lock(mutex_);
    auto it = valid_.find(token);
    if (it != valid_.end() && it->second.expires > now) return it->second.caller;
    if (it == valid_.end()) {
      // Never seen, or not valid: one of the few unknown-token lookups.
      if (!lookup_freed_.wait_for(lock, kLookupWait,
                                  [&] { return unknown_lookups_ < max_unknown_lookups_; })) {
        throw TransientError("too many unknown tokens are being checked");
      }
      ++unknown_lookups_;
      lock.unlock();
      struct Done {
        Authenticator& self;
        ~Done() {
          {
            std::lock_guard relock(self.mutex_);
            --self.unknown_lookups_;
          }
          self.lookup_freed_.notify_one();
        }
      } done{*this};
      return LookUp(token);
    }
  }
  return LookUp(token);  // a known token whose entry expired: checked again
}

std::optional<Caller> Authenticator::LookUp(const std::string& token) {
  std::optional<Caller> caller;
  {
    auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
    if (auto info = store->Authenticate(token)) caller = Caller{info->tenant, info->role == "operator", info->id};
  }
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (!caller) {
    valid_.erase(token);  // revoked since it was cached
    return caller;
  }
  if (valid_.size() >= kMaxCachedTokens && !valid_.contains(token)) {
    std::erase_if(valid_, [&](const auto& entry) { return entry.second.expires <= now; });
  }
  if (valid_.size() < kMaxCachedTokens || valid_.contains(token)) {
    valid_[token] = {*caller, now + ttl_};
  }
  return caller;
}

}  // namespace fila::api
