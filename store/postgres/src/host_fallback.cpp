#include "host_fallback.h"

#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string_view>

namespace fila::pg {
namespace {

std::vector<std::string> SplitCommas(const char* list) {
  std::vector<std::string> out;
  if (list == nullptr) return out;
  std::string_view rest(list);
  for (;;) {
    const size_t comma = rest.find(',');
    out.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

// The i-th entry of a libpq host/port list: one entry serves every host.
std::string At(const std::vector<std::string>& list, size_t i) {
  if (list.empty()) return {};
  return list.size() == 1 ? list[0] : (i < list.size() ? list[i] : std::string());
}

std::string Quoted(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// Whether libpq's message names host `host` at port `port`: its lines read
// `connection to server at "HOST" (ADDR), port PORT failed: ...`.
bool Names(std::string_view error, const std::string& host, const std::string& port) {
  const std::string at = "\"" + host + "\"";
  size_t line_start = 0;
  while (line_start < error.size()) {
    size_t line_end = error.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = error.size();
    const std::string_view line = error.substr(line_start, line_end - line_start);
    const size_t quoted = line.find(at);
    if (quoted != std::string_view::npos &&
        line.find("port " + (port.empty() ? std::string("5432") : port) + " failed", quoted) !=
            std::string_view::npos) {
      return true;
    }
    line_start = line_end + 1;
  }
  return false;
}

}  // namespace

std::vector<std::string> UntriedHosts(const std::string& conninfo, const std::string& error) {
  char* parse_error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(conninfo.c_str(), &parse_error), &PQconninfoFree);
  if (parse_error != nullptr) PQfreemem(parse_error);
  if (!options) return {};
  std::vector<std::string> hosts, addresses, ports;
  std::string others;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key(o->keyword);
    if (key == "host") {
      hosts = SplitCommas(o->val);
    } else if (key == "hostaddr") {
      addresses = SplitCommas(o->val);
    } else if (key == "port") {
      ports = SplitCommas(o->val);
    } else {
      others.append(o->keyword).append("=").append(Quoted(o->val)).append(" ");
    }
  }
  const size_t count = std::max(hosts.size(), addresses.size());
  if (count < 2) return {};
  // libpq stopped at the last host its message names.
  std::optional<size_t> last_named;
  for (size_t i = 0; i < count; ++i) {
    const std::string host = At(hosts, i).empty() ? At(addresses, i) : At(hosts, i);
    if (Names(error, host, At(ports, i))) last_named = i;
  }
  if (!last_named) return {};
  std::vector<std::string> out;
  for (size_t i = *last_named + 1; i < count; ++i) {
    std::string single = others;
    if (!At(hosts, i).empty()) single += "host=" + Quoted(At(hosts, i)) + " ";
    if (!At(addresses, i).empty()) single += "hostaddr=" + Quoted(At(addresses, i)) + " ";
    if (!At(ports, i).empty()) single += "port=" + Quoted(At(ports, i));
    out.push_back(std::move(single));
  }
  return out;
}

}  // namespace fila::pg
