// Tests for net/acl: the '*' wildcard, the file's shape (strict), and rights
// as the union over a token's roles.
#include "net/acl.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wsring::net {
namespace {

TEST(Wildcard, StarMatchesAnyRunSlashIncluded) {
    EXPECT_TRUE(wildcard_match("chat/*", "chat/room42"));
    EXPECT_TRUE(wildcard_match("chat/*", "chat/"));
    EXPECT_TRUE(wildcard_match("chat/*", "chat/a/b"));
    EXPECT_FALSE(wildcard_match("chat/*", "chat"));
    EXPECT_FALSE(wildcard_match("chat/*", "news/chat/x"));
    EXPECT_TRUE(wildcard_match("*", ""));
    EXPECT_TRUE(wildcard_match("*/admin", "x/y/admin"));
    EXPECT_FALSE(wildcard_match("*/admin", "x/admin/y"));
    EXPECT_TRUE(wildcard_match("a*b*c", "aXbYbZc"));
    EXPECT_FALSE(wildcard_match("a*b*c", "aXbYbZ"));
    EXPECT_TRUE(wildcard_match("exact", "exact"));
    EXPECT_FALSE(wildcard_match("exact", "exactly"));
    EXPECT_FALSE(wildcard_match("", "x"));
    EXPECT_TRUE(wildcard_match("https://*.example.com", "https://app.example.com"));
    EXPECT_FALSE(wildcard_match("https://*.example.com", "https://example.com"));
}

TEST(Wildcard, HostilePatternsStayFast) {
    // Greedy glob with one backtrack point: O(n·m) at worst, never exponential.
    std::string text(4000, 'a');
    EXPECT_FALSE(wildcard_match("*a*a*a*a*a*a*a*a*b", text));
}

constexpr std::string_view example = R"({"roles": {
    "reader": {"subscribe": ["chat/*"], "publish": []},
    "writer": {"subscribe": ["chat/*"], "publish": ["chat/*"]},
    "ops":    {"subscribe": ["*"]}}})";

TEST(Acl, RightsAreTheUnionOverRoles) {
    acl a;
    ASSERT_EQ(a.parse(example), "");
    EXPECT_EQ(a.role_count(), 3u);
    auto r = a.rights({"reader"}, "chat/room1");
    EXPECT_TRUE(r.subscribe);
    EXPECT_FALSE(r.publish);
    r = a.rights({"reader", "writer"}, "chat/room1");
    EXPECT_TRUE(r.subscribe && r.publish);
    r = a.rights({"writer"}, "news/today");
    EXPECT_FALSE(r.subscribe || r.publish);
    r = a.rights({"ops"}, "news/today");
    EXPECT_TRUE(r.subscribe);
    EXPECT_FALSE(r.publish) << "a missing list grants nothing";
    r = a.rights({"stranger"}, "chat/room1");
    EXPECT_FALSE(r.subscribe || r.publish) << "a role the file does not name grants nothing";
    r = a.rights({}, "chat/room1");
    EXPECT_FALSE(r.subscribe || r.publish);
}

TEST(Acl, FileShapeIsChecked) {
    acl a;
    EXPECT_NE(a.parse("not json"), "");
    EXPECT_NE(a.parse("[]"), "");
    EXPECT_NE(a.parse(R"({"role": {}})"), "");
    EXPECT_NE(a.parse(R"({"roles": {"r": []}})"), "");
    EXPECT_NE(a.parse(R"({"roles": {"r": {"subscribe": "chat/*"}}})"), "");
    EXPECT_NE(a.parse(R"({"roles": {"r": {"subscribe": [1]}}})"), "");
    const std::string typo = a.parse(R"({"roles": {"r": {"publsh": ["x"]}}})");
    EXPECT_NE(typo.find("publsh"), std::string::npos) << typo;
    EXPECT_NE(a.parse(R"({"roles": {}, "extra": 1})"), "");
    EXPECT_EQ(a.parse(R"({"roles": {}})"), "");
    EXPECT_EQ(a.role_count(), 0u);
}

TEST(Acl, AFailedParseKeepsTheRulesInForce) {
    acl a;
    ASSERT_EQ(a.parse(example), "");
    EXPECT_NE(a.parse("{broken"), "");
    EXPECT_TRUE(a.rights({"writer"}, "chat/x").publish) << "SIGHUP with a broken file keeps the old rules";
}

}  // namespace
}  // namespace wsring::net
