// The HTTP API over real HTTP against a real fila-scheduler and PostgreSQL:
// every endpoint, every error, tenant isolation and idempotency.
#include <google/protobuf/util/json_util.h>

#include <set>
#include <thread>

#include "api_fixture.h"
#include "fila/v1/api.pb.h"
#include "fila/v1/payloads.pb.h"
#include "fila/v1/task.pb.h"

namespace fila::test {
namespace {

const std::string kSleep = R"({"type":"sleep","args":{"ms":5}})";

TEST_F(ApiTest, EnqueueIsIdempotentPerTenant) {
  const std::string body = R"({"type":"sleep","args":{"ms":5},"priority":7,"idempotency_key":"order-1"})";
  auto first = Call("POST", "/v1/tasks", acme_, body);
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(JsonField(first.body, "state"), "queued");
  const std::string id = JsonField(first.body, "id");
  auto again = Call("POST", "/v1/tasks", acme_, body);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(JsonField(again.body, "id"), id);
  // The same key in another tenant is another task.
  auto other = Call("POST", "/v1/tasks", globex_, body);
  ASSERT_EQ(other.status, 201);
  EXPECT_NE(JsonField(other.body, "id"), id);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 2);
  EXPECT_EQ(db_->Scalar("SELECT tenant || priority FROM tasks WHERE id = '" + id + "'"), "acme7");
}

TEST_F(ApiTest, TwentyConcurrentIdenticalRequestsCreateOneTask) {
  const std::string body = R"({"type":"noop","idempotency_key":"webhook-42"})";
  std::vector<HttpResult> results(20);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = Call("POST", "/v1/tasks", acme_, body); });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
    created += r.status == 201;
    EXPECT_EQ(JsonField(r.body, "id"), JsonField(results[0].body, "id"));
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 1);
}

TEST_F(ApiTest, ProtobufBodiesInAndOut) {
  v1::EnqueueRequest req;
  req.set_type("sleep");
  v1::SleepPayload payload;
  payload.set_ms(7);
  req.set_payload(payload.SerializeAsString());
  req.set_priority(3);
  auto r = Call("POST", "/v1/tasks", acme_, req.SerializeAsString(), "application/x-protobuf");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.content_type, "application/x-protobuf");
  v1::Task task;
  ASSERT_TRUE(task.ParseFromString(r.body));
  EXPECT_EQ(task.state(), "queued");
  EXPECT_TRUE(task.created());

  auto get = Http("GET", base_ + "/v1/tasks/" + task.id(),
                  {"Authorization: Bearer " + acme_, "Accept: application/x-protobuf"});
  ASSERT_EQ(get.status, 200);
  v1::Task full;
  ASSERT_TRUE(full.ParseFromString(get.body));
  EXPECT_EQ(full.priority(), 3u);
  v1::SleepPayload back;
  ASSERT_TRUE(back.ParseFromString(full.payload()));
  EXPECT_EQ(back.ms(), 7u);
  EXPECT_EQ(full.payload_json(), R"({"ms":7,"ignore_cancel":false})");

  // Garbage protobuf is a 400, not a crash.
  auto bad = Call("POST", "/v1/tasks", acme_, "\xff\xff\xff\xff", "application/x-protobuf");
  EXPECT_EQ(bad.status, 400);
}

TEST_F(ApiTest, BatchIsOneTransactionUpToTheLimit) {
  std::string body = R"({"tasks":[)";
  for (int i = 0; i < 1000; ++i) body += std::string(i ? "," : "") + kSleep;
  body += "]}";
  auto ok = Call("POST", "/v1/tasks:batch", acme_, body);
  ASSERT_EQ(ok.status, 201) << ok.body.substr(0, 300);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 1000);

  std::string too_many = R"({"tasks":[)";
  for (int i = 0; i < 1001; ++i) too_many += std::string(i ? "," : "") + kSleep;
  too_many += "]}";
  auto big = Call("POST", "/v1/tasks:batch", acme_, too_many);
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_EQ(JsonField(big.body, "code"), "batch_too_large");

  // One bad member rejects the whole batch, naming it.
  auto bad = Call("POST", "/v1/tasks:batch", acme_,
                  R"({"tasks":[{"type":"noop"},{"type":"noop","priority":12}]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(JsonField(bad.body, "field"), "tasks[1].priority");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 1000);
}

TEST_F(ApiTest, TenantsSeeOnlyTheirOwnTasks) {
  const std::string id = JsonField(Call("POST", "/v1/tasks", acme_, kSleep).body, "id");
  EXPECT_EQ(Call("GET", "/v1/tasks/" + id, acme_).status, 200);
  auto foreign = Call("GET", "/v1/tasks/" + id, globex_);
  EXPECT_EQ(foreign.status, 404);  // not 403: its existence is not revealed
  EXPECT_EQ(Call("POST", "/v1/tasks/" + id + ":cancel", globex_).status, 404);
  EXPECT_EQ(Call("GET", "/v1/tasks/" + id, operator_).status, 200);
  auto list = Call("GET", "/v1/tasks", globex_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(id), std::string::npos);
  EXPECT_NE(Call("GET", "/v1/tasks", operator_).body.find(id), std::string::npos);
  auto queues = Call("GET", "/v1/queues", globex_);
  EXPECT_EQ(queues.body.find("queued"), std::string::npos) << queues.body;
}

TEST_F(ApiTest, CursorPaginationVisitsEveryTaskOnce) {
  for (int i = 0; i < 25; ++i) ASSERT_EQ(Call("POST", "/v1/tasks", acme_, kSleep).status, 201);
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto r = Call("GET", "/v1/tasks?limit=10" + (cursor.empty() ? "" : "&cursor=" + cursor), acme_);
    ASSERT_EQ(r.status, 200) << r.body;
    v1::ListTasksResponse page;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &page).ok());
    for (const auto& t : page.tasks()) EXPECT_TRUE(seen.insert(t.id()).second) << "twice: " << t.id();
    cursor = page.next_cursor();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(Call("GET", "/v1/tasks?cursor=garbage", acme_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/tasks?limit=0", acme_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/tasks?state=bogus", acme_).status, 400);
  auto filtered = Call("GET", "/v1/tasks?state=queued&type=sleep&queue=default&limit=5", acme_);
  EXPECT_EQ(filtered.status, 200);
}

TEST_F(ApiTest, CancelRetryDeleteFollowTheLifeCycle) {
  const std::string id = JsonField(Call("POST", "/v1/tasks", acme_, kSleep).body, "id");
  auto cancel = Call("POST", "/v1/tasks/" + id + ":cancel", acme_);
  ASSERT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_EQ(JsonField(cancel.body, "state"), "cancelled");
  EXPECT_EQ(Call("POST", "/v1/tasks/" + id + ":cancel", acme_).status, 409);

  EXPECT_EQ(Call("POST", "/v1/tasks/" + id + ":retry", acme_).status, 403);  // producers cannot
  auto retry = Call("POST", "/v1/tasks/" + id + ":retry", operator_);
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(JsonField(retry.body, "state"), "queued");
  EXPECT_EQ(Call("POST", "/v1/tasks/" + id + ":retry", operator_).status, 409);

  EXPECT_EQ(Call("DELETE", "/v1/tasks/" + id, operator_).status, 409);  // not finished
  ASSERT_EQ(Call("POST", "/v1/tasks/" + id + ":cancel", acme_).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/tasks/" + id, acme_).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/tasks/" + id, operator_).status, 204);
  EXPECT_EQ(Call("GET", "/v1/tasks/" + id, operator_).status, 404);
  EXPECT_EQ(Call("POST", "/v1/tasks/" + id + ":frobnicate", operator_).status, 404);
}

TEST_F(ApiTest, GetShowsAttemptsErrorsAndProgress) {
  const std::string id = JsonField(Call("POST", "/v1/tasks", acme_, kSleep).body, "id");
  db_->Exec("UPDATE tasks SET state = 'running', attempt = 1, started_at = now() WHERE id = '" + id + "'");
  // Retry due in an hour: the relay, woken when a task becomes scheduled,
  // must not release it while the test looks.
  db_->Exec("UPDATE tasks SET state = 'scheduled', progress = 40, progress_message = 'page 2 of 5',"
            " last_error = 'upstream 503', run_at = now() + interval '1 hour' WHERE id = '" + id + "'");
  db_->Exec("INSERT INTO task_attempts (task_id, attempt, worker, outcome, error, error_kind) VALUES ('" +
            id + "', 1, 'w1', 'failed', 'upstream 503', 'transient')");
  auto r = Call("GET", "/v1/tasks/" + id, acme_);
  ASSERT_EQ(r.status, 200);
  v1::Task task;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &task).ok()) << r.body;
  EXPECT_EQ(task.state(), "scheduled");
  EXPECT_EQ(task.progress().percent(), 40);
  EXPECT_EQ(task.progress().message(), "page 2 of 5");
  ASSERT_EQ(task.attempts_size(), 1);
  EXPECT_EQ(task.attempts(0).error(), "upstream 503");
  EXPECT_EQ(task.attempts(0).error_kind(), "transient");
  EXPECT_TRUE(task.has_created_at());
  EXPECT_FALSE(task.has_finished_at());
}

TEST_F(ApiTest, QueueStatusCountsByState) {
  Bind("acme", "queue", "bulk");  // producers use only their types' queues and bound ones
  for (int i = 0; i < 3; ++i) Call("POST", "/v1/tasks", acme_, kSleep);
  Call("POST", "/v1/tasks", acme_, R"({"type":"noop","queue":"bulk"})");
  auto r = Call("GET", "/v1/queues", acme_);
  ASSERT_EQ(r.status, 200);
  v1::ListQueuesResponse queues;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &queues).ok()) << r.body;
  ASSERT_EQ(queues.queues_size(), 2);
  for (const auto& q : queues.queues()) {
    EXPECT_EQ(q.counts().at("queued"), q.queue() == "bulk" ? 1 : 3);
    EXPECT_GE(q.oldest_queued_age_seconds(), 0.0);
  }
}

TEST_F(ApiTest, EveryErrorHasItsStatusAndOneShape) {
  struct Case {
    std::string method, path, token, body, content_type;
    long status;
    std::string code, field;
  };
  const std::string big(70000, 'a');
  std::vector<Case> cases = {
      {"POST", "/v1/tasks", "", kSleep, "application/json", 401, "unauthenticated", ""},
      {"POST", "/v1/tasks", "fila_not_a_token", kSleep, "application/json", 401, "unauthenticated", ""},
      {"POST", "/v1/tasks", acme_, kSleep, "text/plain", 415, "unsupported_media_type", ""},
      {"POST", "/v1/tasks", acme_, R"({"type":"nope"})", "application/json", 400, "invalid_argument", "type"},
      {"POST", "/v1/tasks", acme_, R"({"type":"noop","priority":12})", "application/json", 400,
       "invalid_argument", "priority"},
      {"POST", "/v1/tasks", acme_, R"({"type":"noop","timeout_ms":4000000000})", "application/json", 400,
       "invalid_argument", "timeout_ms"},
      {"POST", "/v1/tasks", acme_, R"({"type":"sleep","args":{"ms":"soon"}})", "application/json", 400,
       "invalid_argument", "payload.ms"},
      {"POST", "/v1/tasks", acme_, R"({"type":"sleep","args":{"bogus":1}})", "application/json", 400,
       "invalid_argument", "payload.bogus"},
      {"POST", "/v1/tasks", acme_, R"({"type":"noop","surprise":1})", "application/json", 400,
       "invalid_argument", "surprise"},
      {"POST", "/v1/tasks", acme_, R"({"type":)", "application/json", 400, "invalid_argument", ""},
      {"POST", "/v1/tasks", acme_, R"({"type":"noop","payload_json":")" + big + R"("})",
       "application/json", 413, "payload_too_large", "payload"},
      {"PUT", "/v1/tasks", acme_, kSleep, "application/json", 405, "method_not_allowed", ""},
      {"GET", "/v1/nothing", acme_, "", "application/json", 404, "not_found", ""},
      {"GET", "/v1/tasks/not-a-uuid", acme_, "", "application/json", 404, "not_found", "id"},
  };
  for (const auto& c : cases) {
    auto r = Call(c.method, c.path, c.token, c.body, c.content_type);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body.substr(0, 80) << "\n" << r.body;
    EXPECT_EQ(JsonField(r.body, "code"), c.code) << r.body;
    EXPECT_EQ(JsonField(r.body, "field"), c.field) << r.body;
    EXPECT_NE(r.body.find("\"message\":"), std::string::npos) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
  }
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 0);
}

TEST_F(ApiTest, RevokedTokensStopWorking) {
  ASSERT_EQ(Call("GET", "/v1/tasks", globex_).status, 200);
  auto list = RunFila("fila", {"tokens", "list", "--json"}, {{"FILA_DATABASE_URL", db_->url()}});
  ASSERT_EQ(list.ExitCode(), 0);
  EXPECT_EQ(list.out.find("fila_"), std::string::npos) << "secrets must never be listed";
  auto rows = db_->Rows("SELECT id FROM api_tokens WHERE tenant = 'globex'");
  auto revoke = RunFila("fila", {"tokens", "revoke", rows.at(0).at(0)}, {{"FILA_DATABASE_URL", db_->url()}});
  ASSERT_EQ(revoke.ExitCode(), 0) << revoke.err;
  EXPECT_TRUE(WaitFor([&] { return Call("GET", "/v1/tasks", globex_).status == 401; },
                      std::chrono::seconds(5)));
  EXPECT_EQ(Call("GET", "/v1/tasks", acme_).status, 200);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM api_tokens WHERE hash::text LIKE '%fila_%'"), 0);
}

TEST_F(ApiTest, EventsStreamStateChangesUntilTheTaskIsDone) {
  const std::string queue = RandomName("sse");
  Bind("acme", "queue", queue);
  const std::string id = JsonField(
      Call("POST", "/v1/tasks", acme_, R"({"type":"sleep","args":{"ms":300},"queue":")" + queue + R"("})")
          .body,
      "id");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Http("GET", base_ + "/v1/tasks/" + id + "/events").status, 401);
  EXPECT_EQ(Http("GET", base_ + "/v1/tasks/" + id + "/events", {"Authorization: Bearer " + globex_}).status,
            404);
  HttpResult stream;
  std::thread watcher([&] {
    stream = Http("GET", base_ + "/v1/tasks/" + id + "/events", {"Authorization: Bearer " + acme_});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Process worker("fila-worker", {"--queues", queue, "--concurrency", "1"},
                 {{"FILA_DATABASE_URL", db_->url()}, {"FILA_AMQP_URL", Stack().amqp_url}});
  watcher.join();  // the stream ends by itself once the task is terminal
  ASSERT_EQ(stream.status, 200) << stream.body;
  EXPECT_EQ(stream.content_type, "text/event-stream");
  const auto queued = stream.body.find(R"("state":"queued")");
  const auto running = stream.body.find(R"("state":"running")");
  const auto succeeded = stream.body.find(R"("state":"succeeded")");
  ASSERT_NE(queued, std::string::npos) << stream.body;
  ASSERT_NE(running, std::string::npos) << stream.body;
  ASSERT_NE(succeeded, std::string::npos) << stream.body;
  EXPECT_LT(queued, running);
  EXPECT_LT(running, succeeded);
  EXPECT_EQ(stream.body.rfind("event: task\ndata: ", 0), 0u);
}

TEST_F(ApiTest, CliWorksThroughTheApi) {
  // No database URL at all: everything goes over HTTP.
  std::map<std::string, std::string> env{{"FILA_DATABASE_URL", ""}, {"FILA_API_URL", base_},
                                         {"FILA_API_TOKEN", acme_}};
  auto enqueue = RunFila("fila", {"enqueue", "sleep", "--payload-json", R"({"ms": 5})", "--count", "3",
                                  "--priority", "8", "--retry-base-ms", "50"},
                         env);
  ASSERT_EQ(enqueue.ExitCode(), 0) << enqueue.err;
  const std::string id = enqueue.out.substr(0, 36);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE tenant = 'acme' AND priority = 8"
                       " AND retry_base_ms = 50"),
            3);
  auto get = RunFila("fila", {"get", id, "--json"}, env);
  ASSERT_EQ(get.ExitCode(), 0) << get.err;
  EXPECT_NE(get.out.find(R"("ms": 5)"), std::string::npos) << get.out;
  auto list = RunFila("fila", {"list", "--state", "queued", "--json"}, env);
  ASSERT_EQ(list.ExitCode(), 0) << list.err;
  EXPECT_NE(list.out.find(id), std::string::npos);
  auto stats = RunFila("fila", {"stats"}, env);
  EXPECT_EQ(stats.ExitCode(), 0) << stats.err;
  EXPECT_NE(stats.out.find("default"), std::string::npos) << stats.out;
  auto wait = RunFila("fila", {"wait", "--timeout", "0.5"}, env);
  EXPECT_EQ(wait.ExitCode(), 1) << "three tasks are still queued";
  auto cancel = RunFila("fila", {"cancel", id}, env);
  EXPECT_EQ(cancel.ExitCode(), 0) << cancel.err;
  EXPECT_NE(cancel.out.find("cancelled"), std::string::npos) << cancel.out;
  auto retry = RunFila("fila", {"retry", id}, env);  // producers may not retry
  EXPECT_EQ(retry.ExitCode(), 2);
  EXPECT_NE(retry.err.find("operator"), std::string::npos) << retry.err;
  auto as_operator = RunFila("fila", {"--token", operator_, "retry", id}, env);
  EXPECT_EQ(as_operator.ExitCode(), 0) << as_operator.err;
  auto bad = RunFila("fila", {"enqueue", "sleep", "--priority", "11"}, env);
  EXPECT_EQ(bad.ExitCode(), 2);
  auto foreign = RunFila("fila", {"--token", globex_, "get", id}, env);
  EXPECT_EQ(foreign.ExitCode(), 2);
  EXPECT_NE(foreign.err.find("no task"), std::string::npos) << foreign.err;
  auto unauth = RunFila("fila", {"--token", "fila_bogus", "stats"}, env);
  EXPECT_EQ(unauth.ExitCode(), 2);
  EXPECT_NE(unauth.err.find("Authorization"), std::string::npos) << unauth.err;
  auto down = RunFila("fila", {"--api", "http://127.0.0.1:1", "stats"}, env);
  EXPECT_EQ(down.ExitCode(), 1);
  EXPECT_NE(down.err.find("cannot reach the API"), std::string::npos) << down.err;
}

}  // namespace
}  // namespace fila::test
