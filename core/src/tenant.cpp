#include "fila/core/tenant.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "fila/core/errors.h"

namespace fila {
namespace {

bool Word(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct ParsedUrl {
  std::string scheme;
  std::string host;  // lower-case
  std::string port;  // explicit or the scheme's
  std::string path;  // "" or starting with '/', no trailing '/'
};

// Only what upload targets need: http(s)://host[:port][/path], no user
// info, query or fragment, no dot segments or encoded separators.
std::optional<ParsedUrl> ParseTargetUrl(std::string_view url) {
  ParsedUrl out;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  out.scheme = Lower(url.substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  if (rest.find_first_of("?#@\\ \t\r\n") != std::string_view::npos) return std::nullopt;
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  const auto colon = authority.rfind(':');
  const bool bracketed = !authority.empty() && authority.front() == '[';
  if (colon != std::string_view::npos && (!bracketed || colon > authority.find(']'))) {
    out.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
    if (out.port.empty() || !std::all_of(out.port.begin(), out.port.end(), ::isdigit)) return std::nullopt;
  } else {
    out.port = out.scheme == "https" ? "443" : "80";
  }
  if (authority.empty()) return std::nullopt;
  out.host = Lower(authority);
  const std::string lower_path = Lower(path);
  if (lower_path.find("%2e") != std::string::npos || lower_path.find("%2f") != std::string::npos ||
      lower_path.find("%5c") != std::string::npos) {
    return std::nullopt;
  }
  for (size_t start = 1; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return std::nullopt;
    start = end + 1;
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.path = std::string(path);
  return out;
}

}  // namespace

const std::vector<std::string>& TenantSettings::Bound(std::string_view kind) const {
  static const std::vector<std::string> kNone;
  auto it = bindings.find(std::string(kind));
  return it == bindings.end() ? kNone : it->second;
}

bool TenantSettings::Holds(std::string_view kind, std::string_view value) const {
  const auto& values = Bound(kind);
  return std::find(values.begin(), values.end(), value) != values.end();
}

const BindingKind& FindBindingKind(std::string_view kind) {
  for (const auto& k : BindingKinds()) {
    if (k.name == kind) return k;
  }
  std::string known;
  for (const auto& k : BindingKinds()) known += (known.empty() ? "" : ", ") + k.name;
  throw PermanentError("unknown binding kind '" + std::string(kind).substr(0, 64) + "' (known: " + known + ")",
                       "kind");
}

void ValidateTenantName(std::string_view tenant) {
  const bool ok = !tenant.empty() && tenant.size() <= 64 &&
                  std::isalnum(static_cast<unsigned char>(tenant.front())) != 0 &&
                  std::all_of(tenant.begin(), tenant.end(),
                              [](char c) { return Word(c) || c == '-' || c == '.'; });
  if (!ok) {
    throw PermanentError("a tenant is 1 to 64 of [A-Za-z0-9_.-], starting with a letter or digit",
                         "tenant");
  }
}

void ValidateTenantWeight(int64_t weight) {
  if (weight < 1 || weight > kMaxTenantWeight) {
    throw PermanentError("a tenant's weight is 1 to " + std::to_string(kMaxTenantWeight), "weight");
  }
}

bool ValidTargetUrl(std::string_view url) { return url.size() <= 2048 && ParseTargetUrl(url).has_value(); }

bool UrlUnderTargets(std::string_view url, const std::vector<std::string>& targets) {
  const auto u = ParseTargetUrl(url);
  if (!u) return false;
  for (const auto& target : targets) {
    const auto t = ParseTargetUrl(target);
    if (!t || t->scheme != u->scheme || t->host != u->host || t->port != u->port) continue;
    if (u->path == t->path ||
        (u->path.size() > t->path.size() && u->path.compare(0, t->path.size(), t->path) == 0 &&
         u->path[t->path.size()] == '/')) {
      return true;
    }
  }
  return false;
}

TenantDirectory::TenantDirectory(std::unique_ptr<TenantStore> store, std::chrono::milliseconds ttl)
    : store_(std::move(store)), ttl_(ttl) {}

TenantSettings TenantDirectory::Get(const std::string& tenant) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(tenant);
    if (it != cache_.end() && it->second.expires > now) return it->second.settings;
  }
  TenantSettings settings = store_->Get(tenant);
  std::lock_guard lock(mutex_);
  // Only names that passed authentication or a task's validation get here,
  // so the cache holds real tenants; still, never let it grow unbounded.
  if (cache_.size() >= 10000) cache_.clear();
  cache_[tenant] = {settings, now + ttl_};
  return settings;
}

}  // namespace fila
