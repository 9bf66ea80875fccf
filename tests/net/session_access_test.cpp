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
