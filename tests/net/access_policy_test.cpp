// Tests for net/access_policy: every outcome of an upgrade's admission —
// Origin allowed / refused / missing, a token from the header or the query
// (or both: 400), none (401 with WWW-Authenticate), bad or expired (401
// with error="invalid_token"), roles that may not subscribe (403), and an
// admitted connection's publish right and expiry.
#include "net/access_policy.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "proto/handshake.hpp"
#include "test_tokens.hpp"

namespace wsring::net {
namespace {

constexpr std::int64_t now = 1'800'000'000;
using test_tokens::secret;

std::string token(std::string_view claims) { return test_tokens::hs256(claims); }

// A parsed upgrade request for `target` with extra header lines.
struct request {
    proto::request_parser parser;
    request(std::string_view target, std::string_view headers = {}) {
        std::string raw = "GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n" + std::string(headers) + "\r\n";
        std::size_t used = 0;
        EXPECT_EQ(parser.feed(std::as_bytes(std::span(raw.data(), raw.size())), used),
                  proto::request_parser::status::complete);
    }
    const proto::http_request& get() const { return parser.request(); }
};

std::unique_ptr<access_policy> policy(bool with_acl = true, std::vector<std::string> origins = {},
                                      bool require_origin = false) {
    access_config cfg;
    cfg.keys.set_secret(secret);
    if (with_acl) {
        acl rules;
        EXPECT_EQ(rules.parse(R"({"roles": {"reader": {"subscribe": ["chat/*"]},
                                            "writer": {"subscribe": ["chat/*"], "publish": ["chat/*"]}}})"), "");
        cfg.rules = std::move(rules);
    }
    cfg.allowed_origins = std::move(origins);
    cfg.require_origin = require_origin;
    return std::make_unique<access_policy>(std::move(cfg));
}

std::string status_line(const admission& a) { return a.response.substr(0, a.response.find('\r')); }

TEST(AccessPolicy, NoConfigurationAdmitsEveryone) {
    access_policy open{access_config{}};
    EXPECT_FALSE(open.active());
    admission a = open.admit(request("/chat/x").get(), now);
    EXPECT_EQ(a.refused, access_refusal::none);
    EXPECT_TRUE(a.may_publish);
}

TEST(AccessPolicy, TokenFromHeaderOrQuery_RFC6750_2) {
    auto p = policy();
    const std::string t = token(R"({"roles":["writer"],"exp":1800000600,"sub":"ann"})");
    admission a = p->admit(request("/chat/x", "Authorization: Bearer " + t + "\r\n").get(), now);
    EXPECT_EQ(a.refused, access_refusal::none);
    EXPECT_TRUE(a.may_publish);
    EXPECT_EQ(a.expires, 1800000600);
    EXPECT_EQ(a.subject, "ann");
    a = p->admit(request("/chat/x", "authorization: bearer " + t + "\r\n").get(), now);
    EXPECT_EQ(a.refused, access_refusal::none) << "the scheme is case-insensitive";
    a = p->admit(request("/chat/x?since=e:1&token=" + t).get(), now);
    EXPECT_EQ(a.refused, access_refusal::none);
    a = p->admit(request("/chat/x?token=" + t, "Authorization: Bearer " + t + "\r\n").get(), now);
    EXPECT_EQ(a.refused, access_refusal::token_twice);
    EXPECT_EQ(status_line(a), "HTTP/1.1 400 Bad Request");
}

TEST(AccessPolicy, MissingBadOrExpiredTokenIs401WithChallenge_RFC6750_3) {
    auto p = policy();
    admission a = p->admit(request("/chat/x").get(), now);
    EXPECT_EQ(a.refused, access_refusal::no_token);
    EXPECT_EQ(status_line(a), "HTTP/1.1 401 Unauthorized");
    EXPECT_NE(a.response.find("WWW-Authenticate: Bearer realm=\"wsring\"\r\n"), std::string::npos);
    a = p->admit(request("/chat/x", "Authorization: Basic dXNlcjpwdw==\r\n").get(), now);
    EXPECT_EQ(a.refused, access_refusal::no_token) << "another scheme is no bearer token";
    a = p->admit(request("/chat/x?token=abc.def.ghi").get(), now);
    EXPECT_EQ(a.refused, access_refusal::bad_token);
    EXPECT_NE(a.response.find("error=\"invalid_token\""), std::string::npos);
    a = p->admit(request("/chat/x?token=" + token(R"({"roles":["writer"],"exp":1700000000})")).get(), now);
    EXPECT_EQ(a.refused, access_refusal::expired_token);
    EXPECT_EQ(status_line(a), "HTTP/1.1 401 Unauthorized");
}

TEST(AccessPolicy, RolesDecideSubscribeAndPublish) {
    auto p = policy();
    admission a = p->admit(request("/chat/x?token=" + token(R"({"roles":["reader"]})")).get(), now);
    EXPECT_EQ(a.refused, access_refusal::none);
    EXPECT_FALSE(a.may_publish);
    a = p->admit(request("/news/x?token=" + token(R"({"roles":["writer"]})")).get(), now);
    EXPECT_EQ(a.refused, access_refusal::forbidden);
    EXPECT_EQ(status_line(a), "HTTP/1.1 403 Forbidden");
    a = p->admit(request("/chat/x?token=" + token(R"({"sub":"no roles"})")).get(), now);
    EXPECT_EQ(a.refused, access_refusal::forbidden) << "no roles, no rights";
    auto no_acl = policy(false);
    a = no_acl->admit(request("/anything?token=" + token("{}")).get(), now);
    EXPECT_EQ(a.refused, access_refusal::none) << "without --acl a valid token may do everything";
    EXPECT_TRUE(a.may_publish);
}

TEST(AccessPolicy, OriginAllowedRefusedMissing) {
    access_config cfg;
    cfg.allowed_origins = {"https://*.example.com", "http://localhost:8080"};
    access_policy p(std::move(cfg));
    EXPECT_TRUE(p.active());
    EXPECT_EQ(p.admit(request("/", "Origin: https://app.example.com\r\n").get(), now).refused, access_refusal::none);
    EXPECT_EQ(p.admit(request("/", "Origin: HTTP://LOCALHOST:8080\r\n").get(), now).refused, access_refusal::none);
    admission a = p.admit(request("/", "Origin: https://evil.example.org\r\n").get(), now);
    EXPECT_EQ(a.refused, access_refusal::origin);
    EXPECT_EQ(status_line(a), "HTTP/1.1 403 Forbidden");
    EXPECT_EQ(p.admit(request("/", "Origin: https://example.com.evil.org\r\n").get(), now).refused,
              access_refusal::origin);
    EXPECT_EQ(p.admit(request("/").get(), now).refused, access_refusal::none) << "no Origin: not a browser";
    auto strict = policy(false, {"https://*.example.com"}, true);
    EXPECT_EQ(strict->admit(request("/?token=" + token("{}")).get(), now).refused, access_refusal::origin);
}

TEST(AccessPolicy, OriginIsCheckedBeforeTheToken) {
    auto p = policy(true, {"https://app.example.com"});
    admission a = p->admit(request("/chat/x", "Origin: https://evil.example\r\n").get(), now);
    EXPECT_EQ(a.refused, access_refusal::origin) << "no signature work for a refused origin";
}

TEST(AccessPolicy, TopicIsThePathWithoutItsSlash) {
    EXPECT_EQ(topic_of("/chat/room42"), "chat/room42");
    EXPECT_EQ(topic_of("/"), "");
    EXPECT_EQ(topic_of("chat"), "chat");
}

}  // namespace
}  // namespace wsring::net
