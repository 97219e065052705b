#include "fila/core/tenant.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

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

// What neither fake below uses of the store.
class QuietTenantStore : public TenantStore {
 public:
  std::vector<TenantSettings> List() override { return {}; }
  TenantSettings PutQuotas(const TenantSettings& s) override { return s; }
  void Bind(const std::string&, const std::string&, const std::string&) override {}
  bool Unbind(const std::string&, const std::string&, const std::string&) override { return false; }
  bool Delete(const std::string&) override { return false; }
};

// A store that counts its reads, with fixed settings.
class FakeTenantStore final : public QuietTenantStore {
 public:
  TenantSettings Get(const std::string& tenant) override {
    ++reads;
    TenantSettings t = settings;
    t.name = tenant;
    return t;
  }
  int64_t CountWaiting(const std::string&, int64_t at_most) override {
    last_at_most = at_most;
    return std::min(waiting, at_most);
  }
  int64_t CountSchedules(const std::string&) override { return schedules; }

  TenantSettings settings;
  int64_t waiting = 0;
  int64_t schedules = 0;
  int reads = 0;
  int64_t last_at_most = -1;
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
  EXPECT_EQ(store.last_at_most, 11) << "counted up to one past the quota, no further";
  // The cron quota and the minimum interval.
  store.settings.min_cron_interval_s = 60;
  TenantDirectory fresh(std::make_unique<FakeTenantStore>(store), std::chrono::minutes(1));
  TenantGate schedules(fresh, {});
  ScheduleSpec spec = ScheduleOf(task, "s", "* * * * * *", "UTC", "");
  EXPECT_THROW(schedules.CheckSchedule(spec, task, TaskTypes::Builtin(), QueueRule::kProducer), PermanentError);
  spec.cron = "*/5 * * * *";
  EXPECT_NO_THROW(schedules.CheckSchedule(spec, task, TaskTypes::Builtin(), QueueRule::kProducer));
}


// A store whose waiting count can be held up, on a clock the test moves: a
// count takes `count_takes` of it.
class SlowCountStore final : public QuietTenantStore {
 public:
  TenantSettings Get(const std::string& tenant) override {
    TenantSettings t;
    t.name = tenant;
    t.max_waiting = 1000;
    return t;
  }
  int64_t CountSchedules(const std::string&) override { return 0; }
  int64_t CountWaiting(const std::string&, int64_t) override {
    std::unique_lock lock(mutex);
    ++counts;
    changed.notify_all();
    changed.wait(lock, [&] { return !hold; });
    now += count_takes;
    return 0;
  }
  SteadyClock::time_point Now() {
    std::lock_guard lock(mutex);
    return now;
  }
  void Advance(SteadyClock::duration d) {
    std::lock_guard lock(mutex);
    now += d;
  }
  void Hold(bool on) {
    std::lock_guard lock(mutex);
    hold = on;
    changed.notify_all();
  }
  bool WaitFor(const std::function<bool()>& done) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, std::chrono::seconds(10), done);
  }

  std::mutex mutex;
  std::condition_variable changed;
  bool hold = false;
  int counts = 0;
  int finished = 0;
  SteadyClock::time_point now{};
  SteadyClock::duration count_takes{};
};

struct SlowCountGate {
  SlowCountGate() {
    auto owned = std::make_unique<SlowCountStore>();
    store = owned.get();
    directory = std::make_unique<TenantDirectory>(std::move(owned), std::chrono::minutes(1));
    gate = std::make_unique<TenantGate>(*directory, TenantQuotaDefaults{}, [this] { return store->Now(); });
    TaskRequest r;
    r.type = "noop";
    r.tenant = "acme";
    task = PrepareTask(r, TaskTypes::Builtin(), {});
  }
  // `n` producers at once; each counts one task.
  std::vector<std::thread> Producers(int n) {
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([this] {
        gate->ReserveWaiting(std::vector<NewTask>{task});
        std::lock_guard lock(store->mutex);
        ++store->finished;
        store->changed.notify_all();
      });
    }
    return threads;
  }
  SlowCountStore* store;
  std::unique_ptr<TenantDirectory> directory;
  std::unique_ptr<TenantGate> gate;
  NewTask task;
};

// A tenant with a backlog of a million tasks took 0.25-0.7 s to count, and
// every request that found the count stale counted again: 40 counts in 8 s
// at 500 requests a second, more than a core of PostgreSQL. One count runs
// at a time per tenant; the requests meanwhile use the last one.
TEST(TenantGate, OneCountAtATimeWhileTheOthersUseTheLastOne) {
  SlowCountGate g;
  g.store->Hold(true);
  auto first = g.Producers(8);
  EXPECT_TRUE(g.store->WaitFor([&] { return g.store->counts >= 1; }));
  g.store->Hold(false);  // the first count of a tenant is waited for
  for (auto& t : first) t.join();
  EXPECT_EQ(g.store->counts, 1);
  EXPECT_EQ(g.store->finished, 8);

  g.store->Advance(std::chrono::seconds(2));  // stale
  g.store->Hold(true);
  auto second = g.Producers(8);
  // Seven answered while the eighth still counts.
  EXPECT_TRUE(g.store->WaitFor([&] { return g.store->finished == 8 + 7; })) << g.store->finished;
  EXPECT_EQ(g.store->counts, 2);
  g.store->Hold(false);
  for (auto& t : second) t.join();
  EXPECT_EQ(g.store->counts, 2);
}

TEST(TenantGate, ASlowCountIsReadLessOften) {
  SlowCountGate g;
  const auto reserve = [&] { g.gate->ReserveWaiting(std::vector<NewTask>{g.task}); };
  reserve();  // a quick count: read again a second later
  g.store->Advance(std::chrono::milliseconds(900));
  reserve();
  EXPECT_EQ(g.store->counts, 1);
  g.store->Advance(std::chrono::milliseconds(200));
  g.store->count_takes = std::chrono::milliseconds(300);
  reserve();
  EXPECT_EQ(g.store->counts, 2);
  g.store->Advance(std::chrono::milliseconds(5900));  // 20 × 300 ms = 6 s
  reserve();
  EXPECT_EQ(g.store->counts, 2);
  g.store->count_takes = std::chrono::seconds(10);
  g.store->Advance(std::chrono::milliseconds(200));
  reserve();
  EXPECT_EQ(g.store->counts, 3);
  g.store->Advance(std::chrono::seconds(29));  // 200 s by the rule, but at most 30 s
  reserve();
  EXPECT_EQ(g.store->counts, 3);
  g.store->Advance(std::chrono::seconds(2));
  reserve();
  EXPECT_EQ(g.store->counts, 4);
}

}  // namespace
}  // namespace fila
