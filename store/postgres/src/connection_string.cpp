#include "fila/store_postgres/connection_string.h"

#include <optional>
#include <vector>

#include "fila/core/config.h"

namespace fila::pg {
namespace {

// The parsers follow libpq's own (fe-connect.c: conninfo_uri_parse_options,
// conninfo_parse) closely enough to know which keywords a URL sets and where
// an appended keyword lands; libpq still validates the result. One pass,
// index loops with bounds checks, no recursion.

struct Param {
  std::string key;
  std::string value;  // decoded: percent escapes (URI) or quotes (conninfo) removed
};

struct Parsed {
  bool uri = false;
  bool has_query = false;  // URI: a '?' starts the parameters
  std::string hosts;       // URI: the host list between credentials and path
  std::vector<Param> params;

  const std::string* Find(std::string_view key) const {
    for (const auto& p : params) {
      if (p.key == key) return &p.value;
    }
    return nullptr;
  }
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

size_t UriPrefix(std::string_view url) {
  for (std::string_view prefix : {"postgresql://", "postgres://"}) {
    if (url.substr(0, prefix.size()) == prefix) return prefix.size();
  }
  return 0;
}

// scheme://[user[:password]@][host[:port][,...]][/dbname][?key=value&...]
Parsed ParseUri(std::string_view url, size_t prefix) {
  Parsed parsed;
  parsed.uri = true;
  const std::string_view rest = url.substr(prefix);
  // Like libpq: credentials end at the first '@' met before any '/'.
  const size_t mark = rest.find_first_of("@/");
  const size_t host_start = mark != std::string_view::npos && rest[mark] == '@' ? mark + 1 : 0;
  const size_t host_end = rest.find_first_of("/?", host_start);
  parsed.hosts = std::string(rest.substr(host_start, host_end == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : host_end - host_start));
  const size_t query = host_end == std::string_view::npos ? host_end : rest.find('?', host_end);
  if (query == std::string_view::npos) return parsed;
  parsed.has_query = true;
  const std::string_view params = rest.substr(query + 1);
  size_t start = 0;
  while (start < params.size()) {
    size_t end = params.find('&', start);
    if (end == std::string_view::npos) end = params.size();
    const std::string_view piece = params.substr(start, end - start);
    const size_t eq = piece.find('=');
    if (!piece.empty()) {
      parsed.params.push_back({PercentDecode(piece.substr(0, eq)),
                               eq == std::string_view::npos ? "" : PercentDecode(piece.substr(eq + 1))});
    }
    start = end + 1;
  }
  return parsed;
}

// key = value key='quoted \' value' ...; empty when libpq would refuse it,
// or when text appended after it would be read as part of its last value
// (an unterminated quote, a trailing backslash).
std::optional<Parsed> ParseKeywords(std::string_view s) {
  Parsed parsed;
  const size_t n = s.size();
  size_t i = 0;
  for (;;) {
    while (i < n && IsSpace(s[i])) ++i;
    if (i >= n) return parsed;
    const size_t key_start = i;
    while (i < n && s[i] != '=' && !IsSpace(s[i])) ++i;
    Param param{std::string(s.substr(key_start, i - key_start)), {}};
    while (i < n && IsSpace(s[i])) ++i;
    if (i >= n || s[i] != '=' || param.key.empty()) return std::nullopt;
    ++i;
    while (i < n && IsSpace(s[i])) ++i;
    if (i < n && s[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < n && !closed) {
        if (s[i] == '\\' && i + 1 < n) ++i;
        else if (s[i] == '\\') return std::nullopt;
        else if (s[i] == '\'') closed = true;
        if (!closed) param.value += s[i];
        ++i;
      }
      if (!closed) return std::nullopt;
    } else {
      while (i < n && !IsSpace(s[i])) {
        if (s[i] == '\\' && ++i >= n) return std::nullopt;
        param.value += s[i++];
      }
    }
    parsed.params.push_back(std::move(param));
  }
}

std::optional<Parsed> Parse(std::string_view url) {
  if (const size_t prefix = UriPrefix(url)) return ParseUri(url, prefix);
  return ParseKeywords(url);
}

bool ListsSeveral(const std::string* value) { return value != nullptr && value->find(',') != std::string::npos; }

bool IsMultiHost(const Parsed& parsed) {
  return parsed.hosts.find(',') != std::string::npos || ListsSeveral(parsed.Find("host")) ||
         ListsSeveral(parsed.Find("hostaddr"));
}

bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// `value` as a URI query value (percent-encoded) or as a conninfo value
// (quoted when it holds anything but unreserved characters).
std::string Encoded(std::string_view value, bool uri) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  bool plain = !value.empty();
  for (char c : value) plain = plain && IsUnreserved(c);
  if (plain) return std::string(value);
  std::string out = uri ? "" : "'";
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (uri && !IsUnreserved(c)) {
      out.append({'%', kHex[byte >> 4], kHex[byte & 0xF]});
      continue;
    }
    if (!uri && (c == '\'' || c == '\\')) out += '\\';
    out += c;
  }
  return uri ? out : out + "'";
}

}  // namespace

ConnectionDefaults ConnectionDefaults::FromEnvironment() {
  ConnectionDefaults d;
  // libpq reads these itself when the URL lacks the keyword; an appended
  // default would override the operator's choice.
  if (!EnvOr("PGCONNECT_TIMEOUT", "").empty()) d.connect_timeout.clear();
  if (!EnvOr("PGTARGETSESSIONATTRS", "").empty()) d.target_session_attrs.clear();
  d.statement_timeout = EnvOr("FILA_DATABASE_STATEMENT_TIMEOUT", d.statement_timeout);
  if (d.statement_timeout == "0" || EnvOr("PGOPTIONS", "").find("statement_timeout") != std::string::npos) {
    d.statement_timeout.clear();
  }
  return d;
}

std::string ConnectionString(std::string_view url, const ConnectionDefaults& defaults) {
  const std::optional<Parsed> parsed = Parse(url);
  if (!parsed) return std::string(url);
  std::string out(url);
  bool query_open = parsed->has_query;  // URI: '?' written, parameters may follow
  auto add = [&](std::string_view key, const std::string& value) {
    if (value.empty() || parsed->Find(key) != nullptr) return;
    if (parsed->uri) {
      if (!query_open) out += '?';
      else if (out.back() != '?' && out.back() != '&') out += '&';
      query_open = true;
      out.append(key).append("=").append(Encoded(value, true));
    } else {
      if (!out.empty()) out += ' ';
      out.append(key).append("=").append(Encoded(value, false));
    }
  };
  add("connect_timeout", defaults.connect_timeout);
  add("keepalives", defaults.keepalives);
  add("keepalives_idle", defaults.keepalives_idle);
  add("keepalives_interval", defaults.keepalives_interval);
  add("keepalives_count", defaults.keepalives_count);
  add("tcp_user_timeout", defaults.tcp_user_timeout);
  if (IsMultiHost(*parsed)) add("target_session_attrs", defaults.target_session_attrs);
  return out;
}

bool SetsStatementTimeout(std::string_view url) {
  const std::optional<Parsed> parsed = Parse(url);
  if (!parsed) return url.find("statement_timeout") != std::string_view::npos;
  const std::string* options = parsed->Find("options");
  return options != nullptr && options->find("statement_timeout") != std::string::npos;
}

bool IsMultiHost(std::string_view url) {
  const std::optional<Parsed> parsed = Parse(url);
  return parsed && IsMultiHost(*parsed);
}

}  // namespace fila::pg
