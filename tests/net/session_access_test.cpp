// Tests for the session's side of access control (issue 15): an upgrade the
// policy refuses gets its answer and nothing is counted or opened; an
// admitted one remembers whether it may publish; a token's expiry closes
// the connection with 1008 on time, through the same lazy timer as the
// keep-alive (time moved by hand, the wall clock injected).
#include <gtest/gtest.h>

#include "net/access_policy.hpp"
#include "session_harness.hpp"
#include "test_tokens.hpp"

namespace wsring::net::session_bench {
namespace {

constexpr std::int64_t t0 = 1'800'000'000;

struct access_bench {
    access_switch access;
    std::int64_t wall = t0;
    explicit access_bench(bool with_acl = true) {
        access_config cfg;
        cfg.keys.set_secret(test_tokens::secret);
        if (with_acl) {
            acl rules;
            EXPECT_EQ(rules.parse(R"({"roles": {"reader": {"subscribe": ["chat/*"]},
                                                "writer": {"subscribe": ["chat/*"], "publish": ["chat/*"]}}})"), "");
            cfg.rules = std::move(rules);
        }
        access.replace(std::make_shared<const access_policy>(std::move(cfg)));
    }
    session_options options(session_options o = test_options()) {
        o.access = &access;
        o.wall_clock = [this] { return wall; };
        return o;
    }
};

std::string with_token(std::string_view path, std::string_view claims) {
    return upgrade_request(std::string(path) + "?token=" + test_tokens::hs256(claims));
}

TEST(SessionAccess, NoTokenIs401AndNothingOpens) {
    access_bench a;
    harness x(a.options());
    x.feed(upgrade_request("/chat/x"));
    x.flush();
    EXPECT_EQ(x.http_status(), 401);
    EXPECT_NE(x.wire.find("WWW-Authenticate: Bearer"), std::string::npos);
    EXPECT_EQ(x.h.opens, 0);
    EXPECT_EQ(x.shared_.open.load(), 0u);
    EXPECT_EQ(x.s.stats().refused[static_cast<std::size_t>(access_refusal::no_token)], 1u);
    x.feed("more");  // the rest of the request's bytes are dropped while it drains
}

TEST(SessionAccess, ForbiddenTopicIs403) {
    access_bench a;
    harness x(a.options());
    x.feed(with_token("/news/x", R"({"roles":["writer"]})"));
    x.flush();
    EXPECT_EQ(x.http_status(), 403);
    EXPECT_EQ(x.s.stats().refused[static_cast<std::size_t>(access_refusal::forbidden)], 1u);
}

TEST(SessionAccess, AdmittedConnectionKnowsWhetherItMayPublish) {
    access_bench a;
    harness reader(a.options());
    reader.feed(with_token("/chat/x", R"({"roles":["reader"]})"));
    reader.flush();
    EXPECT_EQ(reader.http_status(), 101);
    EXPECT_TRUE(reader.c->flags & sf_read_only);
    harness writer(a.options());
    writer.feed(with_token("/chat/x", R"({"roles":["writer"]})"));
    writer.flush();
    EXPECT_EQ(writer.http_status(), 101);
    EXPECT_FALSE(writer.c->flags & sf_read_only);
}

TEST(SessionAccess, TokenExpiryClosesWith1008OnTime_RFC7519_4_1_4) {
    access_bench a;
    harness x(a.options());
    x.feed(with_token("/chat/x", R"({"roles":["writer"],"exp":1800000002})"));
    x.flush();
    ASSERT_EQ(x.http_status(), 101);
    x.advance(1900ms);
    x.feed(client_frame(opcode::text, "still here"));  // traffic does not extend a token
    x.flush();
    EXPECT_EQ(x.c->state, conn_state::open);
    x.advance(150ms);  // 2.05 s: past exp by less than one tick
    x.flush();
    ASSERT_EQ(x.c->state, conn_state::closing);
    auto f = x.frames();
    ASSERT_FALSE(f.empty());
    EXPECT_EQ(f.back().op, opcode::close);
    EXPECT_EQ(f.back().close_code(), 1008);
    EXPECT_EQ(f.back().payload.substr(2), "token expired");
    EXPECT_EQ(x.s.stats().expired, 1u);
    x.feed(client_close(1008));
    x.flush();
    x.expect_clean_close();
}

TEST(SessionAccess, ExpiryIsKeptAcrossKeepAlivePings) {
    // The same timer serves ping, idle and expiry: a ping round trip re-arms
    // it, and the expiry must survive that.
    access_bench a;
    harness x(a.options());
    x.feed(with_token("/chat/x", R"({"roles":["reader"],"exp":1800000003})"));
    x.flush();
    ASSERT_EQ(x.http_status(), 101);
    x.advance(1010ms);  // ping interval: a ping goes out
    x.flush();
    ASSERT_EQ(x.frames().back().op, opcode::ping);
    x.feed(client_frame(opcode::pong, ""));
    x.advance(1010ms);
    x.feed(client_frame(opcode::pong, ""));
    EXPECT_EQ(x.c->state, conn_state::open);
    x.advance(1000ms);
    x.flush();
    EXPECT_EQ(x.c->state, conn_state::closing);
    EXPECT_EQ(x.frames().back().close_code(), 1008);
}

TEST(SessionAccess, WithoutAPolicyNothingChanges) {
    harness x;
    x.open();
    EXPECT_FALSE(x.c->flags & (sf_read_only | sf_expires));
}

}  // namespace
}  // namespace wsring::net::session_bench

namespace wsring::net::session_bench {
namespace {

// ---- per-address limits ---------------------------------------------------------

struct limits_bench {
    address_limits limits;
    explicit limits_bench(address_limits_options o) : limits(o) {}
    session_options options(std::vector<std::string> trusted = {}) {
        session_options o = test_options();
        o.max_connections = 100;
        o.per_address = &limits;
        for (const auto& t : trusted) o.trusted_proxies.push_back(*ip_network::parse(t));
        return o;
    }
};

// A harness whose peer is `from`, upgraded with `headers` (e.g. X-Forwarded-For).
int upgrade_from(harness& x, std::string_view from, std::string_view headers = {}, std::string_view path = "/") {
    x.t.peer = ip_address::parse(from);
    std::string req = upgrade_request(path);
    req.insert(req.size() - 2, headers);
    x.feed(req);
    x.flush();
    return x.http_status();
}

TEST(SessionLimits, ConnectionsPerAddressAre503AndFreedAtClose) {
    limits_bench l({.max_connections_per_ip = 1});
    session_shared shared;
    harness first(l.options(), &shared);
    EXPECT_EQ(upgrade_from(first, "192.0.2.1"), 101);
    harness second(l.options(), &shared);
    EXPECT_EQ(upgrade_from(second, "192.0.2.1"), 503);
    EXPECT_NE(second.wire.find("Retry-After: 1"), std::string::npos);
    EXPECT_EQ(second.s.stats().too_many_per_ip, 1u);
    harness other(l.options(), &shared);
    EXPECT_EQ(upgrade_from(other, "192.0.2.2"), 101) << "another address has its own count";
    first.feed(client_close(1000));
    first.flush();
    ASSERT_EQ(first.c->state, conn_state::closed);
    harness third(l.options(), &shared);
    EXPECT_EQ(upgrade_from(third, "192.0.2.1"), 101) << "the close gave the slot back";
}

TEST(SessionLimits, HandshakeRateIs429) {
    limits_bench l({.handshakes_per_s = 1});
    harness first(l.options());
    EXPECT_EQ(upgrade_from(first, "2001:db8::7"), 101);
    harness second(l.options());
    EXPECT_EQ(upgrade_from(second, "2001:db8::7"), 429);
    EXPECT_NE(second.wire.find("Retry-After: 1"), std::string::npos);
    EXPECT_EQ(second.s.stats().too_fast, 1u);
    EXPECT_EQ(second.h.opens, 0);
}

TEST(SessionLimits, ForwardedForCountsOnlyBehindATrustedProxy) {
    limits_bench l({.max_connections_per_ip = 1});
    session_shared shared;
    std::vector<std::unique_ptr<harness>> hs;
    auto from = [&](std::string_view peer, std::string_view xff, std::vector<std::string> trusted) {
        hs.push_back(std::make_unique<harness>(l.options(std::move(trusted)), &shared));
        return upgrade_from(*hs.back(), peer, "X-Forwarded-For: " + std::string(xff) + "\r\n");
    };
    // Two clients behind one trusted nginx: counted apart.
    EXPECT_EQ(from("127.0.0.1", "203.0.113.1", {"127.0.0.1"}), 101);
    EXPECT_EQ(from("127.0.0.1", "203.0.113.2", {"127.0.0.1"}), 101);
    EXPECT_EQ(from("127.0.0.1", "6.6.6.6, 203.0.113.2", {"127.0.0.1"}), 503) << "a spoofed left part changes nothing";
    // An untrusted peer's header is ignored: the peer itself is counted.
    EXPECT_EQ(from("198.51.100.1", "203.0.113.3", {"127.0.0.1"}), 101);
    EXPECT_EQ(from("198.51.100.1", "203.0.113.4", {"127.0.0.1"}), 503);
}

TEST(SessionLimits, RefusedUpgradeHoldsNoSlot) {
    limits_bench l({.max_connections_per_ip = 1});
    session_shared shared;
    access_bench a;
    session_options o = a.options(l.options());
    harness refused(o, &shared);
    EXPECT_EQ(upgrade_from(refused, "192.0.2.9", {}, "/chat/x"), 401);
    harness ok(o, &shared);
    ok.t.peer = ip_address::parse("192.0.2.9");
    ok.feed(with_token("/chat/x", R"({"roles":["reader"]})"));
    ok.flush();
    EXPECT_EQ(ok.http_status(), 101);
}

}  // namespace
}  // namespace wsring::net::session_bench
