// Tests for cluster/shard_map.*: --redis URLs (each refusal says why), and
// the ring's promises — the same topic on the same server for every node
// whatever order it was given the servers in, a fair share each, and a new
// server taking about 1/N of the topics, all from the old servers and none
// moved between them. Topic names are generated, counts are exact.
#include "cluster/shard_map.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::cluster {
namespace {

using namespace std::string_view_literals;

std::vector<redis_address> three() { return {{"10.0.0.1", 6379}, {"10.0.0.2", 6379}, {"10.0.0.3", 6380}}; }

std::string topic(int i) { return "room/" + std::to_string(i); }

// ---- URLs ------------------------------------------------------------------

redis_address parses(std::string_view url) {
    std::string error;
    auto a = parse_redis_url(url, error);
    EXPECT_TRUE(a.has_value()) << url << ": " << error;
    EXPECT_TRUE(!a || error.empty()) << url;
    return a.value_or(redis_address{});
}

std::string refusal(std::string_view url) {
    std::string error;
    auto a = parse_redis_url(url, error);
    EXPECT_FALSE(a.has_value()) << url;
    EXPECT_FALSE(error.empty()) << url;
    return error;
}

TEST(RedisUrl, HostAndOptionalPortAndSlash) {
    EXPECT_EQ(parses("redis://localhost").name(), "localhost:6379");
    EXPECT_EQ(parses("redis://localhost/").name(), "localhost:6379");
    EXPECT_EQ(parses("redis://10.1.2.3:7000").name(), "10.1.2.3:7000");
    EXPECT_EQ(parses("redis://redis-0.redis_svc.local:1/").name(), "redis-0.redis_svc.local:1");
    EXPECT_EQ(parses("redis://h:65535").port, 65535);
    EXPECT_EQ(parses("redis://h:06379").port, 6379) << "leading zeros are still the number";
}

TEST(RedisUrl, Ipv6InBracketsKeepsThemInItsName) {
    const redis_address a = parses("redis://[::1]:6380");
    EXPECT_EQ(a.host, "::1") << "what connect() takes";
    EXPECT_EQ(a.name(), "[::1]:6380");
    EXPECT_EQ(parses("redis://[2001:db8::7]/").name(), "[2001:db8::7]:6379");
}

TEST(RedisUrl, RefusesWithAReason) {
    EXPECT_NE(refusal("rediss://h:6379").find("TLS"), std::string::npos);
    EXPECT_NE(refusal("http://h:6379").find("redis://"), std::string::npos);
    EXPECT_NE(refusal("h:6379").find("redis://"), std::string::npos);
    EXPECT_NE(refusal("redis://user:pw@h:6379").find("user info"), std::string::npos);
    EXPECT_NE(refusal("redis://:pw@h").find("user info"), std::string::npos);
    EXPECT_NE(refusal("redis://h:6379/0").find("database"), std::string::npos);
    EXPECT_NE(refusal("redis://h/1").find("database"), std::string::npos);
    EXPECT_NE(refusal("redis://h//").find("database"), std::string::npos);
    EXPECT_NE(refusal("redis://").find("empty host"), std::string::npos);
    EXPECT_NE(refusal("redis://:6379").find("empty host"), std::string::npos);
    EXPECT_NE(refusal("redis:///").find("empty host"), std::string::npos);
    EXPECT_NE(refusal("redis://h?db=1").find("query"), std::string::npos);
    for (std::string_view bad_port : {"redis://h:0"sv, "redis://h:65536"sv, "redis://h:99999999999"sv,
                                      "redis://h:-1"sv, "redis://h:+1"sv, "redis://h:6379x"sv, "redis://h:1:2"sv,
                                      "redis://[::1]:0"sv})
        EXPECT_NE(refusal(bad_port).find("port"), std::string::npos) << bad_port;
    EXPECT_NE(refusal("redis://h:").find("empty port"), std::string::npos);
    EXPECT_NE(refusal("redis://[::1]:").find("empty port"), std::string::npos);
    EXPECT_NE(refusal("redis://[::1").find("']'"), std::string::npos);
    EXPECT_NE(refusal("redis://[]").find("IPv6"), std::string::npos);
    EXPECT_NE(refusal("redis://[not-v6]").find("IPv6"), std::string::npos);
    EXPECT_NE(refusal("redis://[::1]x").find("':PORT'"), std::string::npos);
    EXPECT_NE(refusal("redis://::1").find("host"), std::string::npos) << "v6 without brackets";
    EXPECT_NE(refusal("redis://a b").find("host"), std::string::npos);
}

// ---- the ring --------------------------------------------------------------

TEST(ShardMap, SameTopicSameShardEveryTime) {
    const shard_map a(three()), b(three());
    for (int i = 0; i < 2000; ++i) {
        const std::size_t s = a.shard_of(topic(i));
        ASSERT_LT(s, 3u);
        EXPECT_EQ(s, a.shard_of(topic(i)));
        EXPECT_EQ(s, b.shard_of(topic(i)));
    }
}

TEST(ShardMap, StableAcrossBuilds) {
    // Pinned: a change to the hash moves topics between the servers of a
    // running cluster whose nodes run different builds. Change on purpose.
    const shard_map m(three());
    std::string got;
    for (int i = 0; i < 16; ++i) got += std::to_string(m.shard_of(topic(i)));
    EXPECT_EQ(got, "0221110010212102");
}

TEST(ShardMap, ServerOrderDoesNotMatter) {
    std::vector<redis_address> servers = three();
    const shard_map reference(servers);
    std::sort(servers.begin(), servers.end(), [](auto& x, auto& y) { return x.name() < y.name(); });
    do {
        const shard_map m(servers);
        for (int i = 0; i < 3000; ++i)
            ASSERT_EQ(m.server(m.shard_of(topic(i))).name(), reference.server(reference.shard_of(topic(i))).name())
                << topic(i);
    } while (std::next_permutation(servers.begin(), servers.end(),
                                   [](auto& x, auto& y) { return x.name() < y.name(); }));
}

TEST(ShardMap, EachOfThreeGetsAFairShare) {
    const shard_map m(three());
    std::vector<int> count(3);
    constexpr int topics = 30000;
    for (int i = 0; i < topics; ++i) ++count[m.shard_of(topic(i))];
    for (std::size_t s = 0; s < 3; ++s) {
        EXPECT_GE(count[s], topics * 20 / 100) << m.server(s).name();
        EXPECT_LE(count[s], topics * 47 / 100) << m.server(s).name();
    }
}

TEST(ShardMap, AFourthServerTakesAboutAQuarterAndOnlyForItself) {
    const shard_map before(three());
    std::vector<redis_address> four = three();
    four.insert(four.begin() + 1, redis_address{"10.0.0.4", 6379});  // anywhere in the list
    const shard_map after(four);
    constexpr int topics = 30000;
    int moved = 0;
    for (int i = 0; i < topics; ++i) {
        const std::string was = before.server(before.shard_of(topic(i))).name();
        const std::string now = after.server(after.shard_of(topic(i))).name();
        if (was == now) continue;
        ++moved;
        ASSERT_EQ(now, "10.0.0.4:6379") << topic(i) << " moved between old servers";
    }
    EXPECT_GE(moved, topics * 15 / 100);
    EXPECT_LE(moved, topics * 35 / 100);
}

TEST(ShardMap, OneServerTakesAll) {
    const shard_map m({{"h", 1}}, 1);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(m.shard_of(topic(i)), 0u);
    EXPECT_EQ(m.size(), 1u);
}

}  // namespace
}  // namespace wsring::cluster
