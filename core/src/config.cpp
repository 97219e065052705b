#include "fila/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <regex>

namespace fila {

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return value;
}

bool EnvFlag(const char* name) {
  std::string value = EnvOr(name, "");
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return value == "1" || value == "true" || value == "yes" || value == "on";
}

std::string RedactUrl(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  auto at = url.find('@', scheme + 3);
  if (at == std::string_view::npos) return std::string(url);
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  std::string redacted(url.substr(0, colon + 1));
  redacted += "***";
  redacted += url.substr(at);
  return redacted;
}

std::string RedactSecrets(std::string_view text) {
  // Regexes are slow; most lines hold no hint of a secret and skip them.
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::string_view kHints[] = {"://", "bearer", "authorization", "fila_",
                                                "pass", "secret", "token", "key"};
  if (std::none_of(std::begin(kHints), std::end(kHints),
                   [&](std::string_view h) { return lower.find(h) != std::string::npos; })) {
    return std::string(text);
  }
  using std::regex_constants::icase;
  static const std::regex kUrlPassword(R"(([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@)", icase);
  static const std::regex kBearer(R"(((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+)", icase);
  static const std::regex kFilaToken(R"(\bfila_[0-9a-f]{16,})");
  static const std::regex kPair(
      R"re(((?:password|passwd|pwd|secret|token|api[_-]?key|app[_-]?key|app[_-]?secret|access[_-]?key)["']?\s*[=:]\s*["']?)[^\s&"',;}]+)re",
      icase);
  std::string out(text);
  out = std::regex_replace(out, kUrlPassword, "$1***@");
  out = std::regex_replace(out, kBearer, "$1***");
  out = std::regex_replace(out, kFilaToken, "fila_***");
  out = std::regex_replace(out, kPair, "$1***");
  return out;
}

std::vector<std::string> SplitList(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace fila
