// The RabbitMQ adapter's URL parsing (one node, a list of URLs, a host
// list) and its node rotation: no broker needed.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "amqp_connection.h"
#include "amqp_params.h"
#include "fila/core/errors.h"

namespace fila::rabbitmq {
namespace {

ConnectionParams Parse(const std::string& url) { return ParseParams(RabbitMqOptions{.url = url}); }

// The PermanentError's text for `url`, or "" when it parsed.
std::string Refusal(const std::string& url) {
  try {
    Parse(url);
  } catch (const PermanentError& error) {
    return error.what();
  }
  return "";
}

TEST(RabbitMqParams, OneNode) {
  const ConnectionParams params = Parse("amqp://fila:s3cret@broker.example:5673/jobs");
  ASSERT_EQ(params.nodes.size(), 1u);
  const NodeParams& node = params.nodes[0];
  EXPECT_EQ(node.host, "broker.example");
  EXPECT_EQ(node.port, 5673);
  EXPECT_EQ(node.user, "fila");
  EXPECT_EQ(node.password, "s3cret");
  EXPECT_EQ(node.vhost, "jobs");
  EXPECT_EQ(node.redacted_url, "amqp://fila:***@broker.example:5673/jobs");
  EXPECT_EQ(params.redacted_url, node.redacted_url);
  // Defaults: port 5672, and "amqp://host/" means the default vhost "/".
  const ConnectionParams plain = Parse("amqp://h/");
  EXPECT_EQ(plain.nodes[0].port, 5672);
  EXPECT_EQ(plain.nodes[0].vhost, "/");
  EXPECT_EQ(Parse("amqp://h/%2f").nodes[0].vhost, "/");
}

TEST(RabbitMqParams, CommaSeparatedUrlsAreNodesInOrder) {
  const ConnectionParams params =
      Parse("amqp://u:one@h1:5672/,amqp://u:two@h2:5673/, amqp://v:three@h3/");
  ASSERT_EQ(params.nodes.size(), 3u);
  EXPECT_EQ(params.nodes[0].host, "h1");
  EXPECT_EQ(params.nodes[0].password, "one");
  EXPECT_EQ(params.nodes[1].host, "h2");
  EXPECT_EQ(params.nodes[1].port, 5673);
  EXPECT_EQ(params.nodes[1].password, "two");
  EXPECT_EQ(params.nodes[2].host, "h3");
  EXPECT_EQ(params.nodes[2].user, "v");
  EXPECT_EQ(params.nodes[2].port, 5672);
  for (const NodeParams& node : params.nodes) EXPECT_EQ(node.vhost, "/");
  EXPECT_EQ(params.redacted_url, "amqp://u:***@h1:5672/,amqp://u:***@h2:5673/, amqp://v:***@h3/");
  for (const char* secret : {"one", "two", "three"}) {
    EXPECT_EQ(params.redacted_url.find(secret), std::string::npos) << secret;
  }
}

TEST(RabbitMqParams, HostListSharesCredentialsAndVhost) {
  const ConnectionParams params = Parse("amqp://u:p,w@h1:5672,h2:5673, h3/jobs");
  ASSERT_EQ(params.nodes.size(), 3u);
  EXPECT_EQ(params.nodes[0].host, "h1");
  EXPECT_EQ(params.nodes[1].host, "h2");
  EXPECT_EQ(params.nodes[1].port, 5673);
  EXPECT_EQ(params.nodes[2].host, "h3");
  EXPECT_EQ(params.nodes[2].port, 5672);
  for (const NodeParams& node : params.nodes) {
    EXPECT_EQ(node.user, "u");
    EXPECT_EQ(node.password, "p,w");  // a comma before the '@' is the password's
    EXPECT_EQ(node.vhost, "jobs");
    EXPECT_EQ(node.redacted_url.find("p,w"), std::string::npos) << node.redacted_url;
  }
  EXPECT_EQ(params.nodes[1].redacted_url, "amqp://u:***@h2:5673/jobs");
  // Without a path or credentials.
  EXPECT_EQ(SplitNodeUrls("amqp://h1,h2"),
            (std::vector<std::string>{"amqp://h1", "amqp://h2"}));
  // Both forms in one list.
  EXPECT_EQ(Parse("amqp://h1,h2/,amqp://h3/").nodes.size(), 3u);
}

TEST(RabbitMqParams, BadListsArePermanentErrorsWithoutPasswords) {
  for (const std::string url :
       {"", " ", ",", "amqp://u:s3cret@h1/,", "amqp://u:s3cret@h1/,,amqp://h2/",
        ",amqp://u:s3cret@h1/", "amqp://u:s3cret@h1,,h2/", "amqp://u:s3cret@h1,/",
        "amqp://u:s3cret@,h1/", "amqp://u:s3cret@h1/,http://h2/", "amqp://u:s3cret@h1:x,h2/",
        "amqp://u:s3cret@h1/,amqps://u:s3cret@h2/", "amqp://u:s3cret@h1/a,amqp://u:s3cret@h2/b",
        "amqp://u:s3cret@h1:99999/", "amqp:/", "amqp://,", "://,://"}) {
    const std::string why = Refusal(url);
    EXPECT_FALSE(why.empty()) << "'" << url << "' was accepted";
    EXPECT_EQ(why.find("s3cret"), std::string::npos) << why;
  }
  EXPECT_NE(Refusal("amqp://h1/a,amqp://h2/b").find("vhost"), std::string::npos);
  EXPECT_NE(Refusal("amqp://h1/,,amqp://h2/").find("empty"), std::string::npos);
}

TEST(RabbitMqParams, TooManyNodesAreRefused) {
  std::string hosts = "amqp://h0";
  for (size_t i = 1; i < kMaxNodes; ++i) hosts += ",h" + std::to_string(i);
  EXPECT_EQ(Parse(hosts + "/").nodes.size(), kMaxNodes);
  EXPECT_NE(Refusal(hosts + ",one-more/").find("more than"), std::string::npos);
  std::string urls;
  for (size_t i = 0; i <= kMaxNodes; ++i) urls += "amqp://h" + std::to_string(i) + "/,";
  urls.pop_back();
  EXPECT_NE(Refusal(urls).find("more than"), std::string::npos);
  // A huge list is refused without being expanded.
  std::string huge = "amqp://h";
  for (int i = 0; i < 200000; ++i) huge += ",h";
  EXPECT_NE(Refusal(huge + "/").find("more than"), std::string::npos);
}

TEST(RabbitMqParams, GarbageNeverCrashes) {
  std::mt19937 rng(20);
  const std::string alphabet = "amqp:/@,.%[]: \t5672hx";
  for (int round = 0; round < 20000; ++round) {
    std::string url;
    const size_t length = rng() % 40;
    for (size_t i = 0; i < length; ++i) url += alphabet[rng() % alphabet.size()];
    try {
      const ConnectionParams params = Parse(url);
      EXPECT_FALSE(params.nodes.empty()) << url;
      EXPECT_LE(params.nodes.size(), kMaxNodes);
    } catch (const PermanentError&) {
    }
  }
}

TEST(RabbitMqParams, QueueTypes) {
  EXPECT_EQ(ParseRabbitMqQueueType("classic"), RabbitMqQueueType::kClassic);
  EXPECT_EQ(ParseRabbitMqQueueType("quorum"), RabbitMqQueueType::kQuorum);
  EXPECT_STREQ(ToString(RabbitMqQueueType::kQuorum), "quorum");
  EXPECT_STREQ(ToString(RabbitMqQueueType::kClassic), "classic");
  for (const char* bad : {"", "Quorum", "stream", "classic "}) {
    EXPECT_THROW(ParseRabbitMqQueueType(bad), PermanentError) << bad;
  }
  const ConnectionParams params =
      ParseParams(RabbitMqOptions{.url = "amqp://h/", .queue_type = RabbitMqQueueType::kQuorum});
  EXPECT_EQ(params.queue_type, RabbitMqQueueType::kQuorum);
}

TEST(RabbitMqNodeCursor, ClientsStartAtSuccessiveNodesAndMoveOn) {
  NodeCursor first(3);
  NodeCursor second(3);
  EXPECT_EQ(second.Current(), (first.Current() + 1) % 3);
  const size_t start = first.Current();
  first.Advance();
  EXPECT_EQ(first.Current(), (start + 1) % 3);
  first.Advance();
  first.Advance();
  EXPECT_EQ(first.Current(), start);
  first.Set(5);
  EXPECT_EQ(first.Current(), 2u);
  NodeCursor single(1);
  single.Advance();
  EXPECT_EQ(single.Current(), 0u);
}

}  // namespace
}  // namespace fila::rabbitmq
