#pragma once

// A network namespace for fault tests: a process started inside it (Exec())
// reaches this host's namespace only through one veth pair with a private
// /30 (10.213.A.B/30), so the test can cut its link (a partition) or delay
// it. The servers of scripts/stack listen on 127.0.0.1 only; a TcpForwarder
// per port on the host end of the veth carries the namespace's connections
// to them (Rewrite() points a URL there).
//
// Needs root (CAP_NET_ADMIN) and iproute2; Unavailable() says why not, for
// GTEST_SKIP. Names are unique per process (fila-<pid>-<random>), so
// parallel runs do not clash; the namespaces of dead processes are removed
// by the next NetNs (a test killed before its destructor ran). The shell
// twin of this class is scripts/netns-lib.sh (same names, same lock).
//
// Thread safety: one thread owns the object.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fila/test_support/tcp_forwarder.h"

namespace fila::test {

class NetNs final {
 public:
  // Why no namespace can be made here ("" when one can): not root, no `ip`,
  // `ip netns add` refused.
  static std::string Unavailable();
  // The ports of every 127.0.0.1 (or localhost) host:port in `urls`,
  // including comma-separated multi-host URLs.
  static std::vector<uint16_t> LoopbackPorts(const std::vector<std::string>& urls);

  // Creates the namespace, the veth pair and a forwarder for each port
  // (host end:port -> 127.0.0.1:port). Throws std::runtime_error, having
  // removed what it made.
  explicit NetNs(const std::vector<uint16_t>& ports);
  // Removes the forwarders, the veth pair and the namespace; never throws.
  // A process still running inside keeps the namespace alive, cut off,
  // until it exits.
  ~NetNs();
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;

  const std::string& name() const { return name_; }
  const std::string& host_address() const { return host_address_; }    // the host's end
  const std::string& inner_address() const { return inner_address_; }  // the namespace's end
  // `url` with each 127.0.0.1 / localhost host replaced by host_address().
  std::string Rewrite(const std::string& url) const;
  // The argv prefix that runs a command inside: ip netns exec <name>.
  std::vector<std::string> Exec() const;

  // Partition: the namespace's end of the veth goes down, so nothing passes
  // either way (the host's end only loses its carrier: its route stays and
  // nothing leaks to another interface). Heal() brings it up again.
  void Cut();
  void Heal();
  // Latency each way (tc netem on both ends); 0 removes it. False when the
  // kernel has no sch_netem (the caller skips that part).
  bool Delay(int ms);

 private:
  void Remove() noexcept;
  void Ip(const std::vector<std::string>& args) const;

  std::string name_;
  std::string host_if_;
  std::string inner_if_;
  std::string host_address_;
  std::string inner_address_;
  bool delayed_ = false;
  std::vector<std::unique_ptr<TcpForwarder>> forwarders_;
};

}  // namespace fila::test
