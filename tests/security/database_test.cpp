// Finding 6: database errors that killed or wedged the daemons. A producer
// builds what makes PostgreSQL refuse a statement (a dependency chain deep
// enough to overflow a recursive trigger), or the database turns slow (a
// statement timeout of a few ms); one refused record must cost that record
// only, and no daemon may die or stop serving the rest.
#include <signal.h>

#include <atomic>
#include <thread>

#include "security_fixture.h"

namespace fila::test {
namespace {

using namespace std::chrono_literals;

constexpr int kChainLinks = 3000;

class DatabaseAttack : public SecurityTest {
 protected:
  // SQL of the test's checks, immune to a statement timeout set on the
  // database (each harness call opens a new session, which would inherit it).
  void SetUp() override {
    SecurityTest::SetUp();
    db_->IgnoreDatabaseTimeouts();
  }
  std::string Scalar(const std::string& sql) const {
    auto rows = db_->Rows(sql);
    return rows.empty() || rows[0].empty() ? "" : rows[0][0];
  }
  int64_t Count(const std::string& sql) const { return std::stoll(Scalar(sql)); }
  void Exec(const std::string& sql) const { db_->Exec(sql); }

  // "state=count ..." of the tasks traced `trace`.
  std::string StatesOf(const std::string& trace) const {
    std::string out;
    for (const auto& row : db_->Rows("SELECT state, count(*) FROM tasks WHERE trace_id = '" +
                                     trace + "' GROUP BY state ORDER BY state")) {
      out += row[0] + "=" + row[1] + " ";
    }
    return out;
  }

  // A chain of `links` tasks traced `trace`: `root_json` (a JSON object
  // body without its closing brace), then noop tasks each depending on the
  // one before, all through the API. Returns the root's id.
  std::string Chain(const std::string& root_token, const std::string& root_json,
                    const std::string& token, const std::string& trace, int links) {
    const std::string root = Enqueue(root_token, root_json + R"(, "trace_id": ")" + trace + "\"}");
    std::string previous = root;
    for (int i = 1; i < links && !previous.empty(); ++i) {
      previous = Enqueue(token, R"({"type": "noop", "trace_id": ")" + trace +
                                    R"(", "depends_on": [")" + previous + "\"]}");
    }
    return root;
  }

  std::string Metrics(const Process& p) {
    const std::string address = MetricsAddress(p);
    return address.empty() ? "" : Http("GET", "http://" + address + "/metrics").body;
  }

  // The last `lines` lines of a process's log, each cut to 300 bytes.
  static std::string Tail(const Process& p, int lines = 6) {
    const std::string err = p.Stderr();
    size_t from = err.size();
    for (int i = 0; i <= lines && from > 0; ++i) from = err.rfind('\n', from - 1);
    std::string out;
    size_t pos = from == std::string::npos ? 0 : from + 1;
    while (pos < err.size()) {
      size_t end = err.find('\n', pos);
      if (end == std::string::npos) end = err.size();
      out += "  | " + err.substr(pos, std::min<size_t>(end - pos, 300)) + "\n";
      pos = end + 1;
    }
    return out;
  }

  static int Total(const std::map<long, int>& counts) {
    int n = 0;
    for (const auto& [key, count] : counts) n += count;
    return n;
  }

  static std::string Status(Process& p) {
    if (p.Running()) return "running";
    return "exited " + std::to_string(ExitCodeOf(p.Wait(0ms)));
  }
};

// (a) Three 3,000-link chains (task n depends on task n-1): one whose root
// fails on a worker (the finish settles the chain), one whose root is
// reaped from a killed worker (the reaper settles it), one whose root a
// producer cancels through the API. Meanwhile unrelated tasks run. Every
// dependent ends cancelled, the unrelated tasks all succeed, and the
// scheduler and the worker stay up, the scheduler as leader.
TEST_F(DatabaseAttack, DeepDependencyChainsSettleWithoutWedgingOrKillingTheDaemons) {
  StartScheduler({"--worker-timeout-ms", "1500", "--reap-interval-ms", "200"});
  const std::string producer = Token("acme", "producer");
  const std::string op = Token("acme", "operator");

  const auto build_start = std::chrono::steady_clock::now();
  std::string failing_root, reaped_root, cancelled_root;
  {
    std::thread a([&] {
      failing_root =
          Chain(producer, R"({"type": "flaky", "args": {"fail_times": 5}, "max_attempts": 1)",
                producer, "chain-fail", kChainLinks);
    });
    std::thread b([&] {
      reaped_root = Chain(
          op, R"({"type": "sleep", "args": {"ms": 60000}, "queue": "doomed", "max_attempts": 1)",
          producer, "chain-reap", kChainLinks);
    });
    std::thread c([&] {
      cancelled_root = Chain(producer, R"({"type": "noop", "delay_ms": 3600000)", producer,
                             "chain-cancel", kChainLinks);
    });
    a.join();
    b.join();
    c.join();
  }
  std::printf(
      "[ metric ] 3 x %d-link chains enqueued through the API in %.1f s\n", kChainLinks,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count());
  ASSERT_FALSE(failing_root.empty() || reaped_root.empty() || cancelled_root.empty());
  ASSERT_EQ(Count("SELECT count(*) FROM tasks WHERE state = 'blocked'"), 3 * (kChainLinks - 1));

  for (int i = 0; i < 60; ++i) {
    Enqueue(producer, R"({"type": "sleep", "args": {"ms": 50}, "trace_id": "unrelated"})");
  }
  Process& worker =
      StartWorker({"--queues", "default", "--concurrency", "4", "--heartbeat-interval-ms", "300"});
  Process& doomed =
      StartWorker({"--queues", "doomed", "--concurrency", "1", "--heartbeat-interval-ms", "300"});
  ASSERT_TRUE(WaitFor([&] { return State(reaped_root) == "running"; }, 30s)) << doomed.Stderr();
  doomed.Signal(SIGKILL);  // its task is reaped: the reaper settles that chain

  const auto cancel = Call("POST", "/v1/tasks/" + cancelled_root + ":cancel", producer);
  EXPECT_EQ(cancel.status, 200) << cancel.body;

  const auto settle_start = std::chrono::steady_clock::now();
  const bool settled = WaitFor(
      [&] {
        return Count(
                   "SELECT count(*) FROM tasks WHERE trace_id LIKE 'chain-%'"
                   " AND state = 'cancelled'") == 3 * kChainLinks - 2 &&
               Count(
                   "SELECT count(*) FROM tasks WHERE trace_id = 'unrelated'"
                   " AND state = 'succeeded'") == 60;
      },
      60s);
  std::printf(
      "[ metric ] chains settled: %s in %.1f s; chain-fail: %s; chain-reap: %s; "
      "chain-cancel: %s; unrelated: %s; scheduler %s; worker %s\n",
      settled ? "yes" : "NO",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - settle_start).count(),
      StatesOf("chain-fail").c_str(), StatesOf("chain-reap").c_str(),
      StatesOf("chain-cancel").c_str(), StatesOf("unrelated").c_str(), Status(*scheduler_).c_str(),
      Status(worker).c_str());
  EXPECT_TRUE(settled) << "scheduler:\n" << Tail(*scheduler_) << "worker:\n" << Tail(worker);
  EXPECT_EQ(State(failing_root), "dead");
  EXPECT_EQ(State(reaped_root), "dead");
  EXPECT_EQ(State(cancelled_root), "cancelled");
  EXPECT_EQ(Count("SELECT count(*) FROM tasks WHERE trace_id LIKE 'chain-%' AND state = 'cancelled'"
                  " AND last_error LIKE 'dependency % ended %'"),
            3 * kChainLinks - 3)
      << "every dependent says which dependency ended how";

  // The worker still finishes new work, and the scheduler still leads.
  ASSERT_TRUE(scheduler_->Running()) << Status(*scheduler_) << "\n" << Tail(*scheduler_);
  ASSERT_TRUE(worker.Running()) << Status(worker) << "\n" << Tail(worker);
  std::vector<std::string> later;
  for (int i = 0; i < 20; ++i) later.push_back(Enqueue(producer, R"({"type": "noop"})"));
  EXPECT_TRUE(WaitTerminal(*db_, later, 30s)) << Tail(worker);
  for (const auto& id : later) EXPECT_EQ(State(id), "succeeded");
  EXPECT_NE(Metrics(*scheduler_).find("fila_scheduler_leader 1"), std::string::npos);
  EXPECT_EQ(scheduler_->Stderr().find("lost leadership"), std::string::npos);
}

// (b) The database turns slow: statement_timeout of 2 ms for every new
// session, and the daemons' sessions are ended so that they reconnect into
// it, under a load of claims, finishes and batch enqueues. The daemons stay
// up, the API answers 503 (retry later), never 500, and once the setting is
// reset everything enqueued completes, each task once.
TEST_F(DatabaseAttack, StatementTimeoutNeitherKillsTheDaemonsNorAnswers500) {
  StartScheduler({"--sample-interval-ms", "200"});
  const std::string producer = Token("acme", "producer");
  Process& worker =
      StartWorker({"--queues", "default", "--concurrency", "4", "--heartbeat-interval-ms", "500"});
  auto batch = [](int n) {
    std::string body = R"({"tasks": [)";
    for (int i = 0; i < n; ++i)
      body += std::string(i ? "," : "") + R"({"type": "sleep", "args": {"ms": 5}})";
    return body + "]}";
  };
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(Call("POST", "/v1/tasks:batch", producer, batch(1000)).status, 201);
  ASSERT_TRUE(WaitFor(
      [&] { return Count("SELECT count(*) FROM tasks WHERE state = 'succeeded'") > 50; }, 30s));
  const std::vector<std::pair<std::string, std::string>> probes{
      {"scheduler", MetricsAddress(*scheduler_)}, {"worker", MetricsAddress(worker)}};

  const std::string end_sessions =
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
      " WHERE datname = current_database() AND pid <> pg_backend_pid()";
  const std::string database = Scalar("SELECT current_database()");
  const auto done_before = Count("SELECT count(*) FROM tasks WHERE state = 'succeeded'");
  Exec("ALTER DATABASE " + database + " SET statement_timeout = '2ms'; " + end_sessions);
  std::map<long, int> statuses;
  std::string why_not_ready;  // a /readyz answer naming the timeout
  std::vector<std::string> odd_answers;  // neither 201 nor 503: what they said
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    const auto answer = Call("POST", "/v1/tasks:batch", producer, batch(200));
    if (answer.status != 201 && answer.status != 503 && odd_answers.size() < 3)
      odd_answers.push_back(std::to_string(answer.status) + ": " + answer.body);
    ++statuses[answer.status];
    for (const auto& [name, address] : probes) {
      const auto ready = Http("GET", "http://" + address + "/readyz");
      if (ready.status == 503 && ready.body.find("statement timeout") != std::string::npos) {
        why_not_ready = name + ": " + ready.body;
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  const auto done_during =
      Count("SELECT count(*) FROM tasks WHERE state = 'succeeded'") - done_before;
  const std::string during = "scheduler " + Status(*scheduler_) + ", worker " + Status(worker);
  Exec("ALTER DATABASE " + database + " RESET statement_timeout; " + end_sessions);

  std::string answers;
  for (const auto& [status, n] : statuses)
    answers += std::to_string(status) + "x" + std::to_string(n) + " ";
  std::printf(
      "[ metric ] statement_timeout 2ms for 5 s: API answers %s; %lld tasks finished "
      "meanwhile; %s\n%s",
      answers.c_str(), static_cast<long long>(done_during), during.c_str(), why_not_ready.c_str());
  // 201 (committed in time) or 503 (retry later); no 500, no silence.
  EXPECT_GT(statuses[503], 0) << "the timeout never bit: " << answers;
  EXPECT_EQ(statuses[201] + statuses[503], Total(statuses))
      << answers << "\n" << ::testing::PrintToString(odd_answers);
  EXPECT_FALSE(why_not_ready.empty()) << "no /readyz named the statement timeout";
  ASSERT_TRUE(scheduler_->Running()) << Status(*scheduler_) << "\n" << Tail(*scheduler_);
  ASSERT_TRUE(worker.Running()) << Status(worker) << "\n" << Tail(worker);

  const bool done = WaitFor(
      [&] { return Count("SELECT count(*) FROM tasks WHERE state NOT IN ('succeeded')") == 0; },
      90s);
  const auto total = Count("SELECT count(*) FROM tasks");
  std::printf("[ metric ] after the reset: %s(%lld tasks)\n", StatesOf("").c_str(),
              static_cast<long long>(total));
  EXPECT_TRUE(done)
      << "states after the reset: "
      << Scalar(
             "SELECT string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n"
             " FROM tasks GROUP BY state) s")
      << "\nattempts of the others: "
      << Scalar(
             "SELECT string_agg(a.task_id || ' #' || a.attempt || ' ' || a.outcome"
             " || ': ' || a.error || ' / ' || t.last_error, E'\\n')"
             " FROM task_attempts a JOIN tasks t ON t.id = a.task_id"
             " WHERE t.state <> 'succeeded'")
      << "\nworker:\n" << Tail(worker);
  EXPECT_EQ(Count("SELECT count(*) FROM task_attempts WHERE outcome = 'succeeded'"), total)
      << "each task recorded succeeded once";
  for (const auto& [name, address] : probes) {
    EXPECT_TRUE(
        WaitFor([&] { return Http("GET", "http://" + address + "/readyz").status == 200; }, 30s))
        << name << " ready again";
  }
  EXPECT_TRUE(scheduler_->Running());
  EXPECT_TRUE(worker.Running());
}

// (c) One record of a finish batch that the database refuses (here a
// trigger refuses it, standing for any statement error a retry cannot fix)
// costs that record only: it is recorded failed with the database's
// reason, and the other finishes of its batch commit. A record refused even
// as a failure is logged and let go: it stays running until its lease runs
// out, and the reaper skips it too without stopping.
TEST_F(DatabaseAttack, ARefusedFinishIsQuarantinedAndTheRestOfItsBatchCommits) {
  StartScheduler({"--reap-interval-ms", "200"});
  Exec(R"(
CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.trace_id = 'poison' AND NEW.state = 'succeeded'
     OR NEW.trace_id = 'poison-all' AND OLD.state = 'running' THEN
    RAISE EXCEPTION 'refused by test_poison';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER test_poison BEFORE UPDATE OF state ON tasks
  FOR EACH ROW EXECUTE FUNCTION test_poison();)");
  const std::string producer = Token("acme", "producer");
  const std::string poison = Enqueue(producer, R"({"type": "noop", "trace_id": "poison"})");
  const std::string poison_all = Enqueue(producer, R"({"type": "noop", "trace_id": "poison-all"})");
  std::vector<std::string> others;
  for (int i = 0; i < 40; ++i) {
    others.push_back(Enqueue(producer, R"({"type": "sleep", "args": {"ms": 20}})"));
  }
  // A long flush window: the poisoned finishes share their batch with others.
  Process& worker =
      StartWorker({"--queues", "default", "--concurrency", "4", "--finish-flush-ms", "100"});
  const bool others_done = WaitTerminal(*db_, others, 30s);
  std::printf("[ metric ] poisoned finishes: %s / %s; others: %lld of 40 succeeded; worker %s\n",
              State(poison).c_str(), State(poison_all).c_str(),
              static_cast<long long>(Count("SELECT count(*) FROM tasks WHERE trace_id = ''"
                                           " AND state = 'succeeded'")),
              Status(worker).c_str());
  EXPECT_TRUE(others_done) << Tail(worker);
  for (const auto& id : others) EXPECT_EQ(State(id), "succeeded");
  EXPECT_EQ(State(poison), "failed");
  EXPECT_EQ(Scalar("SELECT error_kind FROM task_attempts WHERE task_id = '" + poison + "'"),
            "quarantined");
  EXPECT_NE(Scalar("SELECT last_error FROM tasks WHERE id = '" + poison + "'")
                .find("refused by test_poison"),
            std::string::npos);
  EXPECT_EQ(Scalar("SELECT result IS NULL FROM tasks WHERE id = '" + poison + "'"), "t");
  // Refused even as a failure: let go, still running under the worker.
  EXPECT_EQ(State(poison_all), "running");
  EXPECT_TRUE(WaitFor([&] { return worker.Stderr().find(poison_all) != std::string::npos; }, 5s));
  // Its lease (10 s) is no longer extended: the reaper finds it, is refused
  // too, says so and carries on.
  EXPECT_TRUE(WaitFor(
      [&] {
        return scheduler_->Stderr().find("refuses to take back lost task " + poison_all) !=
               std::string::npos;
      },
      30s))
      << Tail(*scheduler_);
  const std::string after = Enqueue(producer, R"({"type": "noop"})");
  EXPECT_TRUE(WaitTerminal(*db_, {after}, 20s));
  EXPECT_EQ(State(after), "succeeded");
  EXPECT_TRUE(worker.Running()) << Status(worker) << "\n" << Tail(worker);
  EXPECT_TRUE(scheduler_->Running()) << Status(*scheduler_) << "\n" << Tail(*scheduler_);
}

}  // namespace
}  // namespace fila::test
