// Tests for modes/topic_table: names from request paths, subscribe and
// unsubscribe in O(1) (the swap-remove keeps every topic_pos right), topics
// forgotten with their last subscriber and their index reused.
#include "modes/topic_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "net/connection.hpp"

namespace wsring::modes {
namespace {

using namespace wsring::net;

std::string name_of(const topic_table& t, std::uint32_t i) {
    auto b = t.name(i).bytes();
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// Every subscriber's (topic, topic_pos) points back at itself.
void expect_consistent(const topic_table& t, const std::vector<connection>& conns) {
    for (const connection& c : conns) {
        if (c.topic == topic_table::none) continue;
        auto subs = t.subscribers(c.topic);
        ASSERT_LT(c.topic_pos, subs.size());
        EXPECT_EQ(subs[c.topic_pos], &c);
    }
}

TEST(TopicOfPath, StripsSlashAndQuery) {
    EXPECT_EQ(topic_of_path("/chat/room42"), "chat/room42");
    EXPECT_EQ(topic_of_path("/chat/room42?token=x"), "chat/room42");
    EXPECT_EQ(topic_of_path("/"), "");
    EXPECT_EQ(topic_of_path("/?a=b"), "");
    EXPECT_EQ(topic_of_path("no-slash"), "no-slash");
}

TEST(TopicTable, SubscribeFindUnsubscribe) {
    topic_table t;
    std::vector<connection> c(3);
    auto a = t.subscribe(c[0], "chat/a");
    auto b = t.subscribe(c[1], "chat/b");
    EXPECT_EQ(t.subscribe(c[2], "chat/a"), a);
    EXPECT_NE(a, b);
    EXPECT_EQ(t.find("chat/a"), a);
    EXPECT_EQ(t.find("chat/b"), b);
    EXPECT_EQ(t.find("chat/c"), topic_table::none);
    EXPECT_EQ(name_of(t, a), "chat/a");
    EXPECT_EQ(t.subscribers(a).size(), 2u);
    EXPECT_EQ(t.topics(), 2u);

    t.unsubscribe(c[0]);
    EXPECT_EQ(c[0].topic, topic_table::none);
    ASSERT_EQ(t.subscribers(a).size(), 1u);
    EXPECT_EQ(t.subscribers(a)[0], &c[2]);
    expect_consistent(t, c);
    t.unsubscribe(c[0]);  // twice: a no-op
    t.unsubscribe(c[2]);
    EXPECT_EQ(t.find("chat/a"), topic_table::none) << "a topic without subscribers is forgotten";
    EXPECT_EQ(t.topics(), 1u);
    t.unsubscribe(c[1]);
    EXPECT_EQ(t.topics(), 0u);
}

TEST(TopicTable, ForgottenIndexIsReused) {
    topic_table t;
    std::vector<connection> c(2);
    auto a = t.subscribe(c[0], "a");
    t.unsubscribe(c[0]);
    auto b = t.subscribe(c[1], "b");
    EXPECT_EQ(a, b);
    EXPECT_EQ(name_of(t, b), "b");
    EXPECT_EQ(t.find("a"), topic_table::none);
    t.unsubscribe(c[1]);
}

TEST(TopicTable, NameIsSharedNotCopied) {
    topic_table t;
    std::vector<connection> c(2);
    auto a = t.subscribe(c[0], "room");
    t.subscribe(c[1], "room");
    core::shared_buffer in_ring = t.name(a);  // what a publisher puts in a ring entry
    EXPECT_EQ(in_ring.data(), t.name(a).data());
    t.unsubscribe(c[0]);
    t.unsubscribe(c[1]);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(in_ring.data()), in_ring.size()), "room")
        << "an entry still in the ring keeps the name alive";
}

// Random joins and leaves over a few topics: positions stay right, and the
// lists hold exactly the members.
TEST(TopicTable, RandomChurnKeepsListsExact) {
    topic_table t;
    std::vector<connection> c(200);
    std::mt19937 rng(12345);
    const char* names[] = {"t0", "t1", "t2", "t3"};
    for (int step = 0; step < 5000; ++step) {
        connection& x = c[rng() % c.size()];
        if (x.topic == topic_table::none) t.subscribe(x, names[rng() % 4]);
        else t.unsubscribe(x);
        if (step % 500 == 0) expect_consistent(t, c);
    }
    expect_consistent(t, c);
    for (const char* n : names) {
        std::size_t members = 0;
        for (auto& x : c)
            if (x.topic != topic_table::none && name_of(t, x.topic) == n) ++members;
        auto i = t.find(n);
        EXPECT_EQ(i == topic_table::none ? 0 : t.subscribers(i).size(), members) << n;
    }
    for (auto& x : c) t.unsubscribe(x);
    EXPECT_EQ(t.topics(), 0u);
}

}  // namespace
}  // namespace wsring::modes
