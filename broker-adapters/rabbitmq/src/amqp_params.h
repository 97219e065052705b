#pragma once

// Private to the RabbitMQ adapter: the broker URL, parsed once. Free of
// <amqp.h> so that its tests need no broker.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fila/broker_rabbitmq/rabbitmq_broker.h"

namespace fila::rabbitmq {

// Nodes one URL may name: a cluster has a handful; a long list is a mistake.
inline constexpr size_t kMaxNodes = 32;

// One node of the broker.
struct NodeParams {
  std::string host;
  int port = 5672;
  std::string user;
  std::string password;
  std::string vhost;
  std::string redacted_url;  // the only form that may be logged
};

// The URL parsed once by the broker and shared read-only by every publisher
// and consumer it makes.
struct ConnectionParams {
  std::vector<NodeParams> nodes;  // at least one, in the URL's order
  std::string redacted_url;       // every node, passwords masked
  RabbitMqQueueType queue_type = RabbitMqQueueType::kClassic;
  std::chrono::milliseconds connect_timeout{5000};
  int heartbeat_seconds = 10;
};

// One URL per node: `url` split where a comma is followed by another
// "scheme://" (a list of URLs), and a URL whose authority names several
// hosts ("amqp://u:p@h1:5672,h2/vh") expanded into one URL per host with the
// same credentials and path. Spaces around the list's commas are dropped.
// Throws PermanentError (passwords masked) for an empty list, an empty
// element or host, or more than kMaxNodes nodes.
std::vector<std::string> SplitNodeUrls(std::string_view url);

// Throws PermanentError for an unparsable or unsupported URL of any node,
// or for nodes naming different vhosts.
ConnectionParams ParseParams(const RabbitMqOptions& options);

}  // namespace fila::rabbitmq
