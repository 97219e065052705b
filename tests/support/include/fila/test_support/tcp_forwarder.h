#pragma once

// A TCP relay for tests: accepts on one address and copies bytes both ways
// to a target, one thread per relayed connection. It lets a process in
// another network namespace reach the servers of scripts/stack, which
// listen on 127.0.0.1 only (netns.h), without iptables: the servers see
// connections from 127.0.0.1 (RabbitMQ's guest user and PostgreSQL's
// trust rule stay as they are). Not product code.
//
// Each direction has its own buffer and the sockets are non-blocking, so a
// peer that stops reading (a partitioned or stopped process) stalls only
// its own direction. Half-closes are passed on (shutdown(SHUT_WR)).
// Thread safety: construct and destroy from one thread.

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>

namespace fila::test {

class TcpForwarder final {
 public:
  // Listens on listen_host:listen_port (0 picks a port) and forwards every
  // connection to target_host:target_port. Throws std::runtime_error.
  TcpForwarder(const std::string& listen_host, uint16_t listen_port, const std::string& target_host,
               uint16_t target_port);
  // Stops accepting, closes every relayed connection and joins its threads.
  ~TcpForwarder();
  TcpForwarder(const TcpForwarder&) = delete;
  TcpForwarder& operator=(const TcpForwarder&) = delete;

  uint16_t port() const { return port_; }
  // Connections accepted so far.
  int64_t accepted() const { return accepted_.load(); }

 private:
  struct Relay {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void AcceptLoop();
  void RelayLoop(int client, int upstream);
  int ConnectUpstream() const;

  int listen_fd_ = -1;
  int wake_read_ = -1;   // readable once the forwarder stops: wakes every poll
  int wake_write_ = -1;
  uint16_t port_ = 0;
  uint32_t target_addr_ = 0;  // network order
  uint16_t target_port_ = 0;
  std::atomic<int64_t> accepted_{0};
  std::mutex mutex_;
  std::list<Relay> relays_;
  std::thread acceptor_;
};

}  // namespace fila::test
