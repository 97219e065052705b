// Fault: a standby scheduler keeps no notification backlog.
//
// Every enqueue NOTIFYs fila_outbox. A scheduler that LISTENs but never
// reads (a standby waiting for the leader lock) holds back PostgreSQL's
// notification queue, shared by the whole server (8 GB at most; when it is
// full every NOTIFY fails, and with it every enqueue), and whatever its
// connection does read on its own piles up in the process's memory.
//
// Two schedulers run, one leads. 200,000 notifications are sent on the
// relay's channel; the test samples pg_notification_queue_usage() for the
// next 4 s and reads the standby's resident memory before and after. Both
// must stay flat.
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "fault_fixture.h"

namespace fila::fault {
namespace {

class Standby : public FaultTest {};

// VmRSS of `pid` in kB (/proc), -1 if unreadable.
int64_t ResidentKb(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST_F(Standby, AStandbySchedulerKeepsNoNotificationBacklog) {
  constexpr int kRounds = 4;
  constexpr int kPerRound = 50000;
  auto& leader = StartScheduler();
  ASSERT_TRUE(test::WaitFor([&] { return leader.Stderr().find("became leader") != std::string::npos; }, 30s))
      << Logs();
  auto& standby = StartScheduler();
  // Up and asking for the lock (it never gets it while the leader lives).
  ASSERT_TRUE(test::WaitFor([&] { return standby.Stderr().find("scheduler started") != std::string::npos; }, 30s))
      << Logs();
  std::this_thread::sleep_for(3s);
  const int64_t rss_before = ResidentKb(standby.pid());
  ASSERT_GT(rss_before, 0);

  for (int round = 0; round < kRounds; ++round) {
    db_->Exec("SELECT pg_notify('fila_outbox', 'standby-test-" + std::to_string(round) +
              "-' || g) FROM generate_series(1, " + std::to_string(kPerRound) + ") g");
  }
  // The leader reads as they come; the standby asks for the lock every 2 s.
  double max_usage = 0;
  const auto until = std::chrono::steady_clock::now() + 4s;
  std::this_thread::sleep_for(500ms);
  while (std::chrono::steady_clock::now() < until) {
    max_usage = std::max(max_usage, std::stod(db_->Scalar("SELECT pg_notification_queue_usage()")));
    std::this_thread::sleep_for(50ms);
  }
  const int64_t rss_after = ResidentKb(standby.pid());
  const double final_usage = std::stod(db_->Scalar("SELECT pg_notification_queue_usage()"));
  std::printf("[ metric ] %d notifications with a standby scheduler: queue usage max %.2e, at the end "
              "%.2e (1 page of 8 kB = 9.5e-07); standby RSS %lld kB -> %lld kB (%+lld kB)\n",
              kRounds * kPerRound, max_usage, final_usage, static_cast<long long>(rss_before),
              static_cast<long long>(rss_after), static_cast<long long>(rss_after - rss_before));
  EXPECT_TRUE(leader.Running() && standby.Running()) << Logs();
  EXPECT_EQ(leader.Stderr().find("lost leadership"), std::string::npos) << Logs();
  EXPECT_EQ(standby.Stderr().find("became leader"), std::string::npos) << Logs();
  // A few pages at most (what the leader had not read yet at that instant).
  EXPECT_LT(max_usage, 1e-5);
  EXPECT_LT(final_usage, 2e-6);
  EXPECT_LT(rss_after - rss_before, 4096) << "the standby keeps what it is sent";
}

}  // namespace
}  // namespace fila::fault
