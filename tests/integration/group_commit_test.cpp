// Group commit of single enqueues and backpressure, over real HTTP against
// a real fila-scheduler and PostgreSQL: concurrent POST /v1/tasks are
// committed together, each answered on its own; slow commits are answered
// 429 with Retry-After, the flooding tenant before a quiet one.
#include <pqxx/pqxx>

#include <atomic>
#include <regex>
#include <thread>

#include "api_fixture.h"

namespace fila::test {
namespace {

using std::chrono::milliseconds;
const std::string kMissing = "00000000-0000-4000-8000-000000000000";

class GroupCommitTest : public ApiTest {
 protected:
  void SetUp() override {}

  // The scheduler of ApiTest, with metrics served and `extra` flags.
  void Start(std::vector<std::string> extra) {
    db_ = std::make_unique<TestDatabase>();
    port_ = FreePort();
    metrics_port_ = FreePort();
    base_ = "http://127.0.0.1:" + std::to_string(port_);
    acme_ = Token("acme", "producer");
    globex_ = Token("globex", "producer");
    std::vector<std::string> args{"--api-listen", "127.0.0.1:" + std::to_string(port_),
                                  "--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port_),
                                  "--api-max-in-flight-per-client", "0",
                                  "--api-max-in-flight-per-tenant", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    scheduler_ = std::make_unique<Process>(
        "fila-scheduler", args,
        std::map<std::string, std::string>{{"FILA_DATABASE_URL", db_->url()},
                                           {"FILA_AMQP_URL", Stack().amqp_url}});
    ASSERT_TRUE(WaitFor([&] { return Http("GET", base_ + "/v1/queues").status != 0; },
                        std::chrono::seconds(20)))
        << scheduler_->Stderr();
  }

  // The value of an unlabelled (or exactly labelled) series of /metrics; -1 if absent.
  double Metric(const std::string& series) {
    auto r = Http("GET", "http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics");
    std::istringstream lines(r.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
  }

  int metrics_port_ = 0;
};

TEST_F(GroupCommitTest, ConcurrentSingleEnqueuesAreCommittedTogetherEachAnsweredAlone) {
  // The held commits below would otherwise trip the commit latency bound.
  Start({"--max-commit-latency-ms", "0"});
  // A lock on the outbox holds the first commits back, so the requests
  // that arrive meanwhile wait together and form a group.
  pqxx::connection locker(db_->url());
  pqxx::work hold(locker);
  hold.exec("LOCK TABLE outbox IN EXCLUSIVE MODE");

  constexpr size_t kRequests = 64;
  std::vector<std::string> bodies(kRequests, R"({"type":"noop"})");
  bodies[5] = R"({"type":"noop","depends_on":[")" + kMissing + R"("]})";
  bodies[20] = R"({"type":"noop","idempotency_key":"twice"})";
  bodies[40] = bodies[20];
  std::vector<HttpResult> results(kRequests);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] { results[i] = Call("POST", "/v1/tasks", acme_, bodies[i]); });
  }
  std::this_thread::sleep_for(milliseconds(700));
  hold.abort();
  for (auto& t : threads) t.join();

  std::set<std::string> ids;
  int created_twice = 0;
  for (size_t i = 0; i < kRequests; ++i) {
    const auto& r = results[i];
    if (i == 5) {
      EXPECT_EQ(r.status, 400) << r.body;
      EXPECT_EQ(JsonField(r.body, "field"), "depends_on") << r.body;
      continue;
    }
    if (i == 20 || i == 40) {
      ASSERT_TRUE(r.status == 201 || r.status == 200) << i << ": " << r.status << " " << r.body;
      created_twice += r.status == 201;
    } else {
      EXPECT_EQ(r.status, 201) << i << ": " << r.body;
    }
    ids.insert(JsonField(r.body, "id"));
  }
  EXPECT_EQ(created_twice, 1);  // the second of the pair answers the first's id
  EXPECT_EQ(JsonField(results[20].body, "id"), JsonField(results[40].body, "id"));
  EXPECT_EQ(ids.size(), kRequests - 2);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), static_cast<int64_t>(kRequests - 2));
  // Some group carried more than one task.
  const double groups = Metric("fila_enqueue_group_size_count");
  const double tasks = Metric("fila_enqueue_group_size_sum");
  EXPECT_GT(groups, 0);
  EXPECT_EQ(tasks, static_cast<double>(kRequests)) << "every request went through a group";
  EXPECT_LT(Metric("fila_enqueue_group_size_bucket{le=\"1\"}"), groups) << "no group > 1";
  EXPECT_GT(Metric("fila_enqueue_commit_seconds_count"), 0);
}

TEST_F(GroupCommitTest, SlowCommitsAnswer429ToTheFloodingTenantFirstAndRecover) {
  Start({"--max-commit-latency-ms", "250"});
  // Every enqueue statement now takes 300 ms: slower than the bound, not
  // twice as slow (past that every tenant would be refused).
  db_->Exec(R"(
CREATE FUNCTION test_slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$;
CREATE TRIGGER test_slow AFTER INSERT ON tasks FOR EACH STATEMENT EXECUTE FUNCTION test_slow();)");

  std::atomic<bool> flooding{true};
  std::atomic<int> acme_ok{0}, acme_refused{0}, acme_other{0};
  std::string refused_sample;
  std::mutex sample_mutex;
  std::vector<std::thread> flood;
  for (int i = 0; i < 16; ++i) {
    flood.emplace_back([&] {
      while (flooding.load()) {
        auto r = Call("POST", "/v1/tasks", acme_, R"({"type":"noop"})");
        if (r.status == 201) {
          ++acme_ok;
        } else if (r.status == 429) {
          ++acme_refused;
          std::lock_guard lock(sample_mutex);
          if (refused_sample.empty()) refused_sample = r.headers + "\n" + r.body;
          std::this_thread::sleep_for(milliseconds(20));
        } else {
          ++acme_other;
        }
      }
    });
  }
  // The quiet tenant, one request at a time, meanwhile.
  int globex_ok = 0, globex_refused = 0;
  std::string globex_sample;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  while (std::chrono::steady_clock::now() < until) {
    auto r = Call("POST", "/v1/tasks", globex_, R"({"type":"noop"})");
    globex_ok += r.status == 201;
    if (r.status == 429) {
      ++globex_refused;
      globex_sample = r.body;
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  flooding = false;
  for (auto& t : flood) t.join();

  EXPECT_GT(acme_refused.load(), 0);
  EXPECT_EQ(acme_other.load(), 0);
  EXPECT_GT(globex_ok, 0);
  // The quiet tenant is refused in a smaller share of its requests than
  // the flooding one (only when commits are twice too slow).
  EXPECT_LT(globex_refused * (acme_ok + acme_refused), acme_refused * (globex_ok + globex_refused))
      << "globex " << globex_ok << " ok, " << globex_refused << " refused (" << globex_sample
      << "); acme " << acme_ok << " ok, " << acme_refused << " refused";
  {
    std::lock_guard lock(sample_mutex);
    EXPECT_TRUE(std::regex_search(refused_sample, std::regex("Retry-After: *[1-9]", std::regex::icase)))
        << refused_sample;
    EXPECT_EQ(JsonField(refused_sample.substr(refused_sample.find('{')), "code"), "resource_exhausted")
        << refused_sample;
  }
  EXPECT_GE(Metric("fila_api_backpressure_total{reason=\"commit_latency\"}"), acme_refused.load());

  // Fast commits again: the flooding tenant is served again.
  db_->Exec("DROP TRIGGER test_slow ON tasks");
  int recovered = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 5; ++i) {
          recovered += Call("POST", "/v1/tasks", acme_, R"({"type":"noop"})").status == 201;
        }
        return recovered >= 5;
      },
      std::chrono::seconds(10)));
}

TEST_F(GroupCommitTest, AFullEnqueueQueueAnswers429) {
  Start({"--api-max-enqueue-queue", "2", "--api-enqueue-committers", "1", "--max-commit-latency-ms", "0"});
  pqxx::connection locker(db_->url());
  pqxx::work hold(locker);
  hold.exec("LOCK TABLE outbox IN EXCLUSIVE MODE");
  std::vector<HttpResult> results(12);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = Call("POST", "/v1/tasks", acme_, R"({"type":"noop"})"); });
  }
  std::this_thread::sleep_for(milliseconds(700));
  hold.abort();
  for (auto& t : threads) t.join();
  int ok = 0, refused = 0;
  for (const auto& r : results) {
    ok += r.status == 201;
    refused += r.status == 429;
    if (r.status == 429) {
      EXPECT_EQ(JsonField(r.body, "code"), "resource_exhausted");
    }
  }
  // A group of at most two committing, two waiting; the rest found the queue full.
  EXPECT_EQ(ok + refused, 12);
  EXPECT_GE(refused, 1);
  EXPECT_LE(ok, 4);
  EXPECT_EQ(Metric("fila_api_backpressure_total{reason=\"queue_full\"}"), refused);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), ok);
}

}  // namespace
}  // namespace fila::test
