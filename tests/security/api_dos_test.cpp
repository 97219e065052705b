// Finding 7: denial of service of the HTTP API. Attackers on raw sockets
// (slow request bodies, hundreds of event streams, a flood of random
// tokens) while a valid client keeps calling; the client must keep getting
// answers, and SIGTERM must still stop the scheduler.
//
// Each attacker connects from its own loopback address (127.0.0.2, ...),
// as a remote client would: the per-address limit then sees the attacker
// apart from the valid client (127.0.0.1).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "security_fixture.h"

namespace fila::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// One raw TCP connection to the API from a chosen loopback address.
class RawClient final {
 public:
  // Buffer sizes > 0: small socket buffers (a reader that stalls, a
  // writer whose count of bytes sent should be close to what left it).
  RawClient(const std::string& from, int port, int receive_buffer = 0, int send_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    if (fd_ >= 0 && send_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    }
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
      Close();
    }
  }
  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool Open() const { return fd_ >= 0 && !eof_; }
  bool Send(const std::string& bytes) {
    if (fd_ < 0) return false;
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Reads what has arrived within `wait`; notes when the server closed.
  void Poll(milliseconds wait) {
    if (fd_ < 0 || eof_) return;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return;
    char buf[8192];
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      received_.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      eof_ = true;
    }
  }
  // The status of the first answer, 0 while none arrived.
  int Status() const {
    if (received_.rfind("HTTP/1.1 ", 0) != 0 || received_.size() < 12) return 0;
    return std::atoi(received_.substr(9, 3).c_str());
  }
  const std::string& Received() const { return received_; }
  bool ClosedByServer() const { return eof_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool eof_ = false;
  std::string received_;
};

struct Probe {
  size_t sent = 0;
  size_t answered = 0;  // 200 OK
  std::vector<long> statuses;
  std::vector<double> ms;
  double Percentile(double p) const {
    if (ms.empty()) return -1;
    auto sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
  }
  std::string Summary() const {
    char line[160];
    std::snprintf(line, sizeof line, "%zu/%zu answered 200, p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                  answered, sent, Percentile(0.50), Percentile(0.99),
                  ms.empty() ? -1.0 : *std::max_element(ms.begin(), ms.end()));
    return line;
  }
};

class ApiDosTest : public SecurityTest {
 protected:
  void SetUp() override {
    SecurityTest::SetUp();
    victim_ = Token("acme", "producer");
    attacker_ = Token("mallory", "producer");
    victim_task_ = Enqueue(victim_, R"({"type":"noop"})");
    ASSERT_FALSE(victim_task_.empty());
  }

  // The valid client: GETs of its own task, one after the other, until
  // `count` are sent, `budget` has passed or `*done` is set.
  Probe Measure(size_t count, milliseconds budget, milliseconds pause = milliseconds(0),
                const std::atomic<bool>* done = nullptr) {
    Probe probe;
    const auto start = Clock::now();
    while (probe.sent < count && Clock::now() - start < budget && !(done && *done)) {
      const auto t0 = Clock::now();
      auto r = Call("GET", "/v1/tasks/" + victim_task_, victim_);
      probe.ms.push_back(MsSince(t0));
      probe.statuses.push_back(r.status);
      ++probe.sent;
      if (r.status == 200) ++probe.answered;
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
    return probe;
  }

  // Every request answered, none slower than `bound`.
  void ExpectServed(const Probe& p, const char* phase, milliseconds bound = seconds(3)) {
    std::printf("[ %s ] valid client: %s\n", phase, p.Summary().c_str());
    EXPECT_GT(p.sent, 0u) << phase;
    EXPECT_EQ(p.answered, p.sent) << phase << ": " << p.Summary();
    if (!p.ms.empty()) {
      EXPECT_LT(*std::max_element(p.ms.begin(), p.ms.end()), bound.count()) << phase;
    }
  }

  // The SIGTERM budget: the scheduler's drain timeout (10 s) and a margin.
  void ExpectStopsOnSigterm(const char* phase) {
    const auto t0 = Clock::now();
    scheduler_->Signal(SIGTERM);
    int status = scheduler_->Wait(seconds(20));
    std::printf("[ %s ] SIGTERM: exit %d after %.0f ms\n", phase, ExitCodeOf(status), MsSince(t0));
    EXPECT_EQ(ExitCodeOf(status), 0) << phase << " (-1000: still running after 20 s)\n"
                                     << scheduler_->Stderr().substr(0, 4000);
    EXPECT_LT(MsSince(t0), 15000) << phase;
  }

  int StreamsAndCancel(const char* phase);

  std::string SlowBodyHead(bool with_token) const {
    return "POST /v1/tasks HTTP/1.1\r\nHost: fila\r\nContent-Type: application/json\r\n"
           "Content-Length: 100000\r\n" +
           (with_token ? "Authorization: Bearer " + attacker_ + "\r\n" : std::string()) + "\r\n{";
  }

  std::string victim_;
  std::string attacker_;
  std::string victim_task_;
};

// Connections that send their body one byte every 5 s; a thread keeps
// them trickling and collects what the server answers.
class SlowBodies final {
 public:
  SlowBodies(std::vector<std::unique_ptr<RawClient>> clients) : clients_(std::move(clients)) {
    thread_ = std::thread([this] {
      auto next_byte = Clock::now() + seconds(5);
      while (!stop_) {
        {
          std::lock_guard lock(mutex_);
          for (auto& c : clients_) c->Poll(milliseconds(0));
          if (Clock::now() >= next_byte) {
            for (auto& c : clients_) {
              if (c->Open() && c->Status() == 0) c->Send("x");
            }
            next_byte += seconds(5);
          }
        }
        std::this_thread::sleep_for(milliseconds(50));
      }
    });
  }
  ~SlowBodies() { Leave(); }
  // The attacker leaves: its connections close.
  void Leave() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& c : clients_) c->Close();
  }
  // How many connections got an answer with `status`; 0: none yet.
  std::map<int, int> Answers() {
    std::lock_guard lock(mutex_);
    std::map<int, int> out;
    for (auto& c : clients_) ++out[c->Status()];
    return out;
  }
  int ClosedByServer() {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count_if(clients_.begin(), clients_.end(),
                                          [](auto& c) { return c->ClosedByServer(); }));
  }

 private:
  std::vector<std::unique_ptr<RawClient>> clients_;
  std::mutex mutex_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string Describe(const std::map<int, int>& answers) {
  std::string out;
  for (auto [status, n] : answers) out += std::to_string(n) + " x " + std::to_string(status) + "  ";
  return out;
}

TEST_F(ApiDosTest, SlowRequestBodiesDoNotStarveOtherClients) {
  ExpectServed(Measure(100, seconds(20)), "quiet");
  // 60 connections, half without a token, half with the attacker's.
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 60; ++i) {
    clients.push_back(std::make_unique<RawClient>("127.0.0.2", port_));
    ASSERT_TRUE(clients.back()->Send(SlowBodyHead(i % 2 == 1)));
  }
  SlowBodies attack(std::move(clients));
  std::this_thread::sleep_for(milliseconds(500));
  ExpectServed(Measure(1000, seconds(12), milliseconds(100)), "60 slow bodies");
  // By now (12 s) the read deadline (10 s) answered every slow body.
  WaitFor([&] { return attack.Answers()[0] == 0; }, seconds(3));
  auto answers = attack.Answers();
  std::printf("[ slow bodies ] answers to the attacker: %s\n", Describe(answers).c_str());
  EXPECT_EQ(answers[401], 30) << "no token: refused before any body is read";
  EXPECT_EQ(answers[408] + answers[429], 30) << "a token: the body read has a deadline";
  EXPECT_TRUE(WaitFor([&] { return attack.ClosedByServer() == 60; }, seconds(2)))
      << attack.ClosedByServer() << " of 60 closed by the server";
  attack.Leave();
  ExpectServed(Measure(100, seconds(15)), "after the slow bodies");
}

// 300 event streams on one task of the attacker, then a cancel of it;
// the valid client is measured during and after. Returns how many streams
// saw the cancel.
int ApiDosTest::StreamsAndCancel(const char* phase) {
  const std::string task = Enqueue(attacker_, R"({"type":"noop"})");
  if (task.empty()) return -1;
  std::vector<std::unique_ptr<RawClient>> streams;
  const std::string request = "GET /v1/tasks/" + task + "/events HTTP/1.1\r\nHost: fila\r\n"
                              "Authorization: Bearer " + attacker_ + "\r\n\r\n";
  for (int i = 0; i < 300; ++i) {
    streams.push_back(std::make_unique<RawClient>("127.0.0.3", port_));
    EXPECT_TRUE(streams.back()->Send(request));
  }
  std::this_thread::sleep_for(seconds(1));
  const auto cancel_start = Clock::now();
  auto cancel = Call("POST", "/v1/tasks/" + task + ":cancel", attacker_);
  std::printf("[ %s ] cancel: HTTP %ld after %.0f ms\n", phase, cancel.status, MsSince(cancel_start));
  EXPECT_EQ(cancel.status, 200) << cancel.body;
  ExpectServed(Measure(50, seconds(10), milliseconds(50)), phase);
  // Every stream was answered: the admitted ones with the cancelled state
  // and the end of the stream, the others refused (429).
  std::map<int, int> answers;
  int saw_cancel = 0;
  const auto until = Clock::now() + seconds(5);
  for (auto& s : streams) {
    while (Clock::now() < until && !s->ClosedByServer() &&
           s->Received().find("\"state\":\"cancelled\"") == std::string::npos &&
           s->Status() != 429) {
      s->Poll(milliseconds(20));
    }
    ++answers[s->Status()];
    if (s->Received().find("\"state\":\"cancelled\"") != std::string::npos) ++saw_cancel;
  }
  std::printf("[ %s ] answers: %s; %d streams saw the cancel\n", phase, Describe(answers).c_str(),
              saw_cancel);
  EXPECT_EQ(answers[0], 0) << "streams never answered";
  EXPECT_EQ(saw_cancel, answers[200]);
  for (auto& s : streams) {
    if (s->Status() != 429) continue;
    // Refusals in the API's error shape, saying when to come back.
    EXPECT_NE(s->Received().find("Retry-After: "), std::string::npos) << s->Received();
    EXPECT_NE(s->Received().find(R"("code":"resource_exhausted")"), std::string::npos) << s->Received();
    break;
  }
  return saw_cancel;
}

TEST_F(ApiDosTest, HundredsOfEventStreamsAndACancelDoNotDeadlockTheApi) {
  ExpectServed(Measure(100, seconds(20)), "quiet");
  EXPECT_GT(StreamsAndCancel("300 event streams + cancel"), 0);
  ExpectServed(Measure(100, seconds(15)), "after the event streams");
}

// The hub alone, without the stream limit: 300 streams all served.
TEST_F(ApiDosTest, TheEventHubServesHundredsOfStreamsWithoutALimit) {
  StartScheduler({"--api-max-streams-per-tenant", "0"});
  EXPECT_EQ(StreamsAndCancel("300 unlimited event streams + cancel"), 300);
  ExpectServed(Measure(100, seconds(15)), "after the unlimited event streams");
}

TEST_F(ApiDosTest, AnEndlessChunkedBodyIsCutAtTheLimit) {
  const long rss_before = PeakRssKiB(scheduler_->pid());
  // The listener reads the body while the token is checked: a token the
  // cache holds (a call just before) keeps that moment short, as it is
  // for any client that calls more than once.
  ASSERT_EQ(Call("GET", "/v1/queues", attacker_).status, 200);
  RawClient c("127.0.0.2", port_, 0, 64 * 1024);
  ASSERT_TRUE(c.Send("POST /v1/tasks HTTP/1.1\r\nHost: fila\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\nAuthorization: Bearer " + attacker_ + "\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(0x10000, ' ') + "\r\n";  // 64 KiB
  size_t sent = 0;
  const auto t0 = Clock::now();
  while (sent < (size_t{64} << 20) && c.Status() == 0 && !c.ClosedByServer() && c.Send(chunk)) {
    sent += 0x10000;
    c.Poll(milliseconds(0));
  }
  for (int i = 0; i < 100 && c.Status() == 0 && !c.ClosedByServer(); ++i) c.Poll(milliseconds(50));
  const long rss_after = PeakRssKiB(scheduler_->pid());
  std::printf("[ chunked body ] HTTP %d after %zu KiB sent in %.0f ms; scheduler peak RSS %ld -> %ld KiB\n",
              c.Status(), sent >> 10, MsSince(t0), rss_before, rss_after);
  EXPECT_EQ(c.Status(), 413) << c.Received().substr(0, 300);
  // The limit is about 2 MiB; what was sent past it sat in the kernel's
  // socket buffers (several MiB on loopback) or in the listener's.
  EXPECT_LT(sent, size_t{32} << 20) << "answered long before the whole 64 MiB";
  EXPECT_LT(rss_after - rss_before, 32 * 1024) << "the body is not buffered whole";
  ExpectServed(Measure(50, seconds(10)), "after the chunked body");
}

TEST_F(ApiDosTest, StalledEventStreamReadersAreDropped) {
  const std::string task = Enqueue(attacker_, R"({"type":"noop"})");
  ASSERT_FALSE(task.empty());
  // 20 streams whose readers never read (small receive buffers).
  std::vector<std::unique_ptr<RawClient>> stalled;
  for (int i = 0; i < 20; ++i) {
    stalled.push_back(std::make_unique<RawClient>("127.0.0.3", port_, 4096));
    ASSERT_TRUE(stalled.back()->Send("GET /v1/tasks/" + task + "/events HTTP/1.1\r\nHost: fila\r\n"
                                     "Authorization: Bearer " + attacker_ + "\r\n\r\n"));
  }
  std::this_thread::sleep_for(milliseconds(500));
  const long rss_before = PeakRssKiB(scheduler_->pid());
  // 1,500 changes of about 4 KB each: 6 MB for every stream to carry.
  const auto t0 = Clock::now();
  db_->Exec("DO $$ BEGIN FOR i IN 1..1500 LOOP "
            "UPDATE tasks SET progress_message = repeat('x', 4000) || i WHERE id = '" + task + "'; "
            "COMMIT; PERFORM pg_sleep(0.002); END LOOP; END $$");
  std::this_thread::sleep_for(milliseconds(500));
  const long rss_after = PeakRssKiB(scheduler_->pid());
  std::printf("[ stalled streams ] 1,500 events of 4 KB in %.0f ms to 20 stalled readers: "
              "scheduler peak RSS %ld -> %ld KiB\n", MsSince(t0), rss_before, rss_after);
  EXPECT_LT(rss_after - rss_before, 32 * 1024) << "unread events are not buffered without bound";
  ExpectServed(Measure(50, seconds(10)), "after the stalled streams");
}

TEST_F(ApiDosTest, AFloodOfRandomTokensIsHarmless) {
  ExpectServed(Measure(100, seconds(20)), "quiet");
  constexpr int kThreads = 16;
  constexpr int kPerThread = 5000 / kThreads + 1;
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::atomic<int> running{kThreads};
  std::atomic<bool> flood_over{false};
  std::vector<std::thread> flood;
  const auto t0 = Clock::now();
  for (int t = 0; t < kThreads; ++t) {
    flood.emplace_back([&, t] {
      std::mt19937_64 random(static_cast<uint64_t>(t) * 7919 + 17);
      for (int i = 0; i < kPerThread; ++i) {
        RawClient c("127.0.0.4", port_);
        char token[40];
        std::snprintf(token, sizeof token, "fila_%016llx%016llx",
                      static_cast<unsigned long long>(random()),
                      static_cast<unsigned long long>(random()));
        c.Send("GET /v1/tasks HTTP/1.1\r\nHost: fila\r\nConnection: close\r\nAuthorization: Bearer " +
               std::string(token) + "\r\n\r\n");
        const auto until = Clock::now() + seconds(10);
        // A refused connection (the scheduler gone) ends at once: no spin.
        while (c.Open() && c.Status() == 0 && Clock::now() < until) c.Poll(milliseconds(50));
        (c.Status() == 401 ? refused : other)++;
      }
      if (--running == 0) flood_over = true;
    });
  }
  Probe during = Measure(1000000, seconds(60), milliseconds(20), &flood_over);
  for (auto& t : flood) t.join();
  std::printf("[ token flood ] %d random tokens in %.0f ms: %d refused (401), %d other\n",
              kThreads * kPerThread, MsSince(t0), refused.load(), other.load());
  EXPECT_EQ(refused.load(), kThreads * kPerThread);
  ExpectServed(during, "5,000 random tokens");
  ExpectServed(Measure(100, seconds(15)), "after the token flood");
}

TEST_F(ApiDosTest, SigtermStopsTheSchedulerUnderAttack) {
  const std::string task = Enqueue(attacker_, R"({"type":"noop"})");
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 60; ++i) {
    clients.push_back(std::make_unique<RawClient>("127.0.0.2", port_));
    ASSERT_TRUE(clients.back()->Send(SlowBodyHead(true)));
  }
  std::vector<std::unique_ptr<RawClient>> streams;
  for (int i = 0; i < 50; ++i) {
    streams.push_back(std::make_unique<RawClient>("127.0.0.3", port_));
    ASSERT_TRUE(streams.back()->Send("GET /v1/tasks/" + task + "/events HTTP/1.1\r\nHost: fila\r\n"
                                     "Authorization: Bearer " + attacker_ + "\r\n\r\n"));
  }
  std::this_thread::sleep_for(seconds(2));
  ExpectStopsOnSigterm("60 slow bodies + 50 event streams");
}

}  // namespace
}  // namespace fila::test
