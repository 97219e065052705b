// Scheduling and workflows over the HTTP API: delays, dependencies, limits,
// the task tree and cron schedules, each tenant seeing only its own.
#include <gtest/gtest.h>

#include "api_fixture.h"

namespace fila::test {
namespace {

using ApiWorkflow = ApiTest;

TEST_F(ApiWorkflow, DelayAtDependenciesAndLimitsInAnEnqueue) {
  auto parent = Call("POST", "/v1/tasks", acme_, R"({"type": "noop", "delay_ms": 60000})");
  ASSERT_EQ(parent.status, 201) << parent.body;
  EXPECT_EQ(JsonField(parent.body, "state"), "scheduled");
  const std::string parent_id = JsonField(parent.body, "id");
  auto child = Call("POST", "/v1/tasks", acme_,
                    R"({"type": "noop", "depends_on": [")" + parent_id +
                        R"("], "limit_key": "acct-1", "limit_concurrency": 2})");
  ASSERT_EQ(child.status, 201) << child.body;
  EXPECT_EQ(JsonField(child.body, "state"), "blocked");
  const std::string child_id = JsonField(child.body, "id");
  auto got = Call("GET", "/v1/tasks/" + child_id, acme_);
  EXPECT_NE(got.body.find(parent_id), std::string::npos) << got.body;
  EXPECT_EQ(JsonField(got.body, "limit_key"), "acct-1");
  auto at = Call("POST", "/v1/tasks", acme_, R"({"type": "noop", "run_at": "2099-01-01T06:00:00-03:00"})");
  EXPECT_EQ(at.status, 400) << at.body;  // more than a year ahead
  auto at_ok = Call("POST", "/v1/tasks", acme_,
                    R"({"type": "noop", "run_at": "2026-01-01T06:00:00-03:00"})");
  EXPECT_EQ(at_ok.status, 201) << at_ok.body;
  auto bad_at = Call("POST", "/v1/tasks", acme_, R"({"type": "noop", "run_at": "tomorrow"})");
  EXPECT_EQ(bad_at.status, 400);
  EXPECT_EQ(JsonField(bad_at.body, "field"), "run_at");
  // Another tenant's task cannot be a parent: it does not exist for globex.
  auto foreign = Call("POST", "/v1/tasks", globex_,
                      R"({"type": "noop", "depends_on": [")" + parent_id + R"("]})");
  EXPECT_EQ(foreign.status, 400) << foreign.body;
  EXPECT_EQ(JsonField(foreign.body, "field"), "depends_on");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE tenant = 'globex'"), 0);
}

TEST_F(ApiWorkflow, TaskTreeIsTheTenantsOnly) {
  db_->Exec("INSERT INTO tasks (id, type, queue, priority, state, max_attempts, timeout_ms, tenant) "
            "VALUES ('11111111-1111-4111-8111-111111111111', 'fanout', 'default', 0, 'succeeded', 1, 1000, 'acme')");
  db_->Exec("INSERT INTO tasks (id, type, queue, priority, state, max_attempts, timeout_ms, tenant, parent_id) "
            "VALUES ('22222222-2222-4222-8222-222222222222', 'noop', 'default', 0, 'queued', 1, 1000, 'acme', "
            "'11111111-1111-4111-8111-111111111111')");
  auto tree = Call("GET", "/v1/tasks/11111111-1111-4111-8111-111111111111/tree", acme_);
  ASSERT_EQ(tree.status, 200) << tree.body;
  EXPECT_NE(tree.body.find("22222222-2222-4222-8222-222222222222"), std::string::npos) << tree.body;
  EXPECT_EQ(Call("GET", "/v1/tasks/11111111-1111-4111-8111-111111111111/tree", globex_).status, 404);
}

TEST_F(ApiWorkflow, SchedulesAddListPauseResumeDelete) {
  auto added = Call("POST", "/v1/schedules", acme_,
                    R"({"name": "gazettes", "cron": "0 6 * * 1-5", "timezone": "America/Sao_Paulo",
                        "type": "sleep", "args": {"ms": 5}, "catch_up": "latest"})");
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_FALSE(JsonField(added.body, "next_fire_at").empty()) << added.body;
  EXPECT_EQ(Call("POST", "/v1/schedules", acme_,
                 R"({"name": "gazettes", "cron": "@daily", "type": "noop"})").status,
            400);  // the name is taken
  auto bad_cron = Call("POST", "/v1/schedules", acme_, R"({"name": "x", "cron": "61 * * * *", "type": "noop"})");
  EXPECT_EQ(bad_cron.status, 400);
  EXPECT_EQ(JsonField(bad_cron.body, "field"), "cron");
  auto bad_type = Call("POST", "/v1/schedules", acme_, R"({"name": "y", "cron": "@daily", "type": "nope"})");
  EXPECT_EQ(JsonField(bad_type.body, "field"), "type");

  EXPECT_NE(Call("GET", "/v1/schedules", acme_).body.find("gazettes"), std::string::npos);
  EXPECT_EQ(Call("GET", "/v1/schedules", globex_).body.find("gazettes"), std::string::npos);
  EXPECT_EQ(Call("POST", "/v1/schedules/gazettes:pause", globex_, "{}").status, 404);
  auto paused = Call("POST", "/v1/schedules/gazettes:pause", acme_, "{}");
  EXPECT_EQ(JsonField(paused.body, "paused"), "true") << paused.body;
  auto resumed = Call("POST", "/v1/schedules/gazettes:resume", acme_, "{}");
  EXPECT_EQ(resumed.status, 200);
  EXPECT_EQ(JsonField(resumed.body, "paused"), "");  // false is not printed
  EXPECT_EQ(Call("DELETE", "/v1/schedules/gazettes", globex_).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/schedules/gazettes", acme_).status, 204);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM schedules"), 0);
}

TEST_F(ApiWorkflow, CliSchedulesDependenciesAndTreesThroughTheApi) {
  std::map<std::string, std::string> env{{"FILA_DATABASE_URL", ""}, {"FILA_API_URL", base_},
                                         {"FILA_API_TOKEN", acme_}};
  auto add = RunFila("fila", {"schedules", "add", "--name", "nightly", "--cron", "@daily", "--tz",
                              "America/Sao_Paulo", "--type", "sleep", "--payload-json", R"({"ms": 5})"},
                     env);
  ASSERT_EQ(add.ExitCode(), 0) << add.err;
  EXPECT_EQ(db_->Scalar("SELECT tenant || ' ' || timezone FROM schedules WHERE name = 'nightly'"),
            "acme America/Sao_Paulo");
  auto list = RunFila("fila", {"schedules", "list"}, env);
  EXPECT_NE(list.out.find("nightly"), std::string::npos) << list.out;
  EXPECT_EQ(RunFila("fila", {"schedules", "pause", "nightly"}, env).ExitCode(), 0);
  EXPECT_EQ(db_->Scalar("SELECT paused FROM schedules WHERE name = 'nightly'"), "t");
  EXPECT_EQ(RunFila("fila", {"schedules", "delete", "nope"}, env).ExitCode(), 2);
  EXPECT_EQ(RunFila("fila", {"schedules", "delete", "nightly"}, env).ExitCode(), 0);

  auto parent = RunFila("fila", {"enqueue", "noop", "--delay", "1h"}, env);
  ASSERT_EQ(parent.ExitCode(), 0) << parent.err;
  const std::string parent_id = parent.out.substr(0, 36);
  auto child = RunFila("fila", {"enqueue", "noop", "--depends-on", parent_id, "--limit-key", "k",
                                "--limit-rate", "10/1m"},
                       env);
  ASSERT_EQ(child.ExitCode(), 0) << child.err;
  EXPECT_EQ(db_->Scalar("SELECT state || ' ' || limit_key || ' ' || limit_rate || ' ' || limit_period_ms "
                        "FROM tasks WHERE id = '" + child.out.substr(0, 36) + "'"),
            "blocked tenant:acme:k 10 60000");  // the key in the tenant's namespace
  auto tree = RunFila("fila", {"get", parent_id, "--tree"}, env);
  EXPECT_EQ(tree.ExitCode(), 0) << tree.err;
  EXPECT_EQ(tree.out.rfind(parent_id, 0), 0u) << tree.out;
}

}  // namespace
}  // namespace fila::test
