// The console's routes on the real stack (docs/console-api.md): a bulk
// retry of 10,000 dead tasks matched by a payload filter, run in batches
// by the scheduler's bulk runner and then by a real worker, each retried
// exactly once, with its audit entry and its progress; tenants kept apart
// through every filter; producers refused the operators' actions; bad
// `where` expressions answered 400; a worker drained through the API.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "api_fixture.h"
#include "fila/http/url.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

json Body(const HttpResult& r) {
  auto j = json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.body;
  return j;
}

// A count of the API's JSON: int64 fields come quoted (protobuf's JSON
// mapping), the console's int32 ones as numbers; absent is 0.
int64_t Num(const json& j, const char* key) {
  if (!j.contains(key)) return 0;
  const auto& v = j[key];
  return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
}

class ConsoleApi : public ApiTest {
 protected:
  // `n` dead tasks of `tenant` in `queue` whose payload is {"account": account},
  // written straight to the database: a million-task console starts from data.
  void InsertDead(int n, const std::string& tenant, const std::string& queue, const std::string& account,
                  const std::string& error = "upstream timed out") {
    db_->Exec("INSERT INTO tasks (type, queue, priority, state, attempt, max_attempts, attempt_budget,"
              " timeout_ms, tenant, payload, args, last_error, started_at, finished_at)"
              " SELECT 'noop', '" + queue + "', 0, 'dead', 1, 1, 1, 30000, '" + tenant + "', '',"
              " jsonb_build_object('account', '" + account + "', 'n', g), '" + error + "',"
              " now() - interval '1 minute', now() FROM generate_series(1, " + std::to_string(n) + ") g");
  }

  std::unique_ptr<Process> StartWorker(const std::string& queue) {
    return std::make_unique<Process>(
        "fila-worker",
        std::vector<std::string>{"--queues", queue, "--concurrency", "16", "--heartbeat-interval-ms", "200"},
        std::map<std::string, std::string>{{"FILA_DATABASE_URL", db_->url()},
                                           {"FILA_AMQP_URL", Stack().amqp_url}});
  }

  static std::string Q(const std::string& text) { return EscapeUrlPart(text); }
};

TEST_F(ConsoleApi, ABulkRetryOfTenThousandDeadTasksRetriesEachOnceWithProgressAndAnAuditEntry) {
  const std::string queue = RandomName("bulk");
  InsertDead(10000, "acme", queue, "acme");
  InsertDead(500, "acme", queue, "other");
  const std::string filter = R"({"state":"dead","where":"args.account = \"acme\""})";

  auto dry = Call("POST", "/v1/bulk", operator_, R"({"action":"retry","dry_run":true,"filter":)" + filter + "}");
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(Body(dry)["count"], 10000) << dry.body;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE state = 'dead'"), 10500);  // a dry run changes nothing

  auto created = Call("POST", "/v1/bulk", operator_,
                      R"({"action":"retry","name":"acme replay","filter":)" + filter + "}");
  ASSERT_EQ(created.status, 202) << created.body;
  const json job = Body(created);
  const std::string id = job["id"];
  EXPECT_EQ(job["state"], "running");
  EXPECT_EQ(job["total"], 10000);
  EXPECT_EQ(job["name"], "acme replay");
  EXPECT_EQ(job["action"], "retry");

  // Its progress, batch by batch, until it is done.
  json last;
  int64_t seen_between = 0, previous = 0;
  ASSERT_TRUE(WaitFor([&] {
    auto r = Call("GET", "/v1/bulk/" + id, operator_);
    if (r.status != 200) return false;
    last = Body(r);
    const int64_t done = last.value("done", int64_t{0});
    EXPECT_GE(done, previous);  // never goes back
    previous = done;
    if (last["state"] == "running" && done > 0 && done < 10000) ++seen_between;
    return last["state"] != "running";
  }, 120s)) << last.dump() << scheduler_->Stderr();
  EXPECT_EQ(last["state"], "done") << last.dump();
  EXPECT_EQ(last["done"], 10000);
  EXPECT_EQ(last.value("skipped", 0), 0);
  EXPECT_EQ(last.value("failed", 0), 0);
  EXPECT_TRUE(last.contains("finished_at"));
  EXPECT_EQ(last["filter"]["where"], "args.account = \"acme\"");
  std::cout << "progress seen between 0 and 10000: " << seen_between << " times\n";
  EXPECT_GT(seen_between, 0) << "no intermediate progress: one giant batch?";

  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE state = 'dead' AND args->>'account' = 'other'"), 500);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE args->>'account' = 'acme' AND state = 'dead'"), 0);

  // The audit log names who, what, the filter and the count.
  auto audit = Call("GET", "/v1/audit?limit=10", operator_);
  ASSERT_EQ(audit.status, 200) << audit.body;
  const json entries = Body(audit)["entries"];
  ASSERT_FALSE(entries.empty()) << audit.body;
  EXPECT_EQ(entries[0]["action"], "bulk.retry");
  EXPECT_EQ(entries[0]["target"], id);
  EXPECT_EQ(entries[0]["count"], 10000);
  EXPECT_EQ(entries[0]["role"], "operator");
  EXPECT_EQ(entries[0]["filter"]["state"], "dead");
  EXPECT_NE(entries[0]["who"].get<std::string>().find("token "), std::string::npos);

  auto list = RunFila("fila", {"--api", base_, "--token", operator_, "bulk", "list"});
  EXPECT_EQ(list.ExitCode(), 0) << list.err;
  EXPECT_NE(list.out.find(id + "  retry  done  done=10000 skipped=0 failed=0 of 10000"), std::string::npos)
      << list.out;

  // A worker runs each retried task once: one new attempt each, attempt 2.
  auto worker = StartWorker(queue);
  ASSERT_TRUE(WaitFor([&] {
    return db_->Count("SELECT count(*) FROM tasks WHERE args->>'account' = 'acme' AND state = 'succeeded'") == 10000;
  }, 300s)) << worker->Stderr();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts"), 10000);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts WHERE attempt = 2 AND outcome = 'succeeded'"), 10000);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE args->>'account' = 'acme' AND attempt <> 2"), 0);
}

TEST_F(ConsoleApi, TheCliDryRunsAndStartsABulkJobAndFollowsIt) {
  const std::string queue = RandomName("clibulk");
  InsertDead(30, "acme", queue, "acme");
  auto dry = RunFila("fila", {"--api", base_, "--token", operator_, "bulk", "delete", "--state", "dead",
                              "--queue", queue, "--where", "args.account = \"acme\"", "--dry-run"});
  ASSERT_EQ(dry.ExitCode(), 0) << dry.err;
  EXPECT_NE(dry.out.find("30 tasks match"), std::string::npos) << dry.out;
  auto run = RunFila("fila", {"--api", base_, "--token", operator_, "bulk", "delete", "--state", "dead",
                              "--queue", queue, "--wait"});
  ASSERT_EQ(run.ExitCode(), 0) << run.err;
  EXPECT_NE(run.out.find("delete  done  done=30 skipped=0 failed=0 of 30"), std::string::npos) << run.out;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE queue = '" + queue + "'"), 0);
  auto audit = RunFila("fila", {"--api", base_, "--token", operator_, "audit"});
  ASSERT_EQ(audit.ExitCode(), 0) << audit.err;
  EXPECT_NE(audit.out.find("bulk.delete"), std::string::npos) << audit.out;
  // An operator on the database URL: audited under the database login.
  auto pause = RunFila("fila", {"queues", "pause", queue}, {{"FILA_DATABASE_URL", db_->url()}});
  EXPECT_EQ(pause.ExitCode(), 0) << pause.err;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM audit_log WHERE action = 'queue.pause' AND target = '" + queue +
                       "' AND who LIKE 'database %' AND role = 'operator'"),
            1);
  // Without the API: refused with the reason.
  auto direct = RunFila("fila", {"bulk", "list"}, {{"FILA_DATABASE_URL", db_->url()}});
  EXPECT_EQ(direct.ExitCode(), 2);
  EXPECT_NE(direct.err.find("--api"), std::string::npos) << direct.err;
  // A producer's token: refused by the server.
  auto producer = RunFila("fila", {"--api", base_, "--token", acme_, "bulk", "retry", "--state", "dead"});
  EXPECT_EQ(producer.ExitCode(), 2) << producer.out;
  EXPECT_NE(producer.err.find("operator"), std::string::npos) << producer.err;
}

TEST_F(ConsoleApi, AProducerSeesOnlyItsTenantThroughEveryFilterAndCannotActForOperators) {
  const std::string queue = RandomName("tenants");
  InsertDead(5, "acme", queue, "shared");
  InsertDead(7, "globex", queue, "shared", "globex secret error");

  auto own = Call("GET", "/v1/tasks?where=" + Q("args.account = \"shared\"") + "&limit=100", acme_);
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(Body(own)["tasks"].size(), 5u);
  for (const json& t : json(Body(own)["tasks"])) EXPECT_EQ(t["tenant"], "acme");
  // Naming the other tenant, or its payload, shows nothing of it.
  auto named = Call("GET", "/v1/tasks?tenant=globex&limit=100", acme_);
  ASSERT_EQ(named.status, 200) << named.body;
  for (const json& t : json(Body(named)["tasks"])) EXPECT_EQ(t["tenant"], "acme") << named.body;
  auto by_payload = Call("GET", "/v1/tasks?tenant=globex&where=" + Q("args.n = 6"), acme_);
  ASSERT_EQ(by_payload.status, 200);
  EXPECT_EQ(by_payload.body.find("globex"), std::string::npos) << by_payload.body;
  auto errors = Call("GET", "/v1/tasks:errors?tenant=globex", acme_);
  ASSERT_EQ(errors.status, 200) << errors.body;
  EXPECT_EQ(errors.body.find("globex secret error"), std::string::npos) << errors.body;
  ASSERT_EQ(Body(errors)["groups"].size(), 1u) << errors.body;
  EXPECT_EQ(Body(errors)["groups"][0]["count"], 5);
  auto stats = Call("GET", "/v1/stats?since=1h&bucket=60", acme_);
  ASSERT_EQ(stats.status, 200) << stats.body;
  int64_t finished = 0;
  for (const json& p : json(Body(stats)["series"])) finished += p["finished"].get<int64_t>();
  EXPECT_EQ(finished, 5) << stats.body;
  // The operator sees both.
  auto all = Call("GET", "/v1/tasks:errors", operator_);
  ASSERT_EQ(Body(all)["groups"].size(), 2u) << all.body;

  auto who = Call("GET", "/v1/whoami", acme_);
  ASSERT_EQ(who.status, 200);
  EXPECT_EQ(Body(who)["role"], "producer");
  EXPECT_EQ(Body(who)["tenant"], "acme");
  EXPECT_EQ(who.body.find(acme_), std::string::npos);  // never the secret
  EXPECT_EQ(Body(Call("GET", "/v1/whoami", operator_))["role"], "operator");

  // Operators' actions: 403 for a producer, and nothing done.
  const std::string body = R"({"action":"delete","filter":{"state":"dead"}})";
  for (const auto& [method, path, payload] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/v1/bulk", body},
           {"POST", "/v1/bulk", R"({"action":"retry","dry_run":true,"filter":{}})"},
           {"GET", "/v1/bulk", ""},
           {"GET", "/v1/bulk/00000000-0000-0000-0000-000000000000", ""},
           {"GET", "/v1/audit", ""},
           {"POST", "/v1/workers/w1:drain", ""},
           {"POST", "/v1/schedules/nightly:run", ""},
           {"POST", "/v1/queues/" + queue + ":pause", ""}}) {
    auto r = Call(method, path, acme_, payload);
    EXPECT_EQ(r.status, 403) << method << " " << path << ": " << r.body;
    EXPECT_NE(r.body.find("operator"), std::string::npos) << r.body;
  }
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 12);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM bulk_jobs"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM audit_log"), 0);
}

TEST_F(ConsoleApi, MalformedWhereExpressionsAre400WithTheReason) {
  InsertDead(3, "acme", RandomName("where"), "acme");
  const std::vector<std::pair<std::string, std::string>> cases{
      {"args.account = acme", "JSON"},
      {"account = \"acme\"", "must start with args."},
      {"args. = 1", "field name"},
      {"args.account", "expected = or !="},
      {"args.account = ", "value is missing"},
      {"args.account = \"open", "not closed"},
      {"args.account = {\"a\":1}", "scalar"},
      {"args.account = [1]", "scalar"},
      {"args.account = 1 2", "unexpected text"},
      {"args.a = \"\\q\"", "unknown escape"},
      {"args.a = 01", "unexpected text"},
      {std::string(5000, '{'), "longer than 1024"},
      {std::string(1000, '['), "field name"},
  };
  std::string deep = "args";
  for (int i = 0; i < 17; ++i) deep += ".a";
  std::vector<std::pair<std::string, std::string>> all = cases;
  all.emplace_back(deep + " = 1", "deeper than 16");
  std::string long_path = "args";
  for (int i = 0; i < 400; ++i) long_path += ".abc";
  all.emplace_back(long_path + " = 1", "longer than 1024");
  for (const auto& [where, reason] : all) {
    auto r = Call("GET", "/v1/tasks?where=" + Q(where), operator_);
    EXPECT_EQ(r.status, 400) << where.substr(0, 60) << ": " << r.body;
    EXPECT_NE(r.body.find(reason), std::string::npos) << where.substr(0, 60) << ": " << r.body;
    EXPECT_NE(r.body.find("\"field\":\"where\""), std::string::npos) << r.body;
    json bulk{{"action", "retry"}, {"dry_run", true}, {"filter", {{"where", where}}}};
    auto b = Call("POST", "/v1/bulk", operator_, bulk.dump());
    EXPECT_EQ(b.status, 400) << where.substr(0, 60) << ": " << b.body;
  }
  for (const auto& [param, value] : std::vector<std::pair<std::string, std::string>>{
           {"state", "zombie"}, {"priority", "12"}, {"created_after", "yesterday"}, {"limit", "0"}}) {
    auto r = Call("GET", "/v1/tasks?" + param + "=" + value, operator_);
    EXPECT_EQ(r.status, 400) << param << ": " << r.body;
  }
  // The server is still there, and a good expression works.
  auto ok = Call("GET", "/v1/tasks?where=" + Q("args.account = \"acme\"") + "&state=dead", operator_);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Body(ok)["tasks"].size(), 3u);
}

TEST_F(ConsoleApi, AScheduleShowsItsFiresAndRunsNowForAnOperator) {
  auto added = Call("POST", "/v1/schedules", acme_, R"({"name": "nightly", "cron": "@daily", "type": "noop"})");
  ASSERT_EQ(added.status, 201) << added.body;
  auto listed = Body(Call("GET", "/v1/schedules", acme_));
  ASSERT_EQ(listed["schedules"].size(), 1u) << listed.dump();
  EXPECT_TRUE(listed["schedules"][0].contains("next_fire")) << listed.dump();
  EXPECT_EQ(listed["schedules"][0]["next_fire"], listed["schedules"][0]["next_fire_at"]);
  EXPECT_EQ(Call("POST", "/v1/schedules/nightly:run", acme_).status, 403);  // producers may not
  EXPECT_EQ(Call("POST", "/v1/schedules/nightly:run", operator_).status, 404);  // the operator's tenant has none

  auto run = Call("POST", "/v1/schedules/nightly:run?tenant=acme", operator_);
  ASSERT_EQ(run.status, 201) << run.body;
  const std::string id = Body(run)["id"];
  EXPECT_EQ(db_->Scalar("SELECT tenant || ' ' || type || ' ' || state FROM tasks WHERE id = '" + id + "'"),
            "acme noop queued");
  auto cli = RunFila("fila", {"--api", base_, "--token", operator_, "schedules", "run", "nightly"});
  EXPECT_EQ(cli.ExitCode(), 2) << cli.out;  // the operator's tenant has no such schedule
  auto audit = Body(Call("GET", "/v1/audit", operator_));
  EXPECT_EQ(audit["entries"][0]["action"], "schedule.run");
  EXPECT_EQ(audit["entries"][0]["target"], "acme/nightly");
  EXPECT_EQ(audit["entries"][0]["count"], 1);
}

TEST_F(ConsoleApi, ADrainedWorkerTakesNoNewTaskWhileAnotherOneDoes) {
  const std::string queue = RandomName("drain");
  auto first = StartWorker(queue);
  std::string worker_id, seen;
  ASSERT_TRUE(WaitFor([&] {
    auto r = Call("GET", "/v1/workers", operator_);
    seen = r.body;
    for (const json& w : json(Body(r)["workers"])) {
      if (!w["queues"].empty() && w["queues"][0] == queue) worker_id = w["id"];
    }
    return !worker_id.empty();
  }, 20s)) << seen << first->Stderr();
  auto drained = Call("POST", "/v1/workers/" + Q(worker_id) + ":drain", operator_);
  ASSERT_EQ(drained.status, 200) << drained.body;
  EXPECT_EQ(Body(drained)["draining"], true) << drained.body;
  EXPECT_EQ(Call("POST", "/v1/workers/nobody:drain", operator_).status, 404);
  ASSERT_TRUE(WaitFor([&] { return first->Stderr().find("drain requested") != std::string::npos; }, 10s))
      << first->Stderr();

  for (int i = 0; i < 5; ++i) {
    auto r = Call("POST", "/v1/tasks", operator_, R"({"type":"noop","queue":")" + queue + R"("})");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE queue = '" + queue + "' AND state = 'queued' AND attempt = 0"), 5)
      << first->Stderr();
  auto workers = Call("GET", "/v1/workers", operator_);
  bool shown = false;
  for (const json& w : json(Body(workers)["workers"])) {
    if (w["id"] != worker_id) continue;
    shown = true;
    EXPECT_EQ(w["draining"], true);
    EXPECT_EQ(w["slots"], 16 + 4) << "--concurrency 16 and a quarter of that as express slots";
    EXPECT_FALSE(w.value("version", "").empty()) << w.dump();
    EXPECT_TRUE(w.contains("last_heartbeat")) << w.dump();
  }
  EXPECT_TRUE(shown) << workers.body;
  auto queues = Body(Call("GET", "/v1/queues", operator_));
  for (const auto& q : queues["queues"]) {
    if (q["queue"] != queue) continue;
    EXPECT_EQ(Num(q, "consumers"), 0) << q.dump();
    EXPECT_EQ(Num(q["depth_by_priority"], "0"), 5) << q.dump();
  }
  auto audit = Body(Call("GET", "/v1/audit", operator_));
  EXPECT_EQ(audit["entries"][0]["action"], "worker.drain");
  EXPECT_EQ(audit["entries"][0]["target"], worker_id);

  // The drained worker is alive; a second one takes the tasks.
  EXPECT_TRUE(first->Running());
  auto second = StartWorker(queue);
  ASSERT_TRUE(WaitFor([&] {
    return db_->Count("SELECT count(*) FROM tasks WHERE queue = '" + queue + "' AND state = 'succeeded'") == 5;
  }, 30s)) << second->Stderr();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE queue = '" + queue + "' AND worker = '" + worker_id + "'"), 0);
}

}  // namespace
}  // namespace fila::test
