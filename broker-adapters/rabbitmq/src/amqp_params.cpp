#include "amqp_params.h"

#include <amqp.h>

#include <algorithm>

#include "fila/core/config.h"
#include "fila/core/errors.h"

namespace fila {

RabbitMqQueueType ParseRabbitMqQueueType(std::string_view name) {
  if (name == "classic") return RabbitMqQueueType::kClassic;
  if (name == "quorum") return RabbitMqQueueType::kQuorum;
  // The name is the operator's own setting, but cut: it may be anything.
  throw PermanentError("unknown queue type '" + std::string(name.substr(0, 40)) +
                           "': use classic or quorum",
                       "queue_type");
}

const char* ToString(RabbitMqQueueType type) {
  return type == RabbitMqQueueType::kQuorum ? "quorum" : "classic";
}

}  // namespace fila

namespace fila::rabbitmq {

namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsSchemeChar(char c) {
  return IsAlpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '.' || c == '-';
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsBlank(text.back())) text.remove_suffix(1);
  return text;
}

// Whether a "scheme://" starts at `at`. Stops at the first character that
// cannot be in a scheme, so scanning a whole text this way stays linear.
bool StartsUrl(std::string_view text, size_t at) {
  if (at >= text.size() || !IsAlpha(text[at])) return false;
  size_t i = at;
  while (i < text.size() && IsSchemeChar(text[i])) ++i;
  return text.substr(i, 3) == "://";
}

[[noreturn]] void Refuse(std::string_view url, const std::string& why) {
  throw PermanentError("invalid AMQP URL '" + RedactUrl(url) + "': " + why, "url");
}

// The elements of a comma-separated list of URLs. A comma followed by
// "scheme://", by another comma or by the end separates elements (the last
// two make an empty one); any other belongs to its URL (a host list, or a
// password).
std::vector<std::string_view> SplitUrlList(std::string_view url) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (size_t i = 0; i < url.size(); ++i) {
    if (url[i] != ',') continue;
    size_t next = i + 1;
    while (next < url.size() && IsBlank(url[next])) ++next;
    if (next < url.size() && url[next] != ',' && !StartsUrl(url, next)) continue;
    pieces.push_back(Trim(url.substr(start, i - start)));
    if (pieces.size() > kMaxNodes) Refuse(url, "more than " + std::to_string(kMaxNodes) + " nodes");
    start = next;
  }
  pieces.push_back(Trim(url.substr(start)));
  return pieces;
}

// Appends one URL per host of `url`'s authority to `out`.
void ExpandHosts(std::string_view whole, std::string_view url, std::vector<std::string>& out) {
  const size_t scheme = url.find("://");
  const size_t authority = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t end = url.find_first_of("/?#", authority);
  if (end == std::string_view::npos) end = url.size();
  const std::string_view auth = url.substr(authority, end - authority);
  const size_t at = auth.rfind('@');
  const size_t hosts_start = authority + (at == std::string_view::npos ? 0 : at + 1);
  const std::string_view hosts = url.substr(hosts_start, end - hosts_start);
  if (scheme == std::string_view::npos || hosts.find(',') == std::string_view::npos) {
    out.emplace_back(url);  // one node; amqp_parse_url judges the rest
  } else {
    const std::string_view prefix = url.substr(0, hosts_start);  // "amqp://u:p@"
    const std::string_view suffix = url.substr(end);             // "/vhost"
    size_t start = 0;
    while (start <= hosts.size()) {
      size_t comma = hosts.find(',', start);
      if (comma == std::string_view::npos) comma = hosts.size();
      const std::string_view host = Trim(hosts.substr(start, comma - start));
      if (host.empty()) Refuse(whole, "empty host in the host list");
      out.push_back(std::string(prefix).append(host).append(suffix));
      if (out.size() > kMaxNodes) Refuse(whole, "more than " + std::to_string(kMaxNodes) + " nodes");
      start = comma + 1;
    }
  }
  if (out.size() > kMaxNodes) Refuse(whole, "more than " + std::to_string(kMaxNodes) + " nodes");
}

NodeParams ParseNode(const std::string& url) {
  NodeParams node;
  node.redacted_url = RedactUrl(url);
  // amqp_parse_url writes into its argument and points `info` into it.
  std::string scratch = url;
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  const int status = amqp_parse_url(scratch.data(), &info);
  if (status != AMQP_STATUS_OK) Refuse(url, amqp_error_string2(status));
  if (info.ssl) {
    throw PermanentError("amqps:// URLs are not supported yet: '" + node.redacted_url + "'", "url");
  }
  if (*info.host == '\0') Refuse(url, "no host");
  node.host = info.host;
  node.port = info.port;
  node.user = info.user;
  node.password = info.password;
  // rabbitmq-c reads "amqp://host/" as the empty vhost, which RabbitMQ
  // never has; everyone writing it means the default vhost "/".
  node.vhost = *info.vhost != '\0' ? info.vhost : "/";
  return node;
}

}  // namespace

std::vector<std::string> SplitNodeUrls(std::string_view url) {
  std::vector<std::string> urls;
  for (std::string_view piece : SplitUrlList(url)) {
    if (piece.empty()) {
      Refuse(url, url.empty() ? "empty" : "an empty element in the list of nodes");
    }
    ExpandHosts(url, piece, urls);
  }
  return urls;
}

ConnectionParams ParseParams(const RabbitMqOptions& options) {
  ConnectionParams params;
  params.redacted_url = RedactUrl(options.url);
  for (const std::string& url : SplitNodeUrls(options.url)) params.nodes.push_back(ParseNode(url));
  for (const NodeParams& node : params.nodes) {
    // Queues live in a vhost: nodes of one cluster serving different
    // vhosts would split the queues, not replicate them.
    if (node.vhost != params.nodes.front().vhost) {
      throw PermanentError("AMQP URL '" + params.redacted_url + "' names two vhosts ('" +
                               params.nodes.front().vhost + "' and '" + node.vhost +
                               "'); every node must name the same one",
                           "url");
    }
  }
  params.queue_type = options.queue_type;
  params.connect_timeout = std::max(options.connect_timeout, std::chrono::milliseconds(1));
  auto heartbeat_ms = std::max<int64_t>(options.heartbeat.count(), 0);
  // AMQP negotiates whole seconds; round up so a sub-second request still
  // enables heartbeats.
  params.heartbeat_seconds =
      static_cast<int>(std::min<int64_t>((heartbeat_ms + 999) / 1000, 65535));
  return params;
}

}  // namespace fila::rabbitmq
