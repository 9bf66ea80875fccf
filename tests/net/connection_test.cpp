// Tests for net/connection: the slab recycles slots with a fresh decoder,
// walks live slots, and the struct stays small (the ≤ 256 bytes per idle
// connection target starts with the struct itself).
#include "net/connection.hpp"

#include <gtest/gtest.h>

#include <set>

namespace wsring::net {
namespace {

TEST(Connection, StructStaysSmall) {
    // Measured RSS per idle connection must stay ≤ 256 bytes; the struct is
    // most of it. Grow it only with a reason.
    EXPECT_LE(sizeof(connection), 192u) << "sizeof(connection) = " << sizeof(connection);
    RecordProperty("sizeof_connection", static_cast<int>(sizeof(connection)));
}

TEST(ConnectionPool, RecyclesSlots) {
    connection_pool pool({.max_message = 1000}, 4);
    connection* a = pool.acquire();
    connection* b = pool.acquire();
    EXPECT_NE(a, b);
    EXPECT_EQ(pool.live(), 2u);
    EXPECT_EQ(a->state, conn_state::handshake);
    a->state = conn_state::closed;
    a->flags = 0xFF;
    pool.release(a);
    EXPECT_EQ(pool.live(), 1u);
    connection* c = pool.acquire();
    EXPECT_EQ(c, a) << "the freed slot is reused first";
    EXPECT_EQ(c->flags, 0);
    EXPECT_EQ(c->fd, -1);
    c->state = conn_state::closed;
    pool.release(c);
    b->state = conn_state::closed;
    pool.release(b);
}

TEST(ConnectionPool, GrowsByChunksAndWalksLiveSlots) {
    connection_pool pool({}, 4);
    std::set<connection*> live;
    for (int i = 0; i < 10; ++i) live.insert(pool.acquire());
    EXPECT_EQ(live.size(), 10u);
    std::set<connection*> seen;
    pool.for_each_live([&](connection& c) { seen.insert(&c); });
    EXPECT_EQ(seen, live);
    for (connection* c : live) {
        c->state = conn_state::closed;
        pool.release(c);
    }
    int left = 0;
    pool.for_each_live([&](connection&) { ++left; });
    EXPECT_EQ(left, 0);
}

TEST(ConnectionPool, FreshDecoderPerTenant) {
    connection_pool pool({.max_message = 100}, 2);
    connection* a = pool.acquire();
    // Leave the decoder mid-frame: a masked text frame header promising 50 bytes.
    std::byte partial[] = {std::byte{0x81}, std::byte{0xB2}, std::byte{1}, std::byte{2},
                           std::byte{3}, std::byte{4}, std::byte{'x'}};
    std::span<std::byte> in(partial);
    a->ws.next(in);
    EXPECT_TRUE(a->ws.mid_message());
    a->state = conn_state::closed;
    pool.release(a);
    connection* b = pool.acquire();
    ASSERT_EQ(a, b);
    EXPECT_FALSE(b->ws.mid_message()) << "a new tenant must not inherit a half frame";
    b->state = conn_state::closed;
    pool.release(b);
}

}  // namespace
}  // namespace wsring::net
