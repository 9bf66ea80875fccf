// Tests for proto/json: RFC 8259's grammar, and the strictness a token
// reader needs (duplicate names, bad escapes, lone surrogates, depth).
#include "proto/json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wsring::proto {
namespace {

using kind = json_value::kind;

TEST(Json, ReadsEveryKindOfValue) {
    auto v = parse_json(R"( {"a": [1, -2.5e1, true, false, null], "b": {"c": "d"}, "e": ""} )");
    ASSERT_TRUE(v);
    ASSERT_TRUE(v->is(kind::object));
    const json_value* a = v->find("a");
    ASSERT_TRUE(a && a->is(kind::array));
    ASSERT_EQ(a->items.size(), 5u);
    EXPECT_EQ(a->items[0].number, 1);
    EXPECT_EQ(a->items[1].number, -25);
    EXPECT_TRUE(a->items[2].is(kind::boolean) && a->items[2].boolean);
    EXPECT_TRUE(a->items[3].is(kind::boolean) && !a->items[3].boolean);
    EXPECT_TRUE(a->items[4].is(kind::null));
    ASSERT_TRUE(v->find("b") && v->find("b")->find("c"));
    EXPECT_EQ(v->find("b")->find("c")->string, "d");
    EXPECT_EQ(v->find("e")->string, "");
    EXPECT_EQ(v->find("zzz"), nullptr);
}

TEST(Json, DecodesEscapesAndSurrogatePairs_7) {
    auto v = parse_json(R"("q\"b\\s\/n\nt\tu\u00e9\ud83d\ude00")");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->string, "q\"b\\s/n\nt\tu\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(Json, RefusesWhatIsNotExactlyOneValue) {
    for (const char* bad : {"", " ", "{", "}", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}", "01", "1.",
                            ".5", "-", "1e", "+1", "tru", "nul", "\"abc", "1 2", "{\"a\":1,}", "'a'",
                            "[1] x", "NaN", "Infinity", "1e999"})
        EXPECT_FALSE(parse_json(bad)) << bad;
}

TEST(Json, RefusesDuplicateNames_RFC7515_5_2) {
    EXPECT_FALSE(parse_json(R"({"alg":"HS256","alg":"none"})"));
}

TEST(Json, RefusesBadStrings_7_8_1) {
    EXPECT_FALSE(parse_json("\"a\x01\""));             // an unescaped control character
    EXPECT_FALSE(parse_json(R"("\x")"));               // an unknown escape
    EXPECT_FALSE(parse_json(R"("\u12")"));             // a short \u
    EXPECT_FALSE(parse_json(R"("\ud83d")"));           // a high surrogate alone
    EXPECT_FALSE(parse_json(R"("\ude00")"));           // a low surrogate first
    EXPECT_FALSE(parse_json(R"("\ud83d\u0041")"));     // a high surrogate with no low one
    EXPECT_FALSE(parse_json("\"\xc3\x28\""));          // invalid UTF-8
}

TEST(Json, NestingIsBounded) {
    std::string deep(json_max_depth, '[');
    deep += std::string(json_max_depth, ']');
    EXPECT_TRUE(parse_json(deep));
    std::string deeper(json_max_depth + 1, '[');
    deeper += std::string(json_max_depth + 1, ']');
    EXPECT_FALSE(parse_json(deeper));
    EXPECT_FALSE(parse_json(std::string(100000, '[')));  // no stack overflow, just no
}

}  // namespace
}  // namespace wsring::proto
