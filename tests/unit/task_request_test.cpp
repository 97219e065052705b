#include "fila/core/task_request.h"

#include <gtest/gtest.h>

namespace fila {
namespace {

TaskRequest Sleep(std::string json = R"({"ms": 5})") {
  TaskRequest r;
  r.type = "sleep";
  r.payload = std::move(json);
  r.payload_form = TaskRequest::PayloadForm::kJson;
  return r;
}

std::string FieldOf(const TaskRequest& r, const TaskLimits& limits = {}) {
  try {
    PrepareTask(r, TaskTypes::Builtin(TestTypes::kEnabled), limits);
  } catch (const PermanentError& e) {
    return e.field();
  }
  return "(accepted)";
}

std::string FieldOf(const TaskRequest& r, const TaskTypes& types) {
  try {
    PrepareTask(r, types, {});
  } catch (const PermanentError& e) {
    return e.field();
  }
  return "(accepted)";
}

TEST(PrepareTask, FillsTheTypesDefaults) {
  NewTask t = PrepareTask(Sleep(), TaskTypes::Builtin(TestTypes::kEnabled), {});
  EXPECT_EQ(t.queue, "default");
  EXPECT_EQ(t.priority, 0u);
  EXPECT_EQ(t.timeout_ms, 60000u);
  EXPECT_EQ(t.max_attempts, 3u);
  EXPECT_FALSE(t.payload.empty());
}

TEST(PrepareTask, NamesTheBadField) {
  TaskRequest r = Sleep();
  r.priority = 10;
  EXPECT_EQ(FieldOf(r), "priority");
  r = Sleep();
  r.priority = -1;
  EXPECT_EQ(FieldOf(r), "priority");
  r = Sleep();
  r.timeout_ms = 0;
  EXPECT_EQ(FieldOf(r), "timeout_ms");
  r = Sleep();
  r.timeout_ms = 365LL * 24 * 3600 * 1000;  // absurd
  EXPECT_EQ(FieldOf(r), "timeout_ms");
  r = Sleep();
  r.max_attempts = 0;
  EXPECT_EQ(FieldOf(r), "max_attempts");
  r = Sleep();
  r.retry_base_ms = 500;
  r.retry_cap_ms = 100;
  EXPECT_EQ(FieldOf(r), "retry_base_ms");
  r = Sleep();
  r.type = "nope";
  EXPECT_EQ(FieldOf(r), "type");
  r = Sleep();
  r.queue = "Bad Queue";
  EXPECT_EQ(FieldOf(r), "queue");
  r = Sleep();
  r.idempotency_key = std::string(300, 'k');
  EXPECT_EQ(FieldOf(r), "idempotency_key");
  r = Sleep();
  r.tenant = "";
  EXPECT_EQ(FieldOf(r), "tenant");
  EXPECT_EQ(FieldOf(Sleep(R"({"ms": "x"})")), "payload.ms");
  EXPECT_EQ(FieldOf(Sleep()), "(accepted)");
}

TEST(PrepareTask, OversizedPayloadIsItsOwnError) {
  TaskLimits small;
  small.max_payload_bytes = 8;
  EXPECT_THROW(PrepareTask(Sleep(R"({"ms": 123456})"), TaskTypes::Builtin(TestTypes::kEnabled), small),
               PayloadTooLarge);
}

TEST(PrepareTask, BytesPayloadMustParse) {
  TaskRequest r = Sleep();
  r.payload_form = TaskRequest::PayloadForm::kBytes;
  r.payload = "\xff\xff\xff";
  EXPECT_EQ(FieldOf(r), "payload");
  r.payload = std::string("\x08\x05", 2);  // ms = 5
  EXPECT_EQ(FieldOf(r), "(accepted)");
}

TEST(PrepareTask, DelayBecomesRunAtAndCannotBeCombinedWithOne) {
  TaskRequest r = Sleep();
  r.delay_ms = 30000;
  EXPECT_EQ(PrepareTask(r, TaskTypes::Builtin(TestTypes::kEnabled), {}, 1000).run_at_ms, 31000);
  r.run_at_ms = 5000;
  EXPECT_EQ(FieldOf(r), "delay_ms");
  r.run_at_ms = 0;
  r.delay_ms = -1;
  EXPECT_EQ(FieldOf(r), "delay_ms");
}

TEST(PrepareTask, DependenciesMustBeTaskIds) {
  TaskRequest r = Sleep();
  r.depends_on = {"00000000-0000-4000-8000-000000000000"};
  EXPECT_EQ(PrepareTask(r, TaskTypes::Builtin(TestTypes::kEnabled), {}).depends_on, r.depends_on);
  r.depends_on.push_back("'; DROP TABLE tasks; --");
  EXPECT_EQ(FieldOf(r), "depends_on");
}

TEST(PrepareTask, LimitComesFromTheTypeAndTheTaskOverridesIt) {
  TaskTypes types = TaskTypes::Builtin(TestTypes::kEnabled);
  TaskTypeSpec spec = *types.Get("sleep");
  spec.limit = {.max_concurrent = 2};
  spec.limit_key_field = "ms";  // any scalar field; in real types an account or host
  types.Register(spec);
  TaskRequest r = Sleep(R"({"ms": 7})");
  NewTask t = PrepareTask(r, types, {});
  EXPECT_EQ(t.limit_key, "sleep:7");
  EXPECT_EQ(t.limit.max_concurrent, 2u);
  r.limit_key = "acct-9";
  r.limit_rate = 60;
  r.limit_period_ms = 60000;
  t = PrepareTask(r, types, {});
  // A producer's key lives in its tenant's namespace.
  EXPECT_EQ(t.limit_key, "tenant:default:acct-9");
  r.tenant = "globex";
  EXPECT_EQ(PrepareTask(r, types, {}).limit_key, "tenant:globex:acct-9");
  r.limit_key = "omie:ACME";  // a handler's key stays out of reach
  EXPECT_EQ(PrepareTask(r, types, {}).limit_key, "tenant:globex:omie:ACME");
  r.tenant = "default";
  r.limit_key = "acct-9";
  EXPECT_EQ(t.limit.max_concurrent, 2u);
  EXPECT_EQ(t.limit.rate, 60u);
  // No limit at all: no key either (the claim's fast path).
  EXPECT_TRUE(PrepareTask(Sleep(), TaskTypes::Builtin(TestTypes::kEnabled), {}).limit_key.empty());
  TaskRequest no_period = Sleep();
  no_period.limit_rate = 5;
  EXPECT_EQ(FieldOf(no_period), "limit_period_ms");
}

TEST(PrepareTask, TestTypesExistOnlyWhenEnabled) {
  EXPECT_EQ(FieldOf(Sleep(), TaskTypes::Builtin()), "type");
  EXPECT_NO_THROW(PrepareTask(Sleep(), TaskTypes::Builtin(TestTypes::kEnabled), {}));
  TaskRequest noop;
  noop.type = "noop";
  EXPECT_NO_THROW(PrepareTask(noop, TaskTypes::Builtin(), {}));
}

TEST(PrepareTask, FanoutsOverTheTreeCapAreRefusedAtEnqueue) {
  const TaskTypes types = TaskTypes::Builtin(TestTypes::kEnabled);
  TaskRequest r;
  r.type = "fanout";
  r.payload_form = TaskRequest::PayloadForm::kJson;
  r.payload = R"({"width": 100, "depth": 5})";  // about 10^10 tasks
  EXPECT_EQ(FieldOf(r, types), "payload.depth");
  r.payload = R"({"width": 2000, "depth": 1})";  // 2,001 children of one task
  EXPECT_EQ(FieldOf(r, types), "payload.width");
  r.payload = R"({"width": 4294967295, "depth": 4294967295})";  // no overflow
  EXPECT_EQ(FieldOf(r, types), "payload.width");
  r.payload = R"({"width": 20, "depth": 2})";  // 20 + 1 + 20 * 21 = 441 below the root
  EXPECT_NO_THROW(PrepareTask(r, types, {}));
  TaskLimits small;
  small.max_tree_tasks = 441;
  EXPECT_THROW(PrepareTask(r, types, small), PermanentError);
  small.max_tree_tasks = 442;
  EXPECT_NO_THROW(PrepareTask(r, types, small));
}

TEST(PrepareTask, TenantsAreFolderNames) {
  for (const char* bad : {"", "..", ".hidden", "a/b", "a b", "-x"}) {
    TaskRequest r = Sleep();
    r.tenant = bad;
    EXPECT_EQ(FieldOf(r), "tenant") << bad;
  }
}

}  // namespace
}  // namespace fila
