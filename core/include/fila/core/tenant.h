#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fila {

// What operators allow one tenant; producers never set any of it.
// Bindings are (kind, value) pairs: the queues beyond its types' defaults
// ("queue"), and what the installed extensions define (the external
// accounts, targets and folders their tasks may name). Quotas left unset
// take the scheduler's defaults.
struct TenantSettings {
  std::string name;
  bool exists = false;  // false: no row; no bindings, default quotas
  std::map<std::string, std::vector<std::string>> bindings;  // kind -> sorted values
  std::optional<int64_t> max_waiting;          // tasks queued, scheduled or blocked
  std::optional<int64_t> max_schedules;        // cron schedules
  std::optional<int64_t> min_cron_interval_s;  // shortest gap between two slots
  // Its share of the workers against other tenants when the dispatcher
  // orders the outbox (docs/fairness.md); unset: kDefaultTenantWeight.
  std::optional<int64_t> weight;

  const std::vector<std::string>& Bound(std::string_view kind) const;
  bool Holds(std::string_view kind, std::string_view value) const;
};

inline constexpr int64_t kDefaultTenantWeight = 1;
inline constexpr int64_t kMaxTenantWeight = 1000;
// Throws PermanentError (field "weight") unless 1 <= weight <= 1000.
void ValidateTenantWeight(int64_t weight);

// The quotas a tenant gets when its settings leave one unset.
struct TenantQuotaDefaults {
  int64_t max_waiting = 1000000;
  int64_t max_schedules = 1000;
  int64_t min_cron_interval_s = 1;
};

// A kind of binding: its name, what a value is, and its check.
struct BindingKind {
  std::string name;
  std::string description;
  // One tenant at most may hold a value (an account's data must land in
  // exactly one tenant).
  bool exclusive = false;
  // Throws PermanentError (field "value") for a malformed value.
  std::function<void(std::string_view value)> validate;
};

// The binding kinds operators may set: core's "queue", then those of the
// installed extensions (InstallExtensions, extension.h). FindBindingKind
// throws PermanentError (field "kind") for an unknown kind.
const std::vector<BindingKind>& BindingKinds();
const BindingKind& FindBindingKind(std::string_view kind);

// Tenant names are folder names too (each tenant's files live under
// <root>/<tenant>): 1-64 of [A-Za-z0-9_.-], starting with a letter or a
// digit. Throws PermanentError (field "tenant").
void ValidateTenantName(std::string_view tenant);

// Whether `url` lies under one of `targets` (http(s) URL prefixes): same
// scheme, host and port, and a path equal to the target's or below it at a
// '/' boundary. No user info is ever accepted in `url`.
bool UrlUnderTargets(std::string_view url, const std::vector<std::string>& targets);
// Whether `url` may be a target of UrlUnderTargets: an http(s) URL of at
// most 2 KB without user info, query, fragment, dot segments or encoded
// separators.
bool ValidTargetUrl(std::string_view url);

// How handlers read the settings of a task's tenant (a TenantDirectory in
// the worker, a fixed table in tests). Throws TransientError when they
// cannot be read now.
using TenantLookup = std::function<TenantSettings(const std::string& tenant)>;

// Operator-managed tenant settings in durable storage. Thread-safe.
class TenantStore {
 public:
  virtual ~TenantStore() = default;
  // The tenant's settings; exists = false (and nothing bound) without a row.
  virtual TenantSettings Get(const std::string& tenant) = 0;
  virtual std::vector<TenantSettings> List() = 0;
  // Creates the tenant or replaces its quotas; bindings are left alone.
  virtual TenantSettings PutQuotas(const TenantSettings& settings) = 0;
  // Adds a binding (creating the tenant). PermanentError when an exclusive
  // value is held by another tenant.
  virtual void Bind(const std::string& tenant, const std::string& kind, const std::string& value) = 0;
  // False when the binding did not exist.
  virtual bool Unbind(const std::string& tenant, const std::string& kind, const std::string& value) = 0;
  // Deletes the tenant's settings and bindings (its tasks stay); false when
  // there was no row.
  virtual bool Delete(const std::string& tenant) = 0;
  // Tasks of the tenant waiting to run (queued, scheduled or blocked),
  // counted up to `at_most`: a quota's check needs no more, and a backlog
  // of millions costs a count no more than its quota.
  virtual int64_t CountWaiting(const std::string& tenant, int64_t at_most) = 0;
  virtual int64_t CountSchedules(const std::string& tenant) = 0;
};

// Tenant settings as the daemons read them on hot paths: each tenant read
// from the store at most once per `ttl` (a change bites within it).
// Thread-safe. Store errors propagate (TransientError: try again later).
class TenantDirectory final {
 public:
  TenantDirectory(std::unique_ptr<TenantStore> store, std::chrono::milliseconds ttl);
  TenantSettings Get(const std::string& tenant);
  TenantStore& Store() { return *store_; }

 private:
  struct Entry {
    TenantSettings settings;
    std::chrono::steady_clock::time_point expires;
  };
  std::unique_ptr<TenantStore> store_;
  std::chrono::milliseconds ttl_;
  std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> cache_;
};

}  // namespace fila
