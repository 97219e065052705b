#pragma once

// Which addresses the handlers' outbound HTTP may reach (docs/security/egress.md).
// A producer names URLs; without this policy a worker would fetch its own
// metrics, the broker's management API or a cloud metadata service for
// them. HttpClient checks the policy on the address each connection is
// about to be opened to (every redirect hop, after DNS), so neither a
// redirect nor DNS rebinding gets around it.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fila {

// An IPv4 or IPv6 address.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4: the first 4, network order

  // "10.0.0.1" or "fd00::1" (no brackets, no zone); nullopt otherwise.
  static std::optional<IpAddress> Parse(std::string_view text);
  static IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
};

// The IPv4 address an IPv6 address carries when it is only a wrapping of
// one (IPv4-mapped ::ffff:0:0/96, SIIT-translated ::ffff:0:0:0/96,
// IPv4-compatible ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16); nullopt for
// IPv4 and every other IPv6 address.
std::optional<IpAddress> EmbeddedIpv4(const IpAddress& address);

// Why an address is internal ("loopback", "private", "shared (CGNAT)",
// "link-local", "multicast", "broadcast", "unspecified", "unique-local",
// "reserved", ...), or nullopt for a public one. Wrapped IPv4 addresses
// are judged as the IPv4 address they carry.
std::optional<std::string_view> InternalClass(const IpAddress& address);

// One FILA_EGRESS_ALLOW entry: a host name (or "*.suffix"), an address or
// an address block, each with an optional port.
struct EgressRule {
  std::string host;                  // lower case; "" for address rules
  bool subdomains = false;           // "*.example.com": names below it, not itself
  std::optional<IpAddress> network;  // address rules
  int prefix = 0;                    // bits of `network` that must match
  std::optional<uint16_t> port;      // none: every port
};

// Denies connections to internal addresses and to the host's own, unless
// an operator's allow rule names them. Immutable once built: safe to share
// between threads.
class EgressPolicy final {
 public:
  // Denies every internal address; allows nothing beyond.
  EgressPolicy() = default;

  // The rules of a FILA_EGRESS_ALLOW value: comma-separated entries
  //   host, host:port, *.domain, *.domain:port,
  //   1.2.3.4, 1.2.3.4:port, 10.1.2.0/24, 10.1.2.0/24:port,
  //   fd00::1, [fd00::1], [fd00::1]:port, fd00::/8, [fd00::/8]:port
  // (blanks around entries ignored). Throws PermanentError naming the first
  // bad entry.
  static EgressPolicy Parse(std::string_view allow);

  // Parse(FILA_EGRESS_ALLOW) with this host's interface addresses as its
  // own. Throws PermanentError when the variable is malformed.
  static EgressPolicy FromEnvironment();

  // Addresses of this host (connections to them are denied unless allowed).
  void AddOwnAddresses(const std::vector<IpAddress>& addresses);

  // Whether a connection to `address`:`port`, opened for a URL whose host
  // is `host` (lower case, no brackets; an address literal is fine), may
  // proceed: an allow rule matches (by name or by address), or the address
  // is neither internal nor one of the host's own.
  bool Allows(std::string_view host, const IpAddress& address, uint16_t port) const;

  const std::vector<EgressRule>& Rules() const { return rules_; }

 private:
  std::vector<EgressRule> rules_;
  std::vector<IpAddress> own_;
};

}  // namespace fila
