// HTTP handlers end to end (docs/handlers.md, "HTTP handlers"): registered
// types whose tasks real workers POST to a real Python handler process.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <set>
#include <thread>

#include "http_handler_fixture.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string AttemptOutcomes(const TestDatabase& db, const std::string& id) {
  std::string text;
  for (const auto& row : db.Rows("SELECT attempt, outcome, error FROM task_attempts WHERE task_id = '" + id +
                                 "' ORDER BY attempt")) {
    text += row.at(0) + ":" + row.at(1) + (row.at(2).empty() ? "" : " (" + row.at(2) + ")") + ";";
  }
  return text;
}

std::string FdsOf(int pid) {
  std::string text;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::error_code ec;
    text += e.path().filename().string() + " -> " + std::filesystem::read_symlink(e.path(), ec).string() + "\n";
  }
  return text;
}

TEST_F(HttpHandlerTest, AThousandTasksRunThroughThePythonHandlerExactlyOnce) {
  const TaskTypeSpec spec = Register("acme.echo");
  std::vector<json> payloads;
  for (int i = 0; i < 1000; ++i) payloads.push_back({{"mode", "ok"}, {"n", i}});
  const std::vector<std::string> ids = Enqueue(spec, payloads);
  StartScheduler();
  StartWorker("w1", 16);
  ASSERT_TRUE(WaitFor([&] {
    return db_->Count("SELECT count(*) FROM tasks WHERE state IN ('succeeded', 'failed', 'dead')") == 1000;
  }, 120s)) << db_->Scalar("SELECT count(*) FROM tasks WHERE state = 'succeeded'");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE state = 'succeeded'"), 1000);
  // Exactly once: one attempt each, and one request each at the handler.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts"), 1000);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts WHERE attempt = 1 AND outcome = 'succeeded'"), 1000);
  const std::vector<json> events = Events();
  std::set<std::string> seen;
  for (const auto& e : events) seen.insert(e.value("id", ""));
  EXPECT_EQ(events.size(), 1000u);
  EXPECT_EQ(seen.size(), 1000u);
  // The request carries the task, its headers agree with its body.
  const json first = Events(ids[7]).at(0);
  EXPECT_EQ(first["header_id"], ids[7]);
  EXPECT_EQ(first["attempt"], 1);
  EXPECT_EQ(first["header_attempt"], "1");
  EXPECT_EQ(first["type"], "acme.echo");
  EXPECT_EQ(first["header_type"], "acme.echo");
  EXPECT_EQ(first["type_version"], spec.version);
  EXPECT_EQ(first["tenant"], "default");
  EXPECT_EQ(first["deadline"], first["header_deadline"]);
  EXPECT_TRUE(first["has_callback"].get<bool>());
  EXPECT_EQ(json::parse(Result(ids[7])), json({{"echo", 7}, {"attempt", 1}}));
}

TEST_F(HttpHandlerTest, A503WithRetryAfterIsRetriedNoSoonerAndTheOldCallbackIsGone) {
  const TaskTypeSpec spec = Register("acme.warm", {.max_attempts = 3, .retry_base_ms = 50});
  const std::vector<std::string> ids = Enqueue(spec, {{{"mode", "retry_once"}}, {{"mode", "retry_once"}}});
  StartScheduler();
  StartWorker("w1", 4);
  for (const auto& id : ids) {
    ASSERT_TRUE(WaitTerminal(id, 30s)) << Diagnostics(id);
    ASSERT_EQ(State(id), "succeeded") << Diagnostics(id);
    EXPECT_EQ(json::parse(Result(id)), json({{"attempt", 2}}));
    EXPECT_EQ(AttemptOutcomes(*db_, id).substr(0, 10), "1:failed (");
    EXPECT_NE(AttemptOutcomes(*db_, id).find("answered 503: warming up (Retry-After: 2)"), std::string::npos)
        << AttemptOutcomes(*db_, id);
    std::vector<double> at;
    int stale = -1;
    for (const auto& e : Events(id)) {
      if (e["event"] == "request") at.push_back(e["t"].get<double>());
      if (e["event"] == "stale_progress") stale = e["status"].get<int>();
    }
    ASSERT_EQ(at.size(), 2u);
    // Retry-After: 2, though the type's own backoff is 50 ms.
    EXPECT_GE(at[1] - at[0], 1.95) << Diagnostics(id);
    EXPECT_LT(at[1] - at[0], 10.0);
    EXPECT_EQ(stale, 410) << "the first attempt's callback must be dead";
  }
}

TEST_F(HttpHandlerTest, A422FailsForGoodWithTheHandlersMessage) {
  const TaskTypeSpec spec = Register("acme.invoice", {.max_attempts = 5});
  const std::string id = Enqueue1(spec, {{"mode", "fail"}});
  StartScheduler();
  StartWorker("w1", 2);
  ASSERT_TRUE(WaitTerminal(id, 30s)) << Diagnostics(id);
  EXPECT_EQ(State(id), "failed") << Diagnostics(id);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts WHERE task_id = '" + id + "'"), 1);
  EXPECT_NE(LastError(id).find("the HTTP handler answered 422: invoice number missing"), std::string::npos)
      << LastError(id);
}

TEST_F(HttpHandlerTest, TheDeadlineTimesTheAttemptOutAndClosesTheRequest) {
  const TaskTypeSpec spec = Register("acme.slow", {.timeout_ms = 1500, .max_attempts = 1});
  const std::string id = Enqueue1(spec, {{"mode", "sleep"}});
  StartScheduler();
  StartWorker("w1", 2);
  ASSERT_TRUE(WaitTerminal(id, 30s)) << Diagnostics(id);
  EXPECT_EQ(db_->Scalar("SELECT outcome FROM task_attempts WHERE task_id = '" + id + "'"), "timed_out")
      << AttemptOutcomes(*db_, id);
  // The handler saw its connection close at the deadline, not at its end.
  ASSERT_TRUE(WaitEvent(id, "closed", 5s)) << Diagnostics(id);
  const auto events = Events(id);
  EXPECT_LT(events.back()["t"].get<double>() - events.front()["t"].get<double>(), 3.0);
}

TEST_F(HttpHandlerTest, ACancelClosesTheRequestPromptly) {
  const TaskTypeSpec spec = Register("acme.long", {.timeout_ms = 60000, .max_attempts = 1});
  const std::string id = Enqueue1(spec, {{"mode", "sleep"}});
  StartScheduler();
  StartWorker("w1", 2);
  ASSERT_TRUE(WaitEvent(id, "request", 20s)) << Diagnostics(id);
  const auto cancel = RunFila("fila", {"cancel", id}, {{"FILA_DATABASE_URL", db_->url()}});
  ASSERT_EQ(cancel.ExitCode(), 0) << cancel.err;
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitEvent(id, "closed", 10s)) << Diagnostics(id);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 5s);
  ASSERT_TRUE(WaitTerminal(id, 10s)) << Diagnostics(id);
  EXPECT_EQ(State(id), "cancelled");
}

TEST_F(HttpHandlerTest, ProgressReportedOnTheCallbackShowsOnTheEventStream) {
  const int port = FreePort();
  StartScheduler({"--api-listen", "127.0.0.1:" + std::to_string(port)});
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(WaitFor([&] { return Http("GET", base + "/v1/queues").status != 0; }, 20s)) << Diagnostics();
  const auto token = RunFila("fila", {"tokens", "create", "--tenant", "acme", "--role", "producer"},
                             {{"FILA_DATABASE_URL", db_->url()}});
  ASSERT_EQ(token.ExitCode(), 0) << token.err;
  const std::string secret = token.out.substr(0, token.out.find('\n'));
  const TaskTypeSpec spec = Register("acme.resize");
  const std::string id = Enqueue1(spec, {{"mode", "progress"}, {"hold_s", 1.5}}, "acme");
  HttpResult stream;
  std::thread watcher([&] {
    stream = Http("GET", base + "/v1/tasks/" + id + "/events", {"Authorization: Bearer " + secret});
  });
  std::this_thread::sleep_for(300ms);
  Process& worker = StartWorker("w1", 2, {"--log-level", "debug"});
  watcher.join();  // the stream ends once the task is terminal
  ASSERT_EQ(stream.status, 200) << stream.body;
  ASSERT_TRUE(WaitTerminal(id, 10s));
  EXPECT_EQ(State(id), "succeeded") << Diagnostics(id);
  const auto progress = stream.body.find("resizing");
  ASSERT_NE(progress, std::string::npos) << stream.body;
  EXPECT_NE(stream.body.find("40"), std::string::npos);
  EXPECT_LT(progress, stream.body.find(R"("state":"succeeded")")) << stream.body;
  const auto events = Events(id);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["status"], 200);
  // The callback URL's token is a secret: never logged, never stored.
  const std::string callback = events[0]["callback"];
  const std::string attempt_token = callback.substr(callback.rfind('/') + 1);
  ASSERT_EQ(attempt_token.size(), 32u) << callback;
  EXPECT_NE(worker.Stderr().find("callbacks on http://"), std::string::npos);
  EXPECT_EQ(worker.Stderr().find(attempt_token), std::string::npos);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE strpos(coalesce(last_error, '') || "
                       "coalesce(progress_message, '') || coalesce(convert_from(result, 'UTF8'), ''), '" +
                       attempt_token + "') > 0"),
            0);
}

TEST_F(HttpHandlerTest, ChildrenEnqueuedOnTheCallbackRunAsTheTasksChildren) {
  const TaskTypeSpec spec = Register("acme.split");
  const std::string id = Enqueue1(spec, {{"mode", "children"}, {"children", 3}});
  StartScheduler();
  StartWorker("w1", 4);
  ASSERT_TRUE(WaitTerminal(id, 30s)) << Diagnostics(id);
  ASSERT_EQ(State(id), "succeeded") << Diagnostics(id);
  const json result = json::parse(Result(id));
  ASSERT_EQ(result["children"].size(), 3u) << result.dump();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE parent_id = '" + id + "'"), 3);
  ASSERT_TRUE(WaitFor([&] {
    return db_->Count("SELECT count(*) FROM tasks WHERE parent_id = '" + id + "' AND state = 'succeeded'") == 3;
  }, 30s)) << Diagnostics();
  for (const auto& child : result["children"]) {
    EXPECT_EQ(json::parse(Result(child.get<std::string>()))["attempt"], 1);
  }
}

TEST_F(HttpHandlerTest, AKilledWorkersTaskRunsElsewhereAndItsLateAnswerIsRefused) {
  const TaskTypeSpec spec = Register("acme.late", {.timeout_ms = 60000, .max_attempts = 3});
  const std::string id = Enqueue1(spec, {{"mode", "late"}, {"wait_s", 6}});
  StartScheduler();
  Process& first = StartWorker("w1", 2);
  ASSERT_TRUE(WaitEvent(id, "request", 20s)) << Diagnostics(id);
  first.Signal(SIGKILL);
  first.Wait(5s);
  StartWorker("w2", 2);
  ASSERT_TRUE(WaitTerminal(id, 30s)) << Diagnostics(id);
  ASSERT_EQ(State(id), "succeeded") << Diagnostics(id);
  EXPECT_EQ(json::parse(Result(id)), json({{"attempt", 2}}));
  EXPECT_EQ(db_->Scalar("SELECT worker FROM tasks WHERE id = '" + id + "'"), "w2");
  // The first attempt's handler finishes later: its progress is refused
  // (its worker is gone) and its answer lands nowhere.
  ASSERT_TRUE(WaitEvent(id, "late_progress", 15s)) << Diagnostics(id);
  for (const auto& e : Events(id)) {
    if (e["event"] == "late_progress") {
      EXPECT_NE(e["status"], 200) << e.dump();
    }
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(json::parse(Result(id)), json({{"attempt", 2}}));
  EXPECT_EQ(db_->Scalar("SELECT coalesce(progress_message, '') FROM tasks WHERE id = '" + id + "'"), "");
  EXPECT_EQ(AttemptOutcomes(*db_, id).substr(0, 7), "1:lost ") << AttemptOutcomes(*db_, id);
}

TEST_F(HttpHandlerTest, AtMostTheTypesConcurrencyOfRequestsAtOnce) {
  const TaskTypeSpec spec = Register("acme.narrow", {.concurrency = 2});
  std::vector<json> payloads(8, json{{"mode", "hold"}, {"hold_s", 0.3}});
  const std::vector<std::string> ids = Enqueue(spec, payloads);
  StartScheduler();
  StartWorker("w1", 8);
  for (const auto& id : ids) {
    ASSERT_TRUE(WaitTerminal(id, 30s)) << Diagnostics(id);
    EXPECT_EQ(State(id), "succeeded");
  }
  int most = 0;
  for (const auto& e : Events()) {
    if (e["event"] == "holding") most = std::max(most, e["at_once"].get<int>());
  }
  EXPECT_EQ(most, 2);  // 8 slots, 8 tasks: the type's limit held them back
}

TEST_F(HttpHandlerTest, BadHandlersAreClearAttemptErrorsAndTheWorkerLeaksNothing) {
  const TaskTypeSpec ok = Register("acme.ok", {.max_attempts = 1});
  const TaskTypeSpec bad = Register("acme.bad", {.timeout_ms = 3000, .max_attempts = 1});
  const TaskTypeSpec down =
      Register("acme.down", {.max_attempts = 1, .url = "http://127.0.0.1:" + std::to_string(FreePort()) + "/x"});
  StartScheduler();
  Process& worker = StartWorker("w1", 2);
  for (const auto& warm : Enqueue(ok, {{{"mode", "ok"}}, {{"mode", "ok"}}})) {
    ASSERT_TRUE(WaitTerminal(warm, 30s)) << Diagnostics(warm);
    ASSERT_EQ(State(warm), "succeeded") << Diagnostics(warm);
  }
  std::this_thread::sleep_for(500ms);
  const Holdings before = HoldingsOf(worker.pid());

  const std::string garbage = Enqueue1(bad, {{"mode", "garbage"}});
  const std::string huge = Enqueue1(bad, {{"mode", "huge"}});
  const std::string endless = Enqueue1(bad, {{"mode", "endless"}});
  const std::string refused = Enqueue1(down, {{"mode", "ok"}});
  for (const auto& id : {garbage, huge, endless, refused}) {
    ASSERT_TRUE(WaitTerminal(id, 30s)) << Diagnostics(id);
  }
  // Permanent errors fail the task; transient ones on its last attempt too.
  EXPECT_EQ(State(garbage), "failed");
  EXPECT_EQ(State(huge), "failed");
  EXPECT_EQ(State(endless), "dead");
  EXPECT_EQ(State(refused), "dead");
  EXPECT_NE(LastError(garbage).find("answered 200 with a body that is not JSON"), std::string::npos)
      << LastError(garbage);
  EXPECT_NE(LastError(huge).find("larger than the type's max_result_bytes"), std::string::npos) << LastError(huge);
  EXPECT_EQ(db_->Scalar("SELECT outcome FROM task_attempts WHERE task_id = '" + endless + "'"), "timed_out")
      << AttemptOutcomes(*db_, endless);
  EXPECT_NE(LastError(refused).find("the HTTP handler did not answer"), std::string::npos) << LastError(refused);
  // The handler saw the worker hang up on the endless and the huge answers.
  EXPECT_TRUE(WaitEvent(endless, "closed", 5s)) << Diagnostics(endless);
  EXPECT_TRUE(WaitEvent(huge, "closed", 5s)) << Diagnostics(huge);

  // The worker keeps going, holding what it held.
  const std::string after_id = Enqueue1(ok, {{"mode", "ok"}});
  ASSERT_TRUE(WaitTerminal(after_id, 30s)) << Diagnostics(after_id);
  EXPECT_EQ(State(after_id), "succeeded");
  std::this_thread::sleep_for(500ms);
  const Holdings after = HoldingsOf(worker.pid());
  EXPECT_EQ(after.threads, before.threads);
  // Kept-alive connections to the handler: at most one idle per slot (2).
  EXPECT_LE(after.fds, before.fds + 2) << "before " << before.fds << "\n" << FdsOf(worker.pid());
  EXPECT_EQ(after.children, 0);
  EXPECT_EQ(before.children, 0);
  EXPECT_TRUE(worker.Running());
}

}  // namespace
}  // namespace fila::test
