#include "fila/test_support/tcp_forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace fila::test {
namespace {

constexpr size_t kBuffer = 64 * 1024;

uint32_t ParseAddress(const std::string& host) {
  in_addr a{};
  const std::string h = host == "localhost" ? "127.0.0.1" : host;
  if (::inet_pton(AF_INET, h.c_str(), &a) != 1) throw std::runtime_error("not an IPv4 address: " + host);
  return a.s_addr;
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// One direction of a relayed connection.
struct Direction {
  int from;
  int to;
  std::vector<char> buffer = std::vector<char>(kBuffer);
  size_t size = 0;
  bool eof = false;       // `from` sent FIN
  bool shut = false;      // FIN passed on to `to`
  short ReadEvents() const { return !eof && size < buffer.size() ? POLLIN : 0; }
  short WriteEvents() const { return size > 0 ? POLLOUT : 0; }
  bool Done() const { return shut; }

  // False when the connection is broken.
  bool Step(short from_revents, short to_revents) {
    // A hang-up reads as the end of the stream (read 0) or fails the write.
    if ((from_revents & (POLLIN | POLLHUP)) != 0 && !eof && size < buffer.size()) {
      const ssize_t n = ::read(from, buffer.data() + size, buffer.size() - size);
      if (n > 0) {
        size += static_cast<size_t>(n);
      } else if (n == 0) {
        eof = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        return false;
      }
    }
    if ((to_revents & (POLLOUT | POLLHUP)) != 0 && size > 0) {
      const ssize_t n = ::send(to, buffer.data(), size, MSG_NOSIGNAL);
      if (n > 0) {
        std::memmove(buffer.data(), buffer.data() + n, size - static_cast<size_t>(n));
        size -= static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return false;
      }
    }
    if (eof && size == 0 && !shut) {
      ::shutdown(to, SHUT_WR);
      shut = true;
    }
    return true;
  }
};

}  // namespace

TcpForwarder::TcpForwarder(const std::string& listen_host, uint16_t listen_port,
                           const std::string& target_host, uint16_t target_port)
    : target_addr_(ParseAddress(target_host)), target_port_(target_port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = ParseAddress(listen_host);
  addr.sin_port = htons(listen_port);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  socklen_t len = sizeof addr;
  int pipe_fds[2];
  if (listen_fd_ < 0 || ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("cannot listen on " + listen_host + ":" + std::to_string(listen_port) + ": " +
                             why);
  }
  wake_read_ = pipe_fds[0];
  wake_write_ = pipe_fds[1];
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TcpForwarder::~TcpForwarder() {
  // The byte is never read: every poll on wake_read_ sees it from now on.
  const char byte = 1;
  (void)!::write(wake_write_, &byte, 1);
  acceptor_.join();
  for (auto& r : relays_) r.thread.join();
  ::close(listen_fd_);
  ::close(wake_read_);
  ::close(wake_write_);
}

int TcpForwarder::ConnectUpstream() const {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = target_addr_;
  addr.sin_port = htons(target_port_);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

void TcpForwarder::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;  // EINTR
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    // The target is on this host: a refused connect is an answer at once,
    // and the client sees it as a closed connection, like the server's own.
    const int upstream = ConnectUpstream();
    if (upstream < 0) {
      ::close(client);
      continue;
    }
    ++accepted_;
    std::lock_guard lock(mutex_);
    for (auto it = relays_.begin(); it != relays_.end();) {
      if (it->done) {
        it->thread.join();
        it = relays_.erase(it);
      } else {
        ++it;
      }
    }
    Relay& relay = relays_.emplace_back();
    relay.thread = std::thread([this, client, upstream, &relay] {
      RelayLoop(client, upstream);
      relay.done = true;
    });
  }
}

void TcpForwarder::RelayLoop(int client, int upstream) {
  SetNonBlocking(client);
  SetNonBlocking(upstream);
  const int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Direction up{client, upstream};
  Direction down{upstream, client};
  // A descriptor with nothing to wait for is left out of the poll: a
  // hung-up socket would otherwise wake it at once, again and again.
  const auto entry = [](int fd, int events) {
    return pollfd{events != 0 ? fd : -1, static_cast<short>(events), 0};
  };
  while (!(up.Done() && down.Done())) {
    pollfd fds[3] = {entry(client, up.ReadEvents() | down.WriteEvents()),
                     entry(upstream, down.ReadEvents() | up.WriteEvents()), {wake_read_, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) continue;  // EINTR
    if (fds[2].revents != 0) break;
    if (((fds[0].revents | fds[1].revents) & (POLLERR | POLLNVAL)) != 0) break;
    if (!up.Step(fds[0].revents, fds[1].revents) || !down.Step(fds[1].revents, fds[0].revents)) break;
  }
  ::close(client);
  ::close(upstream);
}

}  // namespace fila::test
