#pragma once

// An HTTP/1.1 server on loopback, in the test's process, that keeps its
// connections open (a thread per connection): for tests of connection
// reuse and of requests abandoned mid-way. It counts the connections it
// accepted and those its clients closed. Not product code.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "fila/test_support/loopback_listener.h"

namespace fila::test {

class KeepAliveServer final {
 public:
  // The whole answer to one request (head and body), or nullopt to answer
  // nothing and wait for the client to give up.
  using Reply = std::function<std::optional<std::string>(const std::string& request)>;

  explicit KeepAliveServer(Reply reply) : reply_(std::move(reply)) {
    uint16_t port = 0;
    fd_ = ListenOnLoopback(64, port);
    port_ = port;
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~KeepAliveServer() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(fd_);
  }
  std::string Base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_; }
  int closed_by_client() const { return closed_by_client_; }
  int requests() const { return requests_; }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      connections_.emplace_back([this, c] { Serve(c); });
    }
  }
  void Serve(int c) {
    std::string in;
    char buf[4096];
    while (!stop_) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) {
        ++closed_by_client_;
        break;
      }
      in.append(buf, static_cast<size_t>(n));
      const size_t end = in.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      size_t length = 0;
      const size_t at = Lower(in.substr(0, end)).find("content-length:");
      if (at != std::string::npos) length = std::stoul(in.substr(at + 15));
      if (in.size() < end + 4 + length) continue;
      const std::string request = in.substr(0, end + 4 + length);
      in.erase(0, end + 4 + length);
      ++requests_;
      const std::optional<std::string> out = reply_(request);
      if (!out) continue;  // hold: the next poll sees the client leave
      for (size_t sent = 0; sent < out->size();) {
        const ssize_t m = ::send(c, out->data() + sent, out->size() - sent, MSG_NOSIGNAL);
        if (m <= 0) break;
        sent += static_cast<size_t>(m);
      }
    }
    ::close(c);
  }
  static std::string Lower(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }

  Reply reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_by_client_{0};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::list<std::thread> connections_;  // touched by the acceptor only, then by the destructor
};

// A keep-alive answer with a body.
inline std::string KeepAliveAnswer(int status, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\n" + extra + "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace fila::test
