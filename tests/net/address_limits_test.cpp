// Tests for net/address_limits: addresses and networks, the client behind
// trusted proxies (X-Forwarded-For read right to left), the handshake token
// bucket and the open-connection count per address, with time injected,
// and the table staying bounded under 100,000 distinct addresses.
#include "net/address_limits.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wsring::net {
namespace {

using namespace std::chrono_literals;
using clock_t_ = address_limits::clock;

ip_address ip(std::string_view s) {
    auto a = ip_address::parse(s);
    EXPECT_TRUE(a) << s;
    return a.value_or(ip_address{});
}

TEST(IpAddress, ParsesAndPrintsBothFamilies) {
    EXPECT_EQ(ip("192.0.2.7").text(), "192.0.2.7");
    EXPECT_EQ(ip(" 192.0.2.7 ").text(), "192.0.2.7");
    EXPECT_EQ(ip("2001:db8::1").text(), "2001:db8::1");
    EXPECT_EQ(ip("[2001:db8::1]").text(), "2001:db8::1");
    EXPECT_EQ(ip("::ffff:192.0.2.7"), ip("192.0.2.7")) << "one key for one IPv4 client";
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "example.com", "1.2.3.4:80", "::g"})
        EXPECT_FALSE(ip_address::parse(bad)) << bad;
}

TEST(IpNetwork, Contains) {
    auto n = ip_network::parse("10.0.0.0/8");
    ASSERT_TRUE(n);
    EXPECT_TRUE(n->contains(ip("10.200.3.4")));
    EXPECT_FALSE(n->contains(ip("11.0.0.1")));
    auto one = ip_network::parse("127.0.0.1");
    ASSERT_TRUE(one);
    EXPECT_TRUE(one->contains(ip("127.0.0.1")));
    EXPECT_FALSE(one->contains(ip("127.0.0.2")));
    auto v6 = ip_network::parse("2001:db8::/32");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->contains(ip("2001:db8:ffff::9")));
    EXPECT_FALSE(v6->contains(ip("2001:db9::")));
    EXPECT_FALSE(ip_network::parse("10.0.0.0/33"));
    EXPECT_FALSE(ip_network::parse("10.0.0.0/"));
    EXPECT_FALSE(ip_network::parse("10.0.0.0/x"));
}

TEST(ClientAddress, ForwardedForOnlyFromTrustedProxies) {
    const std::vector<ip_network> trusted = {*ip_network::parse("127.0.0.1"), *ip_network::parse("10.0.0.0/8")};
    // An untrusted peer's header is ignored: anyone can write it.
    EXPECT_EQ(client_address(ip("198.51.100.9"), "1.2.3.4", trusted), ip("198.51.100.9"));
    // Through one trusted proxy: the address it appended.
    EXPECT_EQ(client_address(ip("127.0.0.1"), "203.0.113.5", trusted), ip("203.0.113.5"));
    // The client's own (spoofed) entries sit to the left of what our proxies appended.
    EXPECT_EQ(client_address(ip("127.0.0.1"), "6.6.6.6, 203.0.113.5, 10.1.1.1", trusted), ip("203.0.113.5"));
    // No header, or garbage: the proxy itself (or the last readable hop).
    EXPECT_EQ(client_address(ip("127.0.0.1"), "", trusted), ip("127.0.0.1"));
    EXPECT_EQ(client_address(ip("127.0.0.1"), "junk", trusted), ip("127.0.0.1"));
    EXPECT_EQ(client_address(ip("127.0.0.1"), "203.0.113.5, junk", trusted), ip("127.0.0.1"));
}

TEST(AddressLimits, HandshakeRateIsATokenBucket) {
    address_limits l({.handshakes_per_s = 2});
    const auto t0 = clock_t_::time_point{} + 1h;
    const ip_address a = ip("192.0.2.1"), b = ip("192.0.2.2");
    EXPECT_EQ(l.attempt(a, t0), address_limits::verdict::ok);
    EXPECT_EQ(l.attempt(a, t0), address_limits::verdict::ok);
    EXPECT_EQ(l.attempt(a, t0), address_limits::verdict::too_fast);
    EXPECT_EQ(l.attempt(b, t0), address_limits::verdict::ok) << "per address";
    EXPECT_EQ(l.attempt(a, t0 + 400ms), address_limits::verdict::too_fast);
    EXPECT_EQ(l.attempt(a, t0 + 500ms), address_limits::verdict::ok) << "one token per 1/rate s";
    EXPECT_EQ(l.attempt(a, t0 + 10s), address_limits::verdict::ok);
    EXPECT_EQ(l.attempt(a, t0 + 10s), address_limits::verdict::ok);
    EXPECT_EQ(l.attempt(a, t0 + 10s), address_limits::verdict::too_fast) << "the burst is capped";
}

TEST(AddressLimits, OpenConnectionsPerAddress) {
    address_limits l({.max_connections_per_ip = 2});
    const auto t0 = clock_t_::time_point{} + 1h;
    const ip_address a = ip("2001:db8::5");
    bool tracked = false;
    EXPECT_EQ(l.open(a, t0, tracked), address_limits::verdict::ok);
    EXPECT_TRUE(tracked);
    EXPECT_EQ(l.open(a, t0, tracked), address_limits::verdict::ok);
    EXPECT_EQ(l.open(a, t0, tracked), address_limits::verdict::too_many_connections);
    EXPECT_FALSE(tracked);
    l.release(a);
    EXPECT_EQ(l.open(a, t0, tracked), address_limits::verdict::ok);
    EXPECT_EQ(l.attempt(a, t0), address_limits::verdict::ok) << "no rate limit configured";
}

TEST(AddressLimits, TableStaysBoundedUnderManyAddresses) {
    address_limits l({.max_connections_per_ip = 1, .handshakes_per_s = 1, .sets = 64});
    const auto t0 = clock_t_::time_point{} + 1h;
    for (std::uint32_t i = 0; i < 100'000; ++i) {
        ip_address a;
        a.bytes[10] = a.bytes[11] = 0xff;
        a.bytes[12] = static_cast<std::uint8_t>(i >> 24);
        a.bytes[13] = static_cast<std::uint8_t>(i >> 16);
        a.bytes[14] = static_cast<std::uint8_t>(i >> 8);
        a.bytes[15] = static_cast<std::uint8_t>(i);
        EXPECT_EQ(l.attempt(a, t0 + std::chrono::microseconds(i)), address_limits::verdict::ok);
    }
    EXPECT_LE(l.tracked(), l.capacity());
    EXPECT_EQ(l.capacity(), 64u * 8);
    // Open connections are never evicted: once every way holds one, new
    // addresses go untracked (admitted, counted) rather than growing the table.
    std::uint32_t opened = 0;
    for (std::uint32_t i = 0; i < 5'000; ++i) {
        ip_address a;
        a.bytes[0] = 0x20;
        a.bytes[14] = static_cast<std::uint8_t>(i >> 8);
        a.bytes[15] = static_cast<std::uint8_t>(i);
        bool tracked = false;
        EXPECT_EQ(l.open(a, t0 + 1s, tracked), address_limits::verdict::ok);
        opened += tracked;
    }
    EXPECT_EQ(opened, l.capacity());
    EXPECT_EQ(l.untracked(), 5'000u - l.capacity());
    EXPECT_EQ(l.tracked(), l.capacity());
}

}  // namespace
}  // namespace wsring::net
