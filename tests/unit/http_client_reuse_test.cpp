// The libcurl HttpClient's connections: kept open and reused by requests
// that trust them alike (same UrlSource, same origin), never shared between
// an operator's URL and a payload's, and closed at once when a request is
// cancelled or runs past its deadline.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fila/core/errors.h"
#include "fila/http/http_client.h"
#include "fila/test_support/keepalive_server.h"

namespace fila {
namespace {

using namespace std::chrono_literals;
using test::KeepAliveAnswer;
using test::KeepAliveServer;

HttpRequest Post(const std::string& url, UrlSource source = UrlSource::kOperator) {
  HttpRequest r;
  r.method = "POST";
  r.url = url;
  r.source = source;
  r.body = R"({"n": 1})";
  r.deadline = DeadlineIn(5s);
  return r;
}

bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

TEST(HttpReuse, RequestsToOneOriginShareOneConnection) {
  KeepAliveServer server([](const std::string&) { return KeepAliveAnswer(200, "{}"); });
  auto http = MakeHttpClient(EgressPolicy());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(http->Send(Post(server.Base() + "/task")).status, 200);
  EXPECT_EQ(server.requests(), 20);
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpReuse, ConcurrentRequestsUseAtMostOneConnectionEach) {
  KeepAliveServer server([](const std::string&) { return KeepAliveAnswer(200, "{}"); });
  auto http = MakeHttpClient(EgressPolicy());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) ok += http->Send(Post(server.Base() + "/task")).status == 200;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 200);
  EXPECT_LE(server.accepted(), 8);
}

TEST(HttpReuse, AnOperatorsConnectionNeverCarriesAPayloadsRequest) {
  KeepAliveServer server([](const std::string&) { return KeepAliveAnswer(200, "{}"); });
  const std::string port = server.Base().substr(server.Base().rfind(':') + 1);
  // Payload URLs may reach this port too, so that both requests succeed.
  auto http = MakeHttpClient(EgressPolicy::Parse("127.0.0.1:" + port));
  EXPECT_EQ(http->Send(Post(server.Base() + "/a", UrlSource::kOperator)).status, 200);
  EXPECT_EQ(http->Send(Post(server.Base() + "/b", UrlSource::kPayload)).status, 200);
  EXPECT_EQ(http->Send(Post(server.Base() + "/c", UrlSource::kOperator)).status, 200);
  EXPECT_EQ(http->Send(Post(server.Base() + "/d", UrlSource::kPayload)).status, 200);
  EXPECT_EQ(server.accepted(), 2);
}

TEST(HttpReuse, APayloadRequestToTheOperatorsOriginIsStillJudgedByThePolicy) {
  KeepAliveServer server([](const std::string&) { return KeepAliveAnswer(200, "{}"); });
  auto http = MakeHttpClient(EgressPolicy());
  EXPECT_EQ(http->Send(Post(server.Base() + "/a", UrlSource::kOperator)).status, 200);
  try {
    http->Send(Post(server.Base() + "/b", UrlSource::kPayload));
    FAIL() << "a payload's request reached loopback over the operator's open connection";
  } catch (const PermanentError& e) {
    EXPECT_NE(std::string(e.what()).find("blocked by the egress policy"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.requests(), 1);
}

TEST(HttpReuse, ACancelledRequestEndsPromptlyAndClosesItsConnection) {
  KeepAliveServer server([](const std::string&) { return std::nullopt; });  // never answers
  auto http = MakeHttpClient(EgressPolicy());
  HttpRequest r = Post(server.Base() + "/hold");
  r.deadline = DeadlineIn(30s);
  const auto cancel_at = SteadyClock::now() + 300ms;
  r.cancelled = [&] { return SteadyClock::now() >= cancel_at; };
  const auto t0 = SteadyClock::now();
  try {
    http->Send(r);
    FAIL() << "a held request returned";
  } catch (const TransientError& e) {
    EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos) << e.what();
  }
  EXPECT_LT(SteadyClock::now() - t0, 1s);
  EXPECT_TRUE(Eventually([&] { return server.closed_by_client() == 1; }));
}

TEST(HttpReuse, ARequestPastItsDeadlineClosesItsConnection) {
  KeepAliveServer server([](const std::string&) { return std::nullopt; });
  auto http = MakeHttpClient(EgressPolicy());
  HttpRequest r = Post(server.Base() + "/hold");
  r.deadline = DeadlineIn(300ms);
  EXPECT_THROW(http->Send(r), TransientError);
  EXPECT_TRUE(Eventually([&] { return server.closed_by_client() == 1; }));
}

TEST(HttpReuse, AnAbortedBodyClosesItsConnectionAndTheNextRequestOpensAnother) {
  std::atomic<int> n{0};
  KeepAliveServer server([&](const std::string&) {
    return ++n == 1 ? KeepAliveAnswer(200, std::string(100000, 'x')) : KeepAliveAnswer(200, "{}");
  });
  auto http = MakeHttpClient(EgressPolicy());
  HttpRequest big = Post(server.Base() + "/big");
  big.max_response_bytes = 1000;
  EXPECT_THROW(http->Send(big), PermanentError);
  EXPECT_EQ(http->Send(Post(server.Base() + "/small")).status, 200);
  EXPECT_EQ(server.accepted(), 2);
}

}  // namespace
}  // namespace fila
