#pragma once

// A scripted HTTP server on loopback, in the test's process: each
// connection gets reply(request) and is closed; every request read (head
// and body) is kept. For tests of the HTTP client and of handlers that use
// a real one. Not product code.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fila/test_support/loopback_listener.h"

namespace fila::test {

class ScriptedServer final {
 public:
  using Reply = std::function<std::string(const std::string& request)>;
  explicit ScriptedServer(Reply reply) : reply_(std::move(reply)) {
    uint16_t port = 0;
    fd_ = ListenOnLoopback(16, port);
    port_ = port;
    thread_ = std::thread([this] { Loop(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::string Base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> Requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string request = Read(c);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      const std::string out = reply_(request);
      for (size_t sent = 0; sent < out.size();) {
        const ssize_t n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      ::close(c);
    }
  }
  static std::string Read(int c) {
    std::string in;
    char buf[4096];
    size_t want = std::string::npos;
    while (want == std::string::npos || in.size() < want) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      const size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos && want == std::string::npos) {
        size_t length = 0;
        const size_t at = Lower(in.substr(0, end)).find("content-length:");
        if (at != std::string::npos) length = std::stoul(in.substr(at + 15));
        want = end + 4 + length;
      }
    }
    return in;
  }
  static std::string Lower(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }

  Reply reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
};

// A whole HTTP/1.1 answer that closes the connection.
inline std::string Answer(int status, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\n" + extra + "Content-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

inline std::string RedirectTo(const std::string& location, int status = 302) {
  return Answer(status, "", "Location: " + location + "\r\n");
}

// The value of header `name` (lower case) in a raw request, "" if absent.
inline std::string HeaderOf(const std::string& request, const std::string& name) {
  std::string lower = request;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos) return {};
  size_t start = at + name.size() + 3;
  while (start < request.size() && request[start] == ' ') ++start;
  return request.substr(start, request.find("\r\n", start) - start);
}

}  // namespace fila::test
