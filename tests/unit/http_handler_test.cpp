// HTTP handlers without a worker: the request an attempt sends, what each
// answer means, the callback server (real HTTP on loopback against a fake
// task context), and the factory's handlers against a local server.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "fila/core/errors.h"
#include "fila/http_handler/callback_server.h"
#include "fila/http_handler/http_handler.h"
#include "fila/test_support/fake_task_context.h"
#include "fila/test_support/keepalive_server.h"
#include "fila/test_support/scripted_http_client.h"
#include "http_contract.h"

namespace fila {
namespace {

using namespace std::chrono_literals;
using http_handler::DeliveryRequest;
using http_handler::ErrorMessageOf;
using http_handler::ResultOf;
using Json = nlohmann::json;
using test::KeepAliveAnswer;
using test::KeepAliveServer;
using test::MakeResponse;

// The task of these tests: tenant acme's third attempt of acme.resize.
class FakeContext final : public test::FakeTaskContext {
 public:
  explicit FakeContext(std::string payload = "{}", std::chrono::milliseconds budget = 10s)
      : FakeTaskContext(std::move(payload), budget) {
    task_id = "0b3e6c2a-6a7e-4a39-9d36-2f1d1bbd2f7a";
    type = "acme.resize";
    tenant = "acme";
    attempt = 3;
    fake_sleep = true;
  }
};

// A registered type whose payload is any JSON object, handled at `url`.
TaskTypeSpec HttpType(const std::string& url, uint32_t concurrency = 0) {
  TaskTypeSpec spec;
  spec.name = "acme.resize";
  spec.version = 7;
  spec.handler.kind = HandlerSpec::Kind::kHttp;
  spec.handler.url = url;
  spec.handler.concurrency = concurrency;
  spec.max_result_bytes = 1000;
  return spec;
}

std::string PermanentMessage(const HttpResponse& r, size_t max = 1000) {
  try {
    ResultOf(r, max);
  } catch (const PermanentError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not permanent: ") + e.what();
  }
  return "no error";
}

TEST(HttpContract, TheRequestCarriesTheTaskItsDeadlineAndItsCallback) {
  FakeContext ctx;
  TaskTypeSpec spec = HttpType("http://127.0.0.1:9/tasks");
  // Compiled-in payload rendering is not at stake here: a payload that does
  // not parse under the spec is shown as null.
  const HttpRequest r = DeliveryRequest(spec, ctx, "http://127.0.0.1:5/v1/attempts/abc", 1796116800250);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, spec.handler.url);
  EXPECT_EQ(r.source, UrlSource::kOperator);
  const Json body = Json::parse(r.body);
  EXPECT_EQ(body["id"], ctx.TaskId());
  EXPECT_EQ(body["type"], "acme.resize");
  EXPECT_EQ(body["type_version"], 7);
  EXPECT_EQ(body["attempt"], 3);
  EXPECT_EQ(body["tenant"], "acme");
  EXPECT_TRUE(body.contains("payload"));
  EXPECT_EQ(body["deadline"], "2026-12-01T09:20:00.250Z");
  EXPECT_EQ(body["callback"], "http://127.0.0.1:5/v1/attempts/abc");
  std::map<std::string, std::string> headers(r.headers.begin(), r.headers.end());
  EXPECT_EQ(headers["Fila-Task-Id"], ctx.TaskId());
  EXPECT_EQ(headers["Fila-Attempt"], "3");
  EXPECT_EQ(headers["Fila-Deadline"], "2026-12-01T09:20:00.250Z");
  EXPECT_EQ(headers["Fila-Type"], "acme.resize");
  EXPECT_EQ(headers["Content-Type"], "application/json");
}

TEST(HttpContract, A2xxIsTheResult) {
  EXPECT_EQ(ResultOf(MakeResponse(200, R"({"width": 640})"), 1000), R"({"width": 640})");
  EXPECT_EQ(ResultOf(MakeResponse(201, "  [1, 2]\n"), 1000), "[1, 2]");
  EXPECT_EQ(ResultOf(MakeResponse(204, ""), 1000), "");
  EXPECT_EQ(ResultOf(MakeResponse(200, "\r\n"), 1000), "");
}

TEST(HttpContract, A2xxThatIsNotJsonOrTooLargeFailsForGood) {
  EXPECT_NE(PermanentMessage(MakeResponse(200, "<html>oops</html>")).find("answered 200 with a body that is not JSON"),
            std::string::npos);
  EXPECT_NE(PermanentMessage(MakeResponse(200, R"({"a": "x"})"), 5).find("over the type's max_result_bytes of 5"),
            std::string::npos);
  // Deep nesting is judged without recursion.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(ResultOf(MakeResponse(200, deep), 1 << 20).size(), deep.size());
  EXPECT_NE(PermanentMessage(MakeResponse(200, std::string(100000, '[')), 1 << 20).find("not JSON"), std::string::npos);
}

TEST(HttpContract, A4xxFailsForGoodWithTheHandlersMessage) {
  EXPECT_EQ(PermanentMessage(MakeResponse(422, R"({"error": "invoice number missing"})")),
            "the HTTP handler answered 422: invoice number missing");
  EXPECT_EQ(PermanentMessage(MakeResponse(400, R"({"message": "bad size"})")),
            "the HTTP handler answered 400: bad size");
  EXPECT_EQ(PermanentMessage(MakeResponse(404, R"({"error": {"code": 5, "message": "no such image"}})")),
            "the HTTP handler answered 404: no such image");
  EXPECT_EQ(PermanentMessage(MakeResponse(403, "forbidden\n")), "the HTTP handler answered 403: forbidden");
  EXPECT_EQ(PermanentMessage(MakeResponse(410, "")), "the HTTP handler answered 410");
  EXPECT_LE(PermanentMessage(MakeResponse(422, std::string(100000, 'x'))).size(), 1100u);
  EXPECT_NE(PermanentMessage(MakeResponse(302, "")).find("not an answer"), std::string::npos);
}

TEST(HttpContract, RetryableStatusesRetryAndRetryAfterIsHonoured) {
  for (long status : {408L, 409L, 429L, 500L, 502L, 503L}) {
    try {
      ResultOf(MakeResponse(status, R"({"error": "busy"})"), 1000);
      FAIL() << status;
    } catch (const RetryLater& e) {
      FAIL() << status << " without Retry-After is a plain transient error";
    } catch (const TransientError& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(status) + ": busy"), std::string::npos) << e.what();
    }
  }
  try {
    ResultOf(MakeResponse(503, "", {{"retry-after", "2"}}), 1000);
    FAIL();
  } catch (const RetryLater& e) {
    EXPECT_EQ(e.after(), 2000ms);
  }
  try {
    ResultOf(MakeResponse(429, "", {{"retry-after", "99999999999"}}), 1000);
    FAIL();
  } catch (const RetryLater& e) {
    EXPECT_EQ(e.after(), std::chrono::hours(24));
  }
}

TEST(HttpContract, AnErrorBodysMessageIsCut) {
  EXPECT_EQ(ErrorMessageOf(""), "");
  EXPECT_EQ(ErrorMessageOf(R"({"error": 42})"), R"({"error": 42})");
  EXPECT_LE(ErrorMessageOf(R"({"error": ")" + std::string(50000, 'e') + "\"}").size(), 1024u);
}

// The callback server, through real HTTP on loopback.
class CallbackServerTest : public ::testing::Test {
 protected:
  HttpResponse Post(const std::string& url, const std::string& body, const std::string& method = "POST") {
    HttpRequest r;
    r.method = method;
    r.url = url;
    r.source = UrlSource::kOperator;
    r.body = body;
    r.headers = {{"Content-Type", "application/json"}};
    r.deadline = DeadlineIn(5s);
    return http_->Send(r);
  }

  TaskTypes types_ = TaskTypes::Builtin(TestTypes::kEnabled);
  CallbackServer server_{CallbackServerOptions{.max_body_bytes = 64 * 1024}, types_};
  std::unique_ptr<HttpClient> http_ = MakeHttpClient(EgressPolicy());
};

TEST_F(CallbackServerTest, ProgressGoesToTheAttemptsContext) {
  FakeContext ctx;
  auto attempt = server_.Open(ctx);
  EXPECT_TRUE(attempt->Url().starts_with("http://" + server_.Address() + "/v1/attempts/"));
  auto r = Post(attempt->Url() + "/progress", R"({"percent": 40, "message": "halfway"})");
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(ctx.progress().size(), 1u);
  EXPECT_EQ(ctx.progress()[0], std::make_pair(40, std::string("halfway")));
  r = Post(attempt->Url() + "/progress", R"({"percent": 140})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body)["field"], "percent");
  r = Post(attempt->Url() + "/progress", R"({"percent": 10, "colour": "red"})");
  EXPECT_EQ(r.status, 400) << r.body;
  r = Post(attempt->Url() + "/progress", R"({"percent": 10)");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(ctx.progress().size(), 1u);
}

TEST_F(CallbackServerTest, ChildrenAreEnqueuedThroughTheContextAllOrNone) {
  FakeContext ctx;
  auto attempt = server_.Open(ctx);
  auto r = Post(attempt->Url() + "/children",
                R"({"tasks": [{"type": "noop"}, {"type": "sleep", "args": {"ms": "soon"}}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  const Json error = Json::parse(r.body);
  EXPECT_EQ(error["code"], "invalid_argument");
  EXPECT_EQ(error["field"].get<std::string>().rfind("tasks[1].payload", 0), 0u) << r.body;
  EXPECT_TRUE(ctx.children().empty()) << "a bad child must leave none";

  r = Post(attempt->Url() + "/children", R"({"tasks": [{"type": "nosuchtype"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body)["field"], "tasks[0].type") << r.body;

  r = Post(attempt->Url() + "/children", R"({"tasks": [{"type": "noop"}, {"type": "sleep", "args": {"ms": 5}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["ids"], Json::array({"child-1", "child-2"}));
  ASSERT_EQ(ctx.children().size(), 2u);
  EXPECT_EQ(ctx.children()[1].type, "sleep");
  EXPECT_EQ(ctx.children()[1].tenant, "acme");
}

TEST_F(CallbackServerTest, AnEndedAttemptsTokenIsGone) {
  FakeContext ctx;
  auto attempt = server_.Open(ctx);
  const std::string url = attempt->Url();
  EXPECT_EQ(server_.OpenAttempts(), 1u);
  attempt.reset();
  EXPECT_EQ(server_.OpenAttempts(), 0u);
  auto r = Post(url + "/progress", R"({"percent": 50})");
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(Json::parse(r.body)["code"], "gone");
  EXPECT_TRUE(ctx.progress().empty());
  // A token never issued is refused the same way; a malformed one is no path.
  EXPECT_EQ(Post("http://" + server_.Address() + "/v1/attempts/" + std::string(32, 'a') + "/progress", "{}").status,
            410);
  EXPECT_EQ(Post("http://" + server_.Address() + "/v1/attempts/xyz/progress", "{}").status, 404);
}

TEST_F(CallbackServerTest, WrongCallsAndLargeBodiesAreRefused) {
  FakeContext ctx;
  auto attempt = server_.Open(ctx);
  EXPECT_EQ(Post(attempt->Url() + "/progress", "", "GET").status, 405);
  EXPECT_EQ(Post(attempt->Url() + "/result", "{}").status, 404);
  EXPECT_EQ(Post("http://" + server_.Address() + "/metrics", "{}").status, 404);
  const auto r = Post(attempt->Url() + "/progress", R"({"percent": 1, "message": ")" + std::string(100000, 'm') + "\"}");
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(ctx.progress().empty());
  EXPECT_EQ(Post(attempt->Url() + "/progress", R"({"percent": 2})").status, 200) << "the server goes on";
}

TEST_F(CallbackServerTest, ClosingAnAttemptWaitsForItsCallsInFlight) {
  FakeContext ctx;
  auto attempt = server_.Open(ctx);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::thread caller([&] {
    while (!stop) ok += Post(attempt->Url() + "/progress", R"({"percent": 5})").status == 200;
  });
  while (ok < 5) std::this_thread::sleep_for(1ms);
  const std::string url = attempt->Url();
  stop = true;
  caller.join();
  attempt.reset();  // the context may die right after this
  EXPECT_EQ(Post(url + "/progress", R"({"percent": 6})").status, 410);
}

TEST(HttpHandlerFactory, RunsHttpHandlersOnly) {
  auto factory = MakeHttpHandlerFactory({.client = MakeHttpClient(EgressPolicy())});
  TaskTypeSpec exec = HttpType("http://127.0.0.1:9/");
  exec.handler.kind = HandlerSpec::Kind::kExec;
  exec.handler.command = {"resize"};
  try {
    factory->Make(exec);
    FAIL();
  } catch (const PermanentError& e) {
    EXPECT_NE(std::string(e.what()).find("exec handler"), std::string::npos) << e.what();
  }
}

TEST(HttpHandlerFactory, ATaskGoesOutAndItsAnswerComesBackWithProgressOnTheWay) {
  TaskTypes types = TaskTypes::Builtin();
  CallbackServer callbacks({}, types);
  std::shared_ptr<HttpClient> http = MakeHttpClient(EgressPolicy());
  KeepAliveServer sidecar([&](const std::string& request) {
    const Json task = Json::parse(request.substr(request.find("\r\n\r\n") + 4));
    HttpRequest progress;
    progress.method = "POST";
    progress.url = task["callback"].get<std::string>() + "/progress";
    progress.source = UrlSource::kOperator;
    progress.body = R"({"percent": 50, "message": "half"})";
    const long status = http->Send(progress).status;
    return KeepAliveAnswer(200, R"({"progress_status": )" + std::to_string(status) + "}");
  });
  auto factory = MakeHttpHandlerFactory({.callbacks = &callbacks, .client = http});
  Handler handler = factory->Make(HttpType(sidecar.Base() + "/tasks"));
  FakeContext ctx;
  EXPECT_EQ(handler(ctx), R"({"progress_status": 200})");
  EXPECT_EQ(ctx.progress(), (std::vector<std::pair<int, std::string>>{{50, "half"}}));
  EXPECT_EQ(callbacks.OpenAttempts(), 0u);
  EXPECT_EQ(handler(ctx), R"({"progress_status": 200})");
  EXPECT_EQ(sidecar.accepted(), 1) << "the connection to the handler is reused";
}

TEST(HttpHandlerFactory, AtMostConcurrencyRequestsAtOnceAndWaitingHonoursCancel) {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};
  KeepAliveServer sidecar([&](const std::string&) {
    const int n = ++now;
    int p = peak;
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
    std::this_thread::sleep_for(100ms);
    --now;
    return KeepAliveAnswer(200, "{}");
  });
  auto factory = MakeHttpHandlerFactory({.client = MakeHttpClient(EgressPolicy())});
  Handler handler = factory->Make(HttpType(sidecar.Base() + "/tasks", 2));
  std::vector<std::thread> threads;
  std::atomic<int> done{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      FakeContext ctx;
      done += handler(ctx) == "{}";
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(done, 6);
  EXPECT_EQ(peak, 2);

  // Both places held by slow tasks: a cancelled waiter gives up at once.
  std::vector<std::thread> holders;
  for (int i = 0; i < 2; ++i) {
    holders.emplace_back([&] {
      FakeContext ctx;
      handler(ctx);
    });
  }
  std::this_thread::sleep_for(20ms);
  FakeContext waiter("{}", 150ms);
  const auto t0 = SteadyClock::now();
  EXPECT_THROW(handler(waiter), TransientError);
  EXPECT_LT(SteadyClock::now() - t0, 400ms);
  for (auto& t : holders) t.join();
}

TEST(HttpHandlerFactory, ACancelledTaskClosesItsRequest) {
  KeepAliveServer sidecar([](const std::string&) { return std::nullopt; });
  auto factory = MakeHttpHandlerFactory({.client = MakeHttpClient(EgressPolicy())});
  Handler handler = factory->Make(HttpType(sidecar.Base() + "/tasks"));
  FakeContext ctx;
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    ctx.cancel = true;
  });
  const auto t0 = SteadyClock::now();
  EXPECT_THROW(handler(ctx), TransientError);
  EXPECT_LT(SteadyClock::now() - t0, 800ms);
  canceller.join();
  for (int i = 0; i < 100 && sidecar.closed_by_client() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(sidecar.closed_by_client(), 1);
}

TEST(HttpHandlerFactory, AnAnswerOverTheResultLimitIsCutShort) {
  KeepAliveServer sidecar([](const std::string&) { return KeepAliveAnswer(200, std::string(5000, ' ') + "{}"); });
  auto factory = MakeHttpHandlerFactory({.client = MakeHttpClient(EgressPolicy())});
  Handler handler = factory->Make(HttpType(sidecar.Base() + "/tasks"));
  FakeContext ctx;
  try {
    handler(ctx);
    FAIL();
  } catch (const PermanentError& e) {
    EXPECT_NE(std::string(e.what()).find("larger than the type's max_result_bytes of 1000"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fila
