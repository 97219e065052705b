#include "fila/http/egress_policy.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "fila/core/config.h"
#include "fila/core/errors.h"

namespace fila {
namespace {

struct Block {
  IpAddress network;
  int prefix;
  std::string_view name;
};

bool InBlock(const IpAddress& a, const IpAddress& network, int prefix) {
  if (a.v6 != network.v6) return false;
  for (int bit = 0; bit < prefix; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((a.bytes[bit / 8] & mask) != (network.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

IpAddress V6(std::string_view text) { return *IpAddress::Parse(text); }

// IPv4 blocks that are not the public internet (RFC 6890 and friends).
const std::vector<Block>& Ipv4Blocks() {
  static const std::vector<Block> blocks{
      {IpAddress::V4(0, 0, 0, 0), 8, "unspecified"},
      {IpAddress::V4(10, 0, 0, 0), 8, "private"},
      {IpAddress::V4(100, 64, 0, 0), 10, "shared (CGNAT)"},
      {IpAddress::V4(127, 0, 0, 0), 8, "loopback"},
      {IpAddress::V4(169, 254, 0, 0), 16, "link-local"},
      {IpAddress::V4(172, 16, 0, 0), 12, "private"},
      {IpAddress::V4(192, 0, 0, 0), 24, "reserved"},
      {IpAddress::V4(192, 0, 2, 0), 24, "documentation"},
      {IpAddress::V4(192, 168, 0, 0), 16, "private"},
      {IpAddress::V4(198, 18, 0, 0), 15, "benchmarking"},
      {IpAddress::V4(198, 51, 100, 0), 24, "documentation"},
      {IpAddress::V4(203, 0, 113, 0), 24, "documentation"},
      {IpAddress::V4(224, 0, 0, 0), 4, "multicast"},
      {IpAddress::V4(255, 255, 255, 255), 32, "broadcast"},
      {IpAddress::V4(240, 0, 0, 0), 4, "reserved"},
  };
  return blocks;
}

// IPv6 blocks that are not the public internet; the wrappings of IPv4 are
// unwrapped before these are consulted.
const std::vector<Block>& Ipv6Blocks() {
  static const std::vector<Block> blocks{
      {V6("::"), 128, "unspecified"},
      {V6("::1"), 128, "loopback"},
      {V6("64:ff9b:1::"), 48, "private"},  // local-use NAT64 (RFC 8215)
      {V6("100::"), 64, "reserved"},       // discard-only
      {V6("2001::"), 32, "reserved"},      // Teredo: carries an obfuscated IPv4
      {V6("2001:db8::"), 32, "documentation"},
      {V6("fc00::"), 7, "unique-local"},
      {V6("fe80::"), 10, "link-local"},
      {V6("fec0::"), 10, "site-local"},
      {V6("ff00::"), 8, "multicast"},
  };
  return blocks;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool ValidHostName(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.front() == '-') return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

std::optional<int> Number(std::string_view text, int max) {
  int value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0 || value > max) {
    return std::nullopt;
  }
  return value;
}

[[noreturn]] void Bad(std::string_view entry, std::string_view why) {
  throw PermanentError("FILA_EGRESS_ALLOW: bad entry \"" + std::string(entry) + "\": " + std::string(why) +
                       " (entries: host, host:port, *.domain, 10.1.2.3, 10.1.2.0/24, [fd00::1]:443, ...)");
}

// "addr" or "addr/prefix" into an address rule.
bool ParseAddress(std::string_view text, EgressRule& rule, std::string_view entry) {
  std::string_view address = text;
  std::optional<int> prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    prefix = Number(text.substr(slash + 1), 128);
    if (!prefix) Bad(entry, "the prefix length is not a number");
  }
  auto parsed = IpAddress::Parse(address);
  if (!parsed) return false;
  const int bits = parsed->v6 ? 128 : 32;
  if (prefix.value_or(bits) > bits) Bad(entry, "the prefix length is longer than the address");
  rule.network = parsed;
  rule.prefix = prefix.value_or(bits);
  return true;
}

EgressRule ParseEntry(std::string_view entry) {
  EgressRule rule;
  std::string_view target = entry;
  std::optional<std::string_view> port;
  if (entry.front() == '[') {
    const size_t close = entry.find(']');
    if (close == std::string_view::npos) Bad(entry, "no closing ']'");
    target = entry.substr(1, close - 1);
    std::string_view rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') Bad(entry, "only \":port\" may follow ']'");
      port = rest.substr(1);
    }
    if (!ParseAddress(target, rule, entry) || !rule.network->v6) Bad(entry, "not an IPv6 address in brackets");
  } else if (std::count(entry.begin(), entry.end(), ':') > 1) {
    // A bare IPv6 address or block: a port needs the brackets.
    if (!ParseAddress(entry, rule, entry)) Bad(entry, "not an IPv6 address (write [address]:port for a port)");
  } else {
    if (auto colon = entry.find(':'); colon != std::string_view::npos) {
      target = entry.substr(0, colon);
      port = entry.substr(colon + 1);
    }
    if (!ParseAddress(target, rule, entry)) {
      if (target.find('/') != std::string_view::npos) Bad(entry, "not an address block");
      std::string host = Lower(target);
      if (host.starts_with("*.")) {
        rule.subdomains = true;
        host.erase(0, 2);
      }
      while (!host.empty() && host.back() == '.') host.pop_back();
      if (!ValidHostName(host)) Bad(entry, "not a host name, address or address block");
      rule.host = std::move(host);
    }
  }
  if (port) {
    auto p = Number(*port, 65535);
    if (!p || *p == 0) Bad(entry, "the port must be a number from 1 to 65535");
    rule.port = static_cast<uint16_t>(*p);
  }
  return rule;
}

bool NameMatches(const EgressRule& rule, std::string_view host) {
  if (rule.host.empty()) return false;
  std::string h = Lower(host);
  while (!h.empty() && h.back() == '.') h.pop_back();
  if (!rule.subdomains) return h == rule.host;
  return h.size() > rule.host.size() + 1 && h.ends_with(rule.host) &&
         h[h.size() - rule.host.size() - 1] == '.';
}

std::vector<IpAddress> InterfaceAddresses() {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    IpAddress a;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      std::copy_n(reinterpret_cast<const uint8_t*>(&in->sin_addr), 4, a.bytes.begin());
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      a.v6 = true;
      std::copy_n(reinterpret_cast<const uint8_t*>(&in6->sin6_addr), 16, a.bytes.begin());
    } else {
      continue;
    }
    out.push_back(a);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  IpAddress a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

IpAddress IpAddress::V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress out;
  out.bytes[0] = a;
  out.bytes[1] = b;
  out.bytes[2] = c;
  out.bytes[3] = d;
  return out;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpAddress> EmbeddedIpv4(const IpAddress& a) {
  if (!a.v6) return std::nullopt;
  const auto& b = a.bytes;
  auto zeros = [&](size_t from, size_t to) {
    return std::all_of(b.begin() + from, b.begin() + to, [](uint8_t x) { return x == 0; });
  };
  auto tail = [&](size_t at) { return IpAddress::V4(b[at], b[at + 1], b[at + 2], b[at + 3]); };
  if (zeros(0, 10) && b[10] == 0xff && b[11] == 0xff) return tail(12);                       // ::ffff:a.b.c.d
  if (zeros(0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0) return tail(12);  // ::ffff:0:a.b.c.d
  if (zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && b[15] == 1)) return tail(12);     // ::a.b.c.d
  if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zeros(4, 12)) return tail(12);  // 64:ff9b::/96
  if (b[0] == 0x20 && b[1] == 0x02) return tail(2);                                          // 2002:aabb:ccdd::/48
  return std::nullopt;
}

std::optional<std::string_view> InternalClass(const IpAddress& address) {
  const IpAddress a = EmbeddedIpv4(address).value_or(address);
  for (const Block& block : a.v6 ? Ipv6Blocks() : Ipv4Blocks()) {
    if (InBlock(a, block.network, block.prefix)) return block.name;
  }
  return std::nullopt;
}

EgressPolicy EgressPolicy::Parse(std::string_view allow) {
  EgressPolicy policy;
  for (const std::string& raw : SplitList(allow)) {
    const std::string_view entry = Trim(raw);
    if (!entry.empty()) policy.rules_.push_back(ParseEntry(entry));
  }
  return policy;
}

EgressPolicy EgressPolicy::FromEnvironment() {
  EgressPolicy policy = Parse(EnvOr("FILA_EGRESS_ALLOW", ""));
  policy.AddOwnAddresses(InterfaceAddresses());
  return policy;
}

void EgressPolicy::AddOwnAddresses(const std::vector<IpAddress>& addresses) {
  for (const auto& a : addresses) {
    own_.push_back(a);
    if (auto v4 = EmbeddedIpv4(a)) own_.push_back(*v4);
  }
}

bool EgressPolicy::Allows(std::string_view host, const IpAddress& address, uint16_t port) const {
  const IpAddress plain = EmbeddedIpv4(address).value_or(address);
  for (const EgressRule& rule : rules_) {
    if (rule.port && *rule.port != port) continue;
    if (rule.network ? InBlock(plain, *rule.network, rule.prefix) || InBlock(address, *rule.network, rule.prefix)
                     : NameMatches(rule, host)) {
      return true;
    }
  }
  if (InternalClass(address)) return false;
  return std::find(own_.begin(), own_.end(), plain) == own_.end();
}

}  // namespace fila
