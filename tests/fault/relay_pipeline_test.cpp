// Fault: the relay's publishing pipeline (--relay-in-flight 4: up to four
// batches published and unconfirmed at once) against real faults.
//
// RabbitMQ stopped and restarted while 20,000 tasks go through the relay:
// the batches in flight when the connection dies fail and keep their outbox
// rows, so every task is published at least once; the claim's guard runs
// each exactly once; the outbox ends empty.
//
// The scheduler killed (failpoint relay.after_publish) at the first
// confirmed batch, with several batches in flight: no outbox row was
// deleted, the next scheduler publishes them all again, nothing is lost.
#include <signal.h>

#include <cstdio>
#include <thread>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

class RelayPipelineFault : public FaultTest {
 protected:
  int64_t Outbox() const { return CountOrMinusOne("SELECT count(*) FROM outbox"); }
};

TEST_F(RelayPipelineFault, RabbitMqRestartedWhileBatchesAreInFlight) {
  constexpr int kTasks = 20000;
  StackOutage outage("rmq");
  Enqueue("noop", "", kTasks);
  auto& scheduler = StartScheduler({"--relay-in-flight", "4", "--batch", "500"});
  auto& w1 = StartWorker("w1", 16);
  auto& w2 = StartWorker("w2", 16);
  // Mid-run: the relay has published some and is publishing more.
  ASSERT_TRUE(test::WaitFor([&] { return Outbox() >= 0 && Outbox() < kTasks - 2000; }, 120s))
      << Logs();
  const int64_t outbox_at_stop = Outbox();
  outage.Stop();
  std::this_thread::sleep_for(3s);
  outage.Start();
  std::printf("  outbox rows when RabbitMQ stopped: %lld of %d\n",
              static_cast<long long>(outbox_at_stop), kTasks);
  EXPECT_GT(outbox_at_stop, 0) << "the relay had finished before the outage: nothing was tested";

  ASSERT_TRUE(WaitAllTerminal(300s))
      << ::testing::PrintToString(db_->Rows("SELECT state, count(*) FROM tasks GROUP BY 1"))
      << "\n" << Logs();
  EXPECT_EQ(CountState("succeeded"), kTasks);
  EXPECT_TRUE(test::WaitFor([&] { return Outbox() == 0; }, 30s)) << "outbox rows left";
  ExpectInvariants(kTasks);
  for (auto* p : {&scheduler, &w1, &w2}) EXPECT_TRUE(p->Running()) << Logs();
  for (auto* p : {&scheduler, &w1, &w2}) p->Signal(SIGTERM);
  for (auto* p : {&scheduler, &w1, &w2}) EXPECT_EQ(p->Wait(60s), 0) << Logs();
  int64_t duplicates = 0;
  for (const std::string id : {"w1", "w2"}) {
    const auto counters = ExitCounters(Logs(1000), id);
    if (counters.count("duplicates")) duplicates += counters.at("duplicates");
  }
  std::printf("  duplicates dropped by the claims: %lld\n", static_cast<long long>(duplicates));
}

TEST_F(RelayPipelineFault, SchedulerKilledAfterAConfirmWithBatchesInFlightLosesNothing) {
  constexpr int kTasks = 5000;
  Enqueue("noop", "", kTasks);
  env_["FILA_FAILPOINT"] = "relay.after_publish";
  // No dispatch window, here and after the restart: whole batches go out
  // at once. (With a window the restarted relay waits for the broker to
  // drain, and then finds the tasks already claimed: no copies at all.)
  const std::vector<std::string> relay{"--relay-in-flight", "4", "--batch", "500",
                                       "--dispatch-window", "0"};
  auto& doomed = StartScheduler(relay);
  const int status = doomed.Wait(60s);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << Logs();
  // Killed at the first confirm: whatever was published, no row was deleted.
  EXPECT_EQ(Outbox(), kTasks);

  env_.erase("FILA_FAILPOINT");
  auto& scheduler = StartScheduler(relay);
  auto& worker = StartWorker("w1", 16);
  ASSERT_TRUE(WaitAllTerminal(180s)) << Logs();
  EXPECT_EQ(CountState("succeeded"), kTasks);
  EXPECT_TRUE(test::WaitFor([&] { return Outbox() == 0; }, 30s));
  ExpectInvariants(kTasks);
  worker.Signal(SIGTERM);
  ASSERT_EQ(worker.Wait(60s), 0) << Logs();
  const auto counters = ExitCounters(Logs(1000), "w1");
  // At least the first batch went out twice; its copies were dropped.
  ASSERT_TRUE(counters.count("duplicates")) << Logs();
  EXPECT_GE(counters.at("duplicates"), 500);
  EXPECT_TRUE(scheduler.Running());
}

}  // namespace
}  // namespace fila::fault
