// The partition tests' own tools: the TCP forwarder relays both ways and
// passes half-closes; a NetNs reaches loopback servers through it, a cut
// stops its traffic and a heal lets the stalled bytes through. The NetNs
// cases need root and skip without it.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "fila/test_support/loopback_listener.h"
#include "fila/test_support/netns.h"
#include "fila/test_support/tcp_forwarder.h"

namespace fila::test {
namespace {

// Echoes each connection until it half-closes, then closes it.
class EchoServer {
 public:
  EchoServer() : fd_(ListenOnLoopback(16, port_)) {
    thread_ = std::thread([this] {
      int c;
      while ((c = ::accept(fd_, nullptr, nullptr)) >= 0) {
        std::thread([c] {
          char buf[65536];
          ssize_t n;
          while ((n = ::read(c, buf, sizeof buf)) > 0) (void)!::write(c, buf, static_cast<size_t>(n));
          ::close(c);
        }).detach();
      }
    });
  }
  ~EchoServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  int fd_;
  std::thread thread_;
};

int Connect(const std::string& host, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads what arrives within `ms` (until EOF or the time is up).
std::string ReadFor(int fd, int ms, size_t want = SIZE_MAX) {
  std::string got;
  char buf[65536];
  pollfd p{fd, POLLIN, 0};
  while (got.size() < want && ::poll(&p, 1, ms) > 0) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

TEST(TcpForwarder, RelaysBothWaysAndPassesHalfClose) {
  EchoServer echo;
  TcpForwarder forwarder("127.0.0.1", 0, "127.0.0.1", echo.port());
  const int fd = Connect("127.0.0.1", forwarder.port());
  ASSERT_GE(fd, 0);
  std::string sent(3 << 20, '\0');
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 7 + i / 251);
  std::thread writer([&] {
    for (size_t off = 0; off < sent.size();) off += static_cast<size_t>(::write(fd, sent.data() + off, sent.size() - off));
    ::shutdown(fd, SHUT_WR);  // the echo server sees EOF only through the forwarder
  });
  const std::string got = ReadFor(fd, 10000);
  writer.join();
  ::close(fd);
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
  EXPECT_EQ(forwarder.accepted(), 1);
}

TEST(NetNs, RewritesLoopbackHostsAndFindsTheirPorts) {
  EXPECT_EQ(NetNs::LoopbackPorts({"postgresql://u@127.0.0.1:5432,localhost:5433/db?x=1",
                                  "amqp://g:g@127.0.0.1:5672/"}),
            (std::vector<uint16_t>{5432, 5433, 5672}));
}

TEST(NetNs, CutStopsTrafficAndHealLetsItThrough) {
  if (const std::string why = NetNs::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  EchoServer echo;
  NetNs ns({echo.port()});
  EXPECT_EQ(ns.Rewrite("postgresql://u@127.0.0.1:1/db"), "postgresql://u@" + ns.host_address() + ":1/db");
  // A socket belongs to the namespace of the thread that made it.
  const auto connect_inside = [&] {
    int fd = -1;
    std::thread([&] {
      const int netns = ::open(("/var/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
      if (netns >= 0 && ::setns(netns, CLONE_NEWNET) == 0) fd = Connect(ns.host_address(), echo.port());
      if (netns >= 0) ::close(netns);
    }).join();
    return fd;
  };
  const int fd = connect_inside();
  ASSERT_GE(fd, 0) << "no connection from " << ns.name() << " to " << ns.host_address();
  ASSERT_EQ(::write(fd, "ping", 4), 4);
  EXPECT_EQ(ReadFor(fd, 5000, 4), "ping");

  ns.Cut();
  EXPECT_LT(connect_inside(), 0) << "a new connection crossed the cut";
  ASSERT_EQ(::write(fd, "pong", 4), 4);
  EXPECT_EQ(ReadFor(fd, 1500, 4), "") << "bytes crossed the cut";
  ns.Heal();
  EXPECT_EQ(ReadFor(fd, 20000, 4), "pong") << "the stalled bytes did not arrive after the heal";
  ::close(fd);
}

}  // namespace
}  // namespace fila::test
