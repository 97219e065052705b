// Fault: the RabbitMQ node that holds the queue is killed (kill -9) in the
// middle of a 10,000-task run, then started again.
//
// A three-node cluster of its own (scripts/stack up-rmq with
// FILA_STACK_RMQ_NODES=3 in the folder FILA_RMQ_CLUSTER_DIR, which the ctest
// fixture RmqClusterUp/RmqClusterDown starts and removes; run alone, the
// test starts and removes one in a temporary folder); PostgreSQL is the
// tests' usual one. A scheduler and two workers get every node in
// FILA_AMQP_URL and the queue type under test in FILA_QUEUE_TYPE. 8,000
// `sleep` tasks (10 ms) are enqueued at the start, 2,000 more while the node
// is down. The scheduler gets the other two nodes only, so that its
// publisher is on a node that survives. Either way every task ends succeeded once, nothing is lost (the
// fixture's invariants), and every process survives.
//
// classic: the queue lives on one node; while it is down nobody can consume
// it, and publishes routed to it are confirmed and dropped by the broker
// (RabbitMQ 3.10), so those tasks need the leader's republishing
// (--republish-after, passed when the scheduler has it).
// quorum: the queue is replicated; a new leader takes over and the run goes on.
//
// Prints the recovery (kill -> 100 tasks more finished than were finished
// at the kill) and the throughput of the run as [ metric ] lines.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The cluster's folder and URL, shared by the tests of this process.
struct Cluster {
  std::string dir;
  bool owned = false;  // started by this process: removed at its end
  std::string amqp_url;

  // The cluster's URL without node `node` (1-based).
  std::string UrlWithout(int node) const {
    std::string url;
    size_t start = 0;
    for (int i = 1; start <= amqp_url.size(); ++i) {
      size_t comma = amqp_url.find(',', start);
      if (comma == std::string::npos) comma = amqp_url.size();
      if (i != node) url += (url.empty() ? "" : ",") + amqp_url.substr(start, comma - start);
      start = comma + 1;
    }
    return url;
  }

  std::string Stack(const std::string& command) const {
    return test::Shell("FILA_STACK_DIR='" + dir + "' FILA_STACK_RMQ_NODES=3 FILA_STACK_MGMT=0 '" +
               test::SourceDir() + "/scripts/stack' " + command);
  }
};

Cluster* cluster = nullptr;

class RmqCluster : public FaultTest, public ::testing::WithParamInterface<const char*> {
 public:
  static void SetUpTestSuite() {
    cluster = new Cluster;
    const char* given = std::getenv("FILA_RMQ_CLUSTER_DIR");
    if (given != nullptr && *given != '\0') {
      cluster->dir = given;
    } else {
      std::string pattern = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                            std::string("/fila-rmq-cluster-XXXXXX");
      if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
      cluster->dir = pattern;
      cluster->owned = true;
    }
    const auto t0 = Clock::now();
    cluster->Stack("up-rmq >&2");  // quick when the fixture started it
    std::printf("[ metric ] three-node RabbitMQ cluster ready in %.1f s (%s)\n",
                Seconds(Clock::now() - t0), cluster->owned ? "started by the test" : "fixture");
    const std::string env = cluster->Stack("env");
    const std::string key = "FILA_AMQP_URL='";
    const auto start = env.find(key);
    if (start == std::string::npos) throw std::runtime_error("no cluster URL in: " + env);
    const auto end = env.find('\'', start + key.size());
    cluster->amqp_url = env.substr(start + key.size(), end - start - key.size());
  }

  static void TearDownTestSuite() {
    if (cluster != nullptr && cluster->owned) {
      try {
        cluster->Stack("down --purge >&2");
        test::Shell("rm -rf '" + cluster->dir + "'");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "removing the cluster: %s\n", e.what());
      }
    }
    delete cluster;
    cluster = nullptr;
  }

 protected:
  int64_t Succeeded() const { return CountOrMinusOne("SELECT count(*) FROM tasks WHERE state = 'succeeded'"); }
};

TEST_P(RmqCluster, KillingTheQueuesNodeLosesNothing) {
  constexpr int kTasks = 10000;
  constexpr int kDuringOutage = 2000;
  constexpr int kKillAfter = 2000;  // succeeded tasks before the kill
  const std::string type = GetParam();
  const std::string physical = "fila." + queue_;
  env_["FILA_AMQP_URL"] = cluster->amqp_url;
  env_["FILA_QUEUE_TYPE"] = type;

  std::vector<std::string> scheduler_args;
  const std::string help = test::RunFila("fila-scheduler", {"--help"}).out;
  if (help.find("--republish-after") != std::string::npos) scheduler_args = {"--republish-after", "3"};
  std::printf("  queue type %s; scheduler %s\n", type.c_str(),
              scheduler_args.empty() ? "without republishing (no --republish-after)"
                                     : "republishing after 3 s");

  const TaskOptions options{.max_attempts = 5};
  Enqueue("sleep", R"({"ms": 10})", kTasks - kDuringOutage, options);
  const auto started = Clock::now();
  auto& w1 = StartWorker("w1", 4);
  auto& w2 = StartWorker("w2", 4);
  // The workers declare the queue; the node it lands on is the one to kill.
  int node = 0;
  ASSERT_TRUE(test::WaitFor(
      [&] {
        try {
          node = std::stoi(cluster->Stack("rmq-queue-node " + physical + " 2>/dev/null"));
        } catch (const std::exception&) {
        }
        return node > 0;
      },
      60s))
      << Logs();
  // The relay's publisher on a node that survives: the case where a
  // classic queue's broker drops what is published while its node is down.
  env_["FILA_AMQP_URL"] = cluster->UrlWithout(node);
  auto& scheduler = StartScheduler(scheduler_args);
  env_["FILA_AMQP_URL"] = cluster->amqp_url;
  ASSERT_TRUE(test::WaitFor([&] { return Succeeded() >= kKillAfter; }, 120s)) << Logs();

  const double before_rate = static_cast<double>(Succeeded()) / Seconds(Clock::now() - started);
  cluster->Stack("kill-rmq-node " + std::to_string(node) + " >&2");
  const int64_t at_kill = Succeeded();
  const auto killed = Clock::now();
  // Watched from now on, outage included.
  std::atomic<double> recovery_s{-1};
  std::atomic<bool> stop_watching{false};
  std::thread watcher([&] {
    while (!stop_watching && recovery_s < 0) {
      if (Succeeded() >= at_kill + 100) recovery_s = Seconds(Clock::now() - killed);
      std::this_thread::sleep_for(20ms);
    }
  });
  struct Join {
    std::thread& thread;
    std::atomic<bool>& stop;
    ~Join() {
      stop = true;
      thread.join();
    }
  } join_watcher{watcher, stop_watching};
  // Producers do not stop for a broker: these go out while the node is down.
  Enqueue("sleep", R"({"ms": 10})", kDuringOutage, options);
  std::this_thread::sleep_for(2s);
  cluster->Stack("start-rmq-node " + std::to_string(node) + " >&2");
  const double down_s = Seconds(Clock::now() - killed);

  const bool all_terminal = WaitAllTerminal(120s);
  const double total_s = Seconds(Clock::now() - started);
  std::printf("[ metric ] rmq cluster, %s queue on node %d killed at %lld succeeded: node back after "
              "%.1f s, progress resumed (100 more finished) after %.1f s; %.0f tasks/s before the "
              "kill, %.0f tasks/s over the run (%d tasks in %.1f s)\n",
              type.c_str(), node, static_cast<long long>(at_kill), down_s, recovery_s.load(), before_rate,
              kTasks / total_s, kTasks, total_s);
  ASSERT_TRUE(all_terminal) << "tasks still active (lost messages stay queued until republished): "
                            << ::testing::PrintToString(
                                   db_->Rows("SELECT state, count(*) FROM tasks GROUP BY 1 ORDER BY 1"))
                            << "\n"
                            << Logs();
  for (auto* p : {&scheduler, &w1, &w2}) EXPECT_TRUE(p->Running()) << "a process died\n" << Logs();
  EXPECT_EQ(CountState("succeeded"), kTasks);
  ExpectInvariants(kTasks);
  std::printf("  attempts by outcome: %s\n",
              ::testing::PrintToString(
                  db_->Rows("SELECT outcome, count(*) FROM task_attempts GROUP BY 1 ORDER BY 1"))
                  .c_str());
  for (auto* p : {&scheduler, &w1, &w2}) p->Signal(SIGTERM);
  for (auto* p : {&scheduler, &w1, &w2}) EXPECT_EQ(p->Wait(60s), 0) << Logs();
  for (const std::string id : {"w1", "w2"}) {
    const auto counters = ExitCounters(Logs(1000), id);
    const auto get = [&](const char* k) { return counters.count(k) ? counters.at(k) : -1; };
    std::printf("  %s: claimed=%lld finished=%lld duplicates=%lld\n", id.c_str(),
                static_cast<long long>(get("claimed")), static_cast<long long>(get("finished")),
                static_cast<long long>(get("duplicates")));
  }
  try {
    cluster->Stack("rmqctl-node 1 delete_queue " + physical + " >/dev/null 2>&1");
  } catch (const std::exception&) {
  }
}

INSTANTIATE_TEST_SUITE_P(QueueTypes, RmqCluster, ::testing::Values("classic", "quorum"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           return std::string(param.param);
                         });

}  // namespace
}  // namespace fila::fault
