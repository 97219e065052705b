// The libcurl HttpClient under the egress policy, against scripted HTTP
// servers on loopback in this process: blocked before connecting,
// allowlisted ports reached, every redirect hop checked, no credential or
// body sent to another origin, proxies of the environment ignored.
#include <gtest/gtest.h>

#include <cstdlib>

#include "fila/core/errors.h"
#include "fila/http/http_client.h"
#include "fila/test_support/scripted_server.h"

namespace fila {
namespace {

using test::Answer;
using test::HeaderOf;
using test::RedirectTo;
using test::ScriptedServer;

const std::string kSecretMarker = "internal-secret-bytes";

std::string ErrorOf(HttpClient& http, const HttpRequest& request) {
  try {
    http.Send(request);
  } catch (const PermanentError& e) {
    return std::string("permanent: ") + e.what();
  } catch (const TransientError& e) {
    return std::string("transient: ") + e.what();
  }
  return "no error";
}

HttpRequest Get(const std::string& url) {
  HttpRequest r;
  r.url = url;
  r.deadline = DeadlineIn(std::chrono::seconds(5));
  return r;
}

TEST(HttpEgress, LoopbackIsBlockedBeforeAnyConnectionInEveryForm) {
  ScriptedServer internal([](const std::string&) { return Answer(200, kSecretMarker); });
  auto http = MakeHttpClient(EgressPolicy());
  const std::string port = std::to_string(internal.port());
  const std::vector<std::string> forms{"http://127.0.0.1:" + port + "/", "http://localhost:" + port + "/",
                                       "http://0.0.0.0:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/",
                                       "http://2130706433:" + port + "/", "http://0x7f.1:" + port + "/"};
  for (const std::string& url : forms) {
    const std::string error = ErrorOf(*http, Get(url));
    EXPECT_TRUE(error.starts_with("permanent: GET ")) << url << ": " << error;
    EXPECT_NE(error.find("blocked by the egress policy (host "), std::string::npos) << url << ": " << error;
    EXPECT_EQ(error.find(kSecretMarker), std::string::npos) << error;
  }
  EXPECT_TRUE(internal.Requests().empty());
}

TEST(HttpEgress, AClosedPortAndAnOpenOneFailAlike) {
  ScriptedServer open([](const std::string&) { return Answer(404, "nothing"); });
  int closed_port = 0;
  {
    ScriptedServer gone([](const std::string&) { return Answer(200, ""); });
    closed_port = gone.port();
  }
  auto http = MakeHttpClient(EgressPolicy());
  std::string a = ErrorOf(*http, Get("http://127.0.0.1:" + std::to_string(open.port()) + "/x"));
  std::string b = ErrorOf(*http, Get("http://127.0.0.1:" + std::to_string(closed_port) + "/x"));
  a.replace(a.find(std::to_string(open.port())), std::to_string(open.port()).size(), "P");
  b.replace(b.find(std::to_string(closed_port)), std::to_string(closed_port).size(), "P");
  EXPECT_EQ(a, b);
}

TEST(HttpEgress, AnAllowlistedPortIsReachedAndOnlyThatPort) {
  ScriptedServer allowed([](const std::string&) { return Answer(200, "hello"); });
  ScriptedServer other([](const std::string&) { return Answer(200, kSecretMarker); });
  auto http = MakeHttpClient(EgressPolicy::Parse("127.0.0.1:" + std::to_string(allowed.port())));
  EXPECT_EQ(http->Send(Get(allowed.Base() + "/a")).body, "hello");
  EXPECT_NE(ErrorOf(*http, Get(other.Base() + "/")).find("blocked by the egress policy"), std::string::npos);
  EXPECT_TRUE(other.Requests().empty());
}

TEST(HttpEgress, ARedirectHopToLoopbackIsRefused) {
  ScriptedServer internal([](const std::string&) { return Answer(200, kSecretMarker); });
  ScriptedServer outside([&](const std::string&) { return RedirectTo(internal.Base() + "/metrics"); });
  auto http = MakeHttpClient(EgressPolicy::Parse("127.0.0.1:" + std::to_string(outside.port())));
  const std::string error = ErrorOf(*http, Get(outside.Base() + "/doc"));
  EXPECT_NE(error.find("blocked by the egress policy (host 127.0.0.1, reached by a redirect)"), std::string::npos)
      << error;
  EXPECT_EQ(error.find(kSecretMarker), std::string::npos);
  EXPECT_EQ(error.find("/metrics"), std::string::npos) << "the Location is the answer's, not ours to quote";
  EXPECT_EQ(outside.Requests().size(), 1u);
  EXPECT_TRUE(internal.Requests().empty());
}

TEST(HttpEgress, TheOperatorsOriginIsReachableButNotWhereItRedirects) {
  ScriptedServer internal([](const std::string&) { return Answer(200, kSecretMarker); });
  ScriptedServer upstream([&](const std::string& r) {
    return r.starts_with("GET /bounce") ? RedirectTo(internal.Base() + "/") : Answer(200, "embeddings");
  });
  auto http = MakeHttpClient(EgressPolicy());
  HttpRequest request = Get(upstream.Base() + "/v1");
  request.source = UrlSource::kOperator;
  EXPECT_EQ(http->Send(request).body, "embeddings");
  request.url = upstream.Base() + "/bounce";
  EXPECT_NE(ErrorOf(*http, request).find("reached by a redirect"), std::string::npos);
  EXPECT_TRUE(internal.Requests().empty());
  // The same URL from a payload is blocked.
  EXPECT_NE(ErrorOf(*http, Get(upstream.Base() + "/v1")).find("blocked"), std::string::npos);
}

TEST(HttpEgress, NoCredentialsAfterACrossOriginRedirect) {
  ScriptedServer other([](const std::string&) { return Answer(200, "there"); });
  ScriptedServer home([&](const std::string& r) {
    if (r.starts_with("GET /same")) return RedirectTo("/landing");
    if (r.starts_with("GET /landing")) return Answer(200, "here");
    // Another origin: another port, and the same server by another name.
    if (r.starts_with("GET /by-name")) return RedirectTo("http://localhost:" + std::to_string(other.port()) + "/n");
    return RedirectTo(other.Base() + "/x", 307);
  });
  auto http = MakeHttpClient(EgressPolicy::Parse("127.0.0.1:" + std::to_string(home.port()) + ",127.0.0.1:" +
                                                 std::to_string(other.port()) + ",localhost"));
  const std::string auth = "Bearer sk-never-elsewhere";
  const std::string creds = "user:pass-never-elsewhere@";
  auto with_secrets = [&](const std::string& path) {
    HttpRequest r = Get("http://" + creds + "127.0.0.1:" + std::to_string(home.port()) + path);
    r.headers = {{"Authorization", auth}, {"X-Api-Key", "k-never-elsewhere"}, {"Accept", "text/plain"}};
    return r;
  };
  EXPECT_EQ(http->Send(with_secrets("/same")).body, "here");
  EXPECT_EQ(http->Send(with_secrets("/cross")).body, "there");
  EXPECT_EQ(http->Send(with_secrets("/by-name")).body, "there");
  for (const std::string& r : home.Requests()) {
    EXPECT_EQ(HeaderOf(r, "authorization"), auth) << r;  // the request's own origin gets them
    EXPECT_EQ(HeaderOf(r, "x-api-key"), "k-never-elsewhere") << r;
  }
  ASSERT_EQ(other.Requests().size(), 2u);
  for (const std::string& r : other.Requests()) {
    EXPECT_EQ(HeaderOf(r, "authorization"), "") << r;
    EXPECT_EQ(HeaderOf(r, "x-api-key"), "") << r;
    EXPECT_EQ(r.find("never-elsewhere"), std::string::npos) << r;
    EXPECT_EQ(HeaderOf(r, "accept"), "text/plain") << r;
  }
}

TEST(HttpEgress, ABodyIsNeverResentToAnotherOrigin) {
  ScriptedServer other([](const std::string&) { return Answer(200, "took it"); });
  ScriptedServer home([&](const std::string& r) {
    if (r.starts_with("POST /see-other")) return RedirectTo(other.Base() + "/done", 303);
    return RedirectTo(other.Base() + "/upload", 307);
  });
  auto http = MakeHttpClient(EgressPolicy::Parse("127.0.0.1:" + std::to_string(home.port()) + ",127.0.0.1:" +
                                                 std::to_string(other.port())));
  HttpRequest put = Get(home.Base() + "/upload");
  put.method = "PUT";
  put.body = "{\"app_secret\":\"s3cret\"}";
  const std::string error = ErrorOf(*http, put);
  EXPECT_NE(error.find("is not resent elsewhere"), std::string::npos) << error;
  EXPECT_TRUE(other.Requests().empty());
  // A 303 turns the POST into a GET without the body.
  HttpRequest post = put;
  post.method = "POST";
  post.url = home.Base() + "/see-other";
  EXPECT_EQ(http->Send(post).body, "took it");
  ASSERT_EQ(other.Requests().size(), 1u);
  EXPECT_TRUE(other.Requests()[0].starts_with("GET /done")) << other.Requests()[0];
  EXPECT_EQ(other.Requests()[0].find("s3cret"), std::string::npos);
}

TEST(HttpEgress, AtMostFiveRedirects) {
  ScriptedServer loop([](const std::string&) { return RedirectTo("/again"); });
  auto http = MakeHttpClient(EgressPolicy::Parse("127.0.0.1:" + std::to_string(loop.port())));
  const std::string error = ErrorOf(*http, Get(loop.Base() + "/"));
  EXPECT_NE(error.find("more than 5 redirects"), std::string::npos) << error;
  EXPECT_EQ(loop.Requests().size(), 6u);
}

TEST(HttpEgress, ProxyVariablesAreIgnored) {
  ScriptedServer target([](const std::string&) { return Answer(200, "direct"); });
  ScriptedServer proxy([](const std::string&) { return Answer(200, "via proxy"); });
  auto http = MakeHttpClient(EgressPolicy::Parse("127.0.0.1:" + std::to_string(target.port()) + ",127.0.0.1:" +
                                                 std::to_string(proxy.port())));
  for (const char* name : {"http_proxy", "HTTPS_PROXY", "ALL_PROXY"}) ::setenv(name, proxy.Base().c_str(), 1);
  const std::string body = http->Send(Get(target.Base() + "/")).body;
  for (const char* name : {"http_proxy", "HTTPS_PROXY", "ALL_PROXY"}) ::unsetenv(name);
  EXPECT_EQ(body, "direct");
  EXPECT_TRUE(proxy.Requests().empty());
}

TEST(HttpEgress, UrlsOver8KiBAreRefusedUnsent) {
  ScriptedServer server([](const std::string&) { return Answer(200, "ok"); });
  auto http = MakeHttpClient(EgressPolicy::Parse("127.0.0.1:" + std::to_string(server.port())));
  const std::string long_url = server.Base() + "/" + std::string(kMaxUrlBytes, 'a');
  EXPECT_NE(ErrorOf(*http, Get(long_url)).find("at most 8192"), std::string::npos);
  EXPECT_TRUE(server.Requests().empty());
  EXPECT_NO_THROW(ValidatePayloadUrl("https://example.com/a?b=c", "payload.url"));
  const std::vector<std::string> bad_urls{long_url, "ftp://example.com/x", "file:///etc/passwd", "http://",
                                          "http://exa mple.com/"};
  for (const std::string& bad : bad_urls) {
    try {
      ValidatePayloadUrl(bad, "payload.url");
      ADD_FAILURE() << "accepted " << bad.substr(0, 40);
    } catch (const PermanentError& e) {
      EXPECT_EQ(e.field(), "payload.url");
      EXPECT_LT(std::string(e.what()).size(), 200u) << "the message quotes the URL";
    }
  }
}

}  // namespace
}  // namespace fila
