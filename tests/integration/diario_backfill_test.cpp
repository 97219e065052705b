// fila diario backfill on the real queue: three years of TJRO's real index
// (tests/fixtures/diarios/tjro-index, 730 editions with 5 supplements)
// served by the fake tribunal, two workers of which one is killed with
// SIGKILL, the backfill command killed and run again. Every edition ends
// processed exactly once, and the fake tribunal never saw more than the
// politeness budget. Also: an index that is not JSON, and a payload path
// that tries to reach another host.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "diario_fixture.h"

namespace fila::diario_test {
namespace {

constexpr int kEditions = 730;
constexpr int kSupplements = 5;
constexpr int kConcurrency = 3;
constexpr int kGapMs = 50;
const char* kMissing = "20230102804-NR1.pdf";

class DiarioBackfill : public ::testing::Test {
 protected:
  DiarioBackfill()
      : tribunal_({"--index-dir", Fixtures() + "/tjro-index", "--missing", kMissing, "--blocked-first", "3",
                   "--slow-every", "97", "--slow-seconds", "0.3", "--index-delay", "0.8"}) {}

  void SetUp() override {
    ASSERT_GT(tribunal_.port(), 0) << "fake tribunal did not start";
    db_ = std::make_unique<TestDatabase>();
    queue_ = test::RandomName("diario");
    env_ = {{"FILA_DATABASE_URL", db_->url()},
            {"FILA_AMQP_URL", test::Stack().amqp_url},
            {"FILA_LOG_LEVEL", "warn"},
            {"FILA_DIARIO_TJRO_INDEX_URL", tribunal_.Url("/diario_oficial/list.php")},
            {"FILA_DIARIO_TJRO_LATEST_URL", tribunal_.Url("/diario_oficial/ultimo-diario.php")},
            {"FILA_DIARIO_HOST_CONCURRENCY", std::to_string(kConcurrency)},
            {"FILA_DIARIO_MIN_INTERVAL_MS", std::to_string(kGapMs)},
            {"FILA_DIARIO_HOST_BACKOFF_MS", "300"}};
  }

  std::unique_ptr<Process> Worker() {
    return std::make_unique<Process>("fila-worker", std::vector<std::string>{"--queues", queue_, "--concurrency", "4"},
                                     env_);
  }

  std::vector<std::string> BackfillArgs() const {
    return {"diario", "backfill", "--tribunal", "tjro", "--from", "2022-01-01", "--to", "2024-12-31",
            "--queue", queue_, "--retry-base-ms", "200", "--retry-cap-ms", "1000"};
  }

  int64_t Terminal() {
    return db_->Count("SELECT count(*) FROM tasks WHERE type = 'diario.process' AND state IN "
                      "('succeeded', 'failed', 'dead', 'cancelled')");
  }

  FakeTribunal tribunal_;
  std::unique_ptr<TestDatabase> db_;
  std::string queue_;
  std::map<std::string, std::string> env_;
};

TEST_F(DiarioBackfill, ThreeYearsWithAKilledWorkerAndAKilledBackfillProcessEveryEditionOnce) {
  auto token = [&](const std::string& tenant, const std::string& role) {
    auto r = RunFila("fila", {"tokens", "create", "--tenant", tenant, "--role", role}, env_);
    EXPECT_EQ(r.ExitCode(), 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  };
  const std::string producer = token("default", "producer");
  const std::string stranger = token("globex", "producer");
  const std::string ops = token("ops", "operator");
  const int api_port = test::FreePort();
  const auto start = std::chrono::steady_clock::now();
  Process scheduler("fila-scheduler", {"--api-listen", "127.0.0.1:" + std::to_string(api_port)}, env_);
  auto worker_a = Worker();
  auto worker_b = Worker();

  // The backfill, killed once the first year is planned and partly queued.
  auto first = std::make_unique<Process>("fila", BackfillArgs(), env_);
  ASSERT_TRUE(test::WaitFor([&] { return db_->Count("SELECT count(*) FROM tasks") > 0; }, 60s)) << first->Stderr();
  first->Signal(SIGKILL);
  first->Wait(10s);
  const int64_t after_kill = db_->Count("SELECT count(*) FROM tasks");
  EXPECT_LT(after_kill, kEditions) << "the backfill finished before it could be interrupted";

  // A second run, interrupted with Ctrl-C (SIGINT) while it reads an index.
  auto second = std::make_unique<Process>("fila", BackfillArgs(), env_);
  std::this_thread::sleep_for(300ms);
  second->Signal(SIGINT);
  second->Wait(10s);

  // A worker killed with work in hand.
  ASSERT_TRUE(test::WaitFor([&] { return Terminal() >= 120; }, 90s)) << worker_a->Stderr();
  worker_a->Signal(SIGKILL);
  worker_a->Wait(10s);

  // The backfill run again to its end: it resumes the same plan.
  auto third = RunFila("fila", BackfillArgs(), env_, 120s);
  ASSERT_EQ(third.ExitCode(), 0) << third.err;
  EXPECT_NE(third.out.find("730 editions"), std::string::npos) << third.out;
  EXPECT_NE(third.out.find("index from cache"), std::string::npos) << third.out;  // past years read once

  ASSERT_TRUE(test::WaitFor([&] { return Terminal() >= kEditions; }, 150s))
      << "terminal " << Terminal() << "\n" << worker_b->Stderr();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // One task per edition, each finished once: one succeeded attempt.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE type = 'diario.process'"), kEditions);
  EXPECT_EQ(db_->Count("SELECT count(DISTINCT idempotency_key) FROM tasks"), kEditions);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks WHERE state = 'succeeded'"), kEditions)
      << db_->Scalar("SELECT string_agg(state || ' ' || coalesce(last_error, ''), '; ') FROM tasks "
                     "WHERE state <> 'succeeded'");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM (SELECT task_id FROM task_attempts WHERE outcome = 'succeeded' "
                       "GROUP BY task_id HAVING count(*) <> 1) x"),
            0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM task_attempts WHERE outcome = 'succeeded'"), kEditions);
  // One gazette row per edition, supplements their own.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_gazettes WHERE source LIKE 'edition:%'"), kEditions);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_gazettes WHERE source LIKE 'edition:%:SUP'"), kSupplements);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_gazettes WHERE status = 'no_gazette'"), 1);
  EXPECT_EQ(db_->Scalar("SELECT source FROM diario_gazettes WHERE status = 'no_gazette'"), "edition:2023:1");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_gazettes WHERE gazette_date = '2024-08-29'"), 2);
  // The block pages were retried, and the killed worker's tasks too.
  EXPECT_GE(db_->Count("SELECT count(*) FROM tasks WHERE attempt > 1"), 3);

  // Politeness, as the tribunal saw it, over every client at once: never
  // more than 3 at once, never two requests closer than the gap, and never
  // more starts in a second than the gap allows. The gap counts from each
  // request having left (KeyLimiter's min_gap, stamped after the write); the
  // fake stamps each arrival with the kernel's receive time, so the two
  // agree up to the 0.1 ms its figures are rounded to and the clock's
  // reading (kSlackMs). Counted from admissions, the gap once let two
  // requests through 12.7 ms apart here.
  constexpr double kSlackMs = 1;
  const Json stats = tribunal_.Stats();
  const Json host = stats["hosts"]["127.0.0.1:" + std::to_string(tribunal_.port())];
  EXPECT_LE(host["max_in_flight"].get<int>(), kConcurrency) << host.dump();
  EXPECT_GE(host["min_gap_ms"].get<double>(), kGapMs - kSlackMs) << host.dump();
  EXPECT_LE(host["most_in_a_second"].get<int>(), 1000 / kGapMs + 1) << host.dump();
  EXPECT_GE(host["requests"].get<int>(), kEditions);
  std::cout << "politeness seen by the fake tribunal: " << host.dump() << "\n";

  // fila diario status.
  auto status = RunFila("fila", {"diario", "status", "--json"}, env_);
  ASSERT_EQ(status.ExitCode(), 0) << status.err;
  const Json b = Json::parse(status.out)["backfills"].at(0);
  EXPECT_EQ(b["discovered"], kEditions);
  EXPECT_EQ(b["queued"], kEditions);
  EXPECT_EQ(b["done"], kEditions - 1);
  EXPECT_EQ(b["no_gazette"], 1);
  EXPECT_EQ(b["failed"], 0);
  EXPECT_EQ(b["pending"], 0);
  EXPECT_EQ(b["state"], "planned");
  // The same over the HTTP API: a producer sees its tenant's backfills
  // only, an operator every tenant's.
  const std::string route = "http://127.0.0.1:" + std::to_string(api_port) + "/v1/diario/backfills";
  auto mine = test::Http("GET", route, {"Authorization: Bearer " + producer});
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(Json::parse(mine.body)["backfills"].at(0)["done"], kEditions - 1);
  auto theirs = test::Http("GET", route, {"Authorization: Bearer " + stranger});
  ASSERT_EQ(theirs.status, 200) << theirs.body;
  EXPECT_TRUE(Json::parse(theirs.body)["backfills"].empty()) << theirs.body;
  auto all = test::Http("GET", route, {"Authorization: Bearer " + ops});
  EXPECT_EQ(Json::parse(all.body)["backfills"].size(), 1u) << all.body;
  EXPECT_EQ(test::Http("GET", route).status, 401);
  EXPECT_EQ(test::Http("POST", route, {"Authorization: Bearer " + ops}, "{}").status, 405);

  auto table = RunFila("fila", {"diario", "status"}, env_);
  EXPECT_NE(table.out.find("2022-01-01..2024-12-31"), std::string::npos) << table.out;

  const std::string rate = std::to_string(kEditions / seconds);
  RecordProperty("editions_per_second", rate);
  std::cout << "backfill of " << kEditions << " editions in " << seconds << " s: " << rate
            << " editions/s (gap " << kGapMs << " ms, " << kConcurrency << " at once)\n";
}

TEST_F(DiarioBackfill, AnIndexThatIsNotJsonStopsTheBackfillWithAClearError) {
  FakeTribunal odd({"--index-dir", Fixtures() + "/tjro-index", "--index-mode", "2021=html", "--index-mode",
                    "2020=malformed"});
  env_["FILA_DIARIO_TJRO_INDEX_URL"] = odd.Url("/diario_oficial/list.php");
  env_["FILA_DIARIO_TJRO_LATEST_URL"] = odd.Url("/diario_oficial/ultimo-diario.php");
  auto html = RunFila("fila", {"diario", "backfill", "--tribunal", "tjro", "--from", "2021-01-01", "--to",
                               "2021-12-31", "--queue", queue_},
                      env_);
  EXPECT_EQ(html.ExitCode(), 1);
  EXPECT_NE(html.err.find("block page"), std::string::npos) << html.err;
  auto cut = RunFila("fila", {"diario", "backfill", "--tribunal", "tjro", "--from", "2020-01-01", "--to",
                              "2020-12-31", "--queue", queue_},
                     env_);
  EXPECT_EQ(cut.ExitCode(), 1);
  EXPECT_NE(cut.err.find("not JSON"), std::string::npos) << cut.err;
  EXPECT_EQ(db_->Count("SELECT count(*) FROM tasks"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM diario_index_years"), 0) << "a bad answer must not be cached";
}

// The attack: a producer (or a poisoned plan) names an edition whose path
// points at another host. The worker fetches only from the configured
// tribunal host: the task fails at once and nothing is requested there.
TEST_F(DiarioBackfill, AnEditionPathCannotSendTheWorkerToAnotherHost) {
  Process scheduler("fila-scheduler", {}, env_);
  auto worker = Worker();
  const std::string other = "localhost:" + std::to_string(tribunal_.port());
  std::vector<std::string> ids;
  for (const std::string& path : {"http://" + other + "/novodiario/2024/20240829914-NR162-SUP.pdf",
                                  "//" + other + "/novodiario/2024/20240829914-NR162-SUP.pdf",
                                  std::string("/novodiario/../../etc/passwd")}) {
    Json payload{{"tribunal", "tjro"}, {"date", "2024-08-29"}, {"edition_number", 162}, {"path", path}};
    auto r = RunFila("fila", {"enqueue", "diario.process", "--queue", queue_, "--payload-json", payload.dump()}, env_);
    ASSERT_EQ(r.ExitCode(), 0) << r.err;
    ids.push_back(r.out.substr(0, r.out.find('\n')));
  }
  ASSERT_TRUE(test::WaitTerminal(*db_, ids, 60s)) << worker->Stderr();
  for (const auto& id : ids) {
    EXPECT_EQ(db_->Scalar("SELECT state FROM tasks WHERE id = '" + id + "'"), "failed") << id;
    EXPECT_NE(db_->Scalar("SELECT last_error FROM tasks WHERE id = '" + id + "'").find("payload.path"),
              std::string::npos);
  }
  const Json stats = tribunal_.Stats();
  EXPECT_FALSE(stats["hosts"].contains(other)) << stats.dump();
  EXPECT_EQ(stats["requests"].size(), 0u) << stats.dump();
}

// A TJRO date alone (no edition): the worker reads that year's index and
// processes the day's main edition, naming the others; a day the index
// does not list is no gazette, without any PDF request.
TEST_F(DiarioBackfill, ADateAloneIsFoundThroughTheIndex) {
  Process scheduler("fila-scheduler", {}, env_);
  auto worker = Worker();
  auto enqueue = [&](const std::string& date) {
    Json payload{{"tribunal", "tjro"}, {"date", date}};
    // The fixture's first 3 downloads are block pages: retried quickly.
    auto r = RunFila("fila", {"enqueue", "diario.process", "--queue", queue_, "--payload-json", payload.dump(),
                              "--retry-base-ms", "100", "--retry-cap-ms", "300"},
                     env_);
    EXPECT_EQ(r.ExitCode(), 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  };
  const std::string with_supplement = enqueue("2024-08-29");
  const std::string saturday = enqueue("2024-08-31");
  ASSERT_TRUE(test::WaitTerminal(*db_, {with_supplement, saturday}, 60s)) << worker->Stderr();
  auto result = [&](const std::string& id) {
    return Json::parse(db_->Scalar("SELECT convert_from(result, 'UTF8') FROM tasks WHERE id = '" + id + "'"));
  };
  const Json one = result(with_supplement);
  EXPECT_EQ(one["status"], "processed") << one.dump();
  EXPECT_EQ(one["edition"], "2024:162");
  EXPECT_EQ(one["other_editions"], Json::array({"2024:162:SUP"}));
  EXPECT_EQ(result(saturday)["status"], "no_gazette");
  const Json stats = tribunal_.Stats();
  EXPECT_EQ(stats["requests"]["/novodiario/2024/20240829914-NR162.pdf"], 4) << stats.dump();  // 3 blocked
  EXPECT_FALSE(stats["requests"].contains("/novodiario/2024/20240829914-NR162-SUP.pdf"));
}

}  // namespace
}  // namespace fila::diario_test
