// The egress policy without a network: address classes (IPv4, IPv6 and
// the IPv6 forms that wrap an IPv4 address), FILA_EGRESS_ALLOW parsing and
// matching, the host's own addresses.
#include <gtest/gtest.h>

#include "fila/core/errors.h"
#include "fila/http/egress_policy.h"

namespace fila {
namespace {

std::string ClassOf(const std::string& text) {
  auto address = IpAddress::Parse(text);
  if (!address) return "unparsed";
  auto c = InternalClass(*address);
  return c ? std::string(*c) : "public";
}

IpAddress Ip(const std::string& text) {
  auto a = IpAddress::Parse(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(IpAddress{});
}

TEST(EgressAddresses, Ipv4Classes) {
  for (const char* a : {"127.0.0.1", "127.8.9.10"}) EXPECT_EQ(ClassOf(a), "loopback") << a;
  for (const char* a : {"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1"}) {
    EXPECT_EQ(ClassOf(a), "private") << a;
  }
  EXPECT_EQ(ClassOf("100.64.0.1"), "shared (CGNAT)");
  EXPECT_EQ(ClassOf("100.127.255.255"), "shared (CGNAT)");
  EXPECT_EQ(ClassOf("169.254.169.254"), "link-local");  // cloud metadata
  EXPECT_EQ(ClassOf("224.0.0.1"), "multicast");
  EXPECT_EQ(ClassOf("239.255.255.250"), "multicast");
  EXPECT_EQ(ClassOf("255.255.255.255"), "broadcast");
  EXPECT_EQ(ClassOf("0.0.0.0"), "unspecified");
  EXPECT_EQ(ClassOf("240.0.0.1"), "reserved");
  EXPECT_EQ(ClassOf("192.0.0.170"), "reserved");
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "192.169.0.1", "11.0.0.1"}) {
    EXPECT_EQ(ClassOf(a), "public") << a;
  }
}

TEST(EgressAddresses, Ipv6ClassesAndWrappedIpv4) {
  EXPECT_EQ(ClassOf("::1"), "loopback");
  EXPECT_EQ(ClassOf("::"), "unspecified");
  EXPECT_EQ(ClassOf("fd00::1"), "unique-local");
  EXPECT_EQ(ClassOf("fc00::1"), "unique-local");
  EXPECT_EQ(ClassOf("fe80::1"), "link-local");
  EXPECT_EQ(ClassOf("fec0::1"), "site-local");
  EXPECT_EQ(ClassOf("ff02::1"), "multicast");
  EXPECT_EQ(ClassOf("64:ff9b:1::a"), "private");
  // The IPv4 inside decides.
  EXPECT_EQ(ClassOf("::ffff:127.0.0.1"), "loopback");          // IPv4-mapped
  EXPECT_EQ(ClassOf("::ffff:169.254.169.254"), "link-local");
  EXPECT_EQ(ClassOf("::ffff:0:10.0.0.1"), "private");          // SIIT-translated
  EXPECT_EQ(ClassOf("::127.0.0.1"), "loopback");               // IPv4-compatible
  EXPECT_EQ(ClassOf("64:ff9b::a9fe:a9fe"), "link-local");      // NAT64 of 169.254.169.254
  EXPECT_EQ(ClassOf("2002:7f00:1::1"), "loopback");            // 6to4 of 127.0.0.1
  EXPECT_EQ(ClassOf("2002:c0a8:101::1"), "private");           // 6to4 of 192.168.1.1
  EXPECT_EQ(ClassOf("2001:db8::1"), "documentation");
  for (const char* a : {"2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2a00:1450::1"}) {
    EXPECT_EQ(ClassOf(a), "public") << a;
  }
  EXPECT_EQ(EmbeddedIpv4(Ip("::ffff:10.1.2.3"))->ToString(), "10.1.2.3");
  EXPECT_FALSE(EmbeddedIpv4(Ip("::1")));
  EXPECT_FALSE(EmbeddedIpv4(Ip("10.1.2.3")));
}

TEST(EgressAllowlist, ParsesEveryEntryForm) {
  const auto rules = EgressPolicy::Parse(
                         " api.Example.com , files.example.com:8443,*.corp.example,10.1.2.3,10.1.2.3:8443,"
                         "10.1.2.0/24,10.9.0.0/16:443,fd00::1,[fd00::2],[fd00::3]:443,fd00::/8,[fd01::/16]:80,")
                         .Rules();
  ASSERT_EQ(rules.size(), 12u);
  EXPECT_EQ(rules[0].host, "api.example.com");
  EXPECT_FALSE(rules[0].port);
  EXPECT_EQ(rules[1].host, "files.example.com");
  EXPECT_EQ(rules[1].port, 8443);
  EXPECT_EQ(rules[2].host, "corp.example");
  EXPECT_TRUE(rules[2].subdomains);
  EXPECT_EQ(rules[3].network->ToString(), "10.1.2.3");
  EXPECT_EQ(rules[3].prefix, 32);
  EXPECT_EQ(rules[4].port, 8443);
  EXPECT_EQ(rules[5].prefix, 24);
  EXPECT_EQ(rules[6].prefix, 16);
  EXPECT_EQ(rules[6].port, 443);
  EXPECT_EQ(rules[7].prefix, 128);
  EXPECT_EQ(rules[8].network->ToString(), "fd00::2");
  EXPECT_EQ(rules[9].port, 443);
  EXPECT_EQ(rules[10].prefix, 8);
  EXPECT_EQ(rules[11].port, 80);
  EXPECT_TRUE(EgressPolicy::Parse("").Rules().empty());
  EXPECT_TRUE(EgressPolicy::Parse(" , ").Rules().empty());
}

TEST(EgressAllowlist, RefusesBadEntriesNamingThem) {
  for (const char* bad : {"host:0", "host:65536", "host:abc", "host:", "10.0.0.0/33", "[fd00::1", "[fd00::1]x",
                          "[fd00::1]:", "fd00::/129", "bad host", "bad!host", "*.", "10.0.0.0/8/9", "[10.0.0.1]",
                          "a/b", "-lead.example"}) {
    try {
      EgressPolicy::Parse(std::string("ok.example,") + bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const PermanentError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("\"") + bad + "\""), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("FILA_EGRESS_ALLOW"), std::string::npos) << e.what();
    }
  }
}

TEST(EgressAllowlist, DeniesInternalUnlessARuleMatches) {
  const EgressPolicy none;
  EXPECT_FALSE(none.Allows("localhost", Ip("127.0.0.1"), 80));
  EXPECT_FALSE(none.Allows("metadata", Ip("169.254.169.254"), 80));
  EXPECT_FALSE(none.Allows("x", Ip("::ffff:10.0.0.1"), 80));
  EXPECT_TRUE(none.Allows("example.com", Ip("93.184.216.34"), 443));

  const EgressPolicy p = EgressPolicy::Parse(
      "api.internal,files.internal:8443,*.corp.example,10.1.2.0/24,10.9.9.9:443,[fd00::1]:443,127.0.0.1:8080");
  // By name: whatever the name resolves to, on the ports the rule names.
  EXPECT_TRUE(p.Allows("API.internal", Ip("10.200.0.1"), 80));
  EXPECT_TRUE(p.Allows("api.internal.", Ip("10.200.0.1"), 80));
  EXPECT_TRUE(p.Allows("files.internal", Ip("10.200.0.2"), 8443));
  EXPECT_FALSE(p.Allows("files.internal", Ip("10.200.0.2"), 443));
  EXPECT_TRUE(p.Allows("a.corp.example", Ip("10.3.0.1"), 80));
  EXPECT_TRUE(p.Allows("x.a.corp.example", Ip("10.3.0.1"), 80));
  EXPECT_FALSE(p.Allows("corp.example", Ip("10.3.0.1"), 80));
  EXPECT_FALSE(p.Allows("evilcorp.example", Ip("10.3.0.1"), 80));
  // A name rule never covers a URL that names an address.
  EXPECT_FALSE(p.Allows("10.200.0.1", Ip("10.200.0.1"), 80));
  // By address, with its IPv4-mapped form.
  EXPECT_TRUE(p.Allows("10.1.2.3", Ip("10.1.2.3"), 80));
  EXPECT_TRUE(p.Allows("x", Ip("::ffff:10.1.2.3"), 80));
  EXPECT_FALSE(p.Allows("10.1.3.1", Ip("10.1.3.1"), 80));
  EXPECT_TRUE(p.Allows("10.9.9.9", Ip("10.9.9.9"), 443));
  EXPECT_FALSE(p.Allows("10.9.9.9", Ip("10.9.9.9"), 80));
  EXPECT_TRUE(p.Allows("fd00::1", Ip("fd00::1"), 443));
  EXPECT_FALSE(p.Allows("fd00::1", Ip("fd00::1"), 80));
  EXPECT_TRUE(p.Allows("127.0.0.1", Ip("127.0.0.1"), 8080));
  EXPECT_FALSE(p.Allows("127.0.0.1", Ip("127.0.0.1"), 8081));
  EXPECT_FALSE(p.Allows("localhost", Ip("::1"), 8080));
}

TEST(EgressAllowlist, TheHostsOwnAddressesAreDenied) {
  EgressPolicy p = EgressPolicy::Parse("8.8.4.4");
  EXPECT_TRUE(p.Allows("dns.google", Ip("8.8.8.8"), 80));
  p.AddOwnAddresses({Ip("8.8.8.8"), Ip("2001:4860:4860::8888"), Ip("8.8.4.4")});
  EXPECT_FALSE(p.Allows("dns.google", Ip("8.8.8.8"), 80));
  EXPECT_FALSE(p.Allows("x", Ip("::ffff:8.8.8.8"), 80));
  EXPECT_FALSE(p.Allows("x", Ip("2001:4860:4860::8888"), 443));
  EXPECT_TRUE(p.Allows("x", Ip("8.8.4.4"), 80)) << "an allow rule wins over the host's own addresses";
  EXPECT_TRUE(p.Allows("x", Ip("1.1.1.1"), 80));
}

}  // namespace
}  // namespace fila
