#include "fila/core/tenant.h"

#include <gtest/gtest.h>

#include "fila/core/task_request.h"
#include "fila/core/tenant_gate.h"

namespace fila {
namespace {

TEST(Tenant, UploadUrlsMustLieUnderATargetAtASegmentBoundary) {
  const std::vector<std::string> targets{"https://dav.acme.example/nfe", "http://10.0.0.5:8080/"};
  EXPECT_TRUE(UrlUnderTargets("https://dav.acme.example/nfe", targets));
  EXPECT_TRUE(UrlUnderTargets("https://DAV.acme.example:443/nfe/2026", targets));
  EXPECT_TRUE(UrlUnderTargets("http://10.0.0.5:8080/anything", targets));
  for (const char* bad : {"https://dav.acme.example/nfe-evil", "https://dav.acme.example.evil.test/nfe",
                          "http://dav.acme.example/nfe", "https://dav.acme.example:8443/nfe",
                          "https://user:pw@dav.acme.example/nfe", "https://x@dav.acme.example/nfe",
                          "https://dav.acme.example/nfe/../other", "https://dav.acme.example/nfe/%2e%2e/other",
                          "https://dav.acme.example/nfe?x=1", "ftp://dav.acme.example/nfe",
                          "https://dav.acme.example/nf", "http://10.0.0.5/"}) {
    EXPECT_FALSE(UrlUnderTargets(bad, targets)) << bad;
  }
  EXPECT_FALSE(UrlUnderTargets("https://dav.acme.example/nfe", {}));
}

TEST(Tenant, NamesAndBindingValuesAreChecked) {
  for (const char* good : {"acme", "ACME_2", "a.b-c", "0"}) EXPECT_NO_THROW(ValidateTenantName(good)) << good;
  for (const char* bad : {"", ".", "..", "-a", "a/b", "a b", "ä"}) {
    EXPECT_THROW(ValidateTenantName(bad), PermanentError) << bad;
  }
  EXPECT_NO_THROW(FindBindingKind("queue").validate("reports"));
  EXPECT_THROW(FindBindingKind("queue").validate("ingest"), PermanentError);
  EXPECT_THROW(FindBindingKind("nope"), PermanentError);
}

TEST(Tenant, CronGapsAreMeasured) {
  EXPECT_EQ(ShortestCronGapSeconds("* * * * * *", "UTC"), 1);
  EXPECT_EQ(ShortestCronGapSeconds("*/5 * * * *", "UTC"), 300);
  EXPECT_EQ(ShortestCronGapSeconds("0 6,7 * * *", "UTC"), 3600);
  EXPECT_EQ(ShortestCronGapSeconds("@daily", "America/Sao_Paulo"), 86400);
}

// A store that counts its reads, with fixed settings.
class FakeTenantStore final : public TenantStore {
 public:
  TenantSettings Get(const std::string& tenant) override {
    ++reads;
    TenantSettings t = settings;
    t.name = tenant;
    return t;
  }
  std::vector<TenantSettings> List() override { return {}; }
  TenantSettings PutQuotas(const TenantSettings& s) override { return s; }
  void Bind(const std::string&, const std::string&, const std::string&) override {}
  bool Unbind(const std::string&, const std::string&, const std::string&) override { return false; }
  bool Delete(const std::string&) override { return false; }
  int64_t CountWaiting(const std::string&) override { return waiting; }
  int64_t CountSchedules(const std::string&) override { return schedules; }

  TenantSettings settings;
  int64_t waiting = 0;
  int64_t schedules = 0;
  int reads = 0;
};

TEST(TenantGate, QuotasAndCacheHold) {
  auto owned = std::make_unique<FakeTenantStore>();
  FakeTenantStore& store = *owned;
  store.settings.max_waiting = 10;
  store.waiting = 8;
  TenantDirectory directory(std::move(owned), std::chrono::minutes(1));
  TenantGate gate(directory, {});
  TaskRequest r;
  r.type = "noop";
  r.tenant = "acme";
  const NewTask task = PrepareTask(r, TaskTypes::Builtin(), {});
  std::vector<NewTask> two{task, task};
  EXPECT_NO_THROW(gate.CheckEnqueue(two, TaskTypes::Builtin(), QueueRule::kProducer));
  // Counted locally: the next one is over the quota at once.
  try {
    gate.CheckEnqueue(std::vector<NewTask>{task}, TaskTypes::Builtin(), QueueRule::kProducer);
    FAIL() << "no QuotaExceeded";
  } catch (const QuotaExceeded& e) {
    EXPECT_GT(e.RetryAfterSeconds(), 0);
  }
  EXPECT_EQ(store.reads, 1) << "the settings are cached";
  // The cron quota and the minimum interval.
  store.settings.min_cron_interval_s = 60;
  TenantDirectory fresh(std::make_unique<FakeTenantStore>(store), std::chrono::minutes(1));
  TenantGate schedules(fresh, {});
  ScheduleSpec spec = ScheduleOf(task, "s", "* * * * * *", "UTC", "");
  EXPECT_THROW(schedules.CheckSchedule(spec, task, TaskTypes::Builtin(), QueueRule::kProducer), PermanentError);
  spec.cron = "*/5 * * * *";
  EXPECT_NO_THROW(schedules.CheckSchedule(spec, task, TaskTypes::Builtin(), QueueRule::kProducer));
}

}  // namespace
}  // namespace fila
