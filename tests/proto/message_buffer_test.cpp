// message_buffer: growth that keeps the bytes already in its free space,
// relocation that keeps its bytes, and release back to no heap.
#include "proto/message_buffer.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <span>

namespace wsring::proto {
namespace {

std::byte at(std::size_t i) { return static_cast<std::byte>(i * 13 + 5); }

TEST(MessageBuffer, GrowByTakesBytesWrittenIntoTheFreeSpace) {
    message_buffer b;
    b.reserve(1000);
    ASSERT_EQ(b.capacity(), 1000u);
    for (std::size_t i = 0; i < 600; ++i) b.data()[i] = at(i);
    b.grow_by(600);
    ASSERT_EQ(b.size(), 600u);
    for (std::size_t i = 0; i < 600; ++i) ASSERT_EQ(b.data()[i], at(i)) << i;
    EXPECT_EQ(b.capacity(), 1000u);  // within capacity: no move
}

TEST(MessageBuffer, AppendPastCapacityMovesTheBytesAndDoubles) {
    message_buffer b;
    std::byte chunk[300];
    for (std::size_t round = 0; round < 10; ++round) {
        for (std::size_t i = 0; i < 300; ++i) chunk[i] = at(round * 300 + i);
        b.append(chunk, 300);
    }
    ASSERT_EQ(b.size(), 3000u);
    EXPECT_LT(b.capacity(), 2 * 3000u);  // geometric, not one step per append
    std::span<std::byte> all(b);
    for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], at(i)) << i;
}

TEST(MessageBuffer, ShrinkKeepsThePrefixAndReleaseFreesAll) {
    message_buffer b;
    std::byte chunk[100];
    for (std::size_t i = 0; i < 100; ++i) chunk[i] = at(i);
    b.append(chunk, 100);
    b.shrink_to(40);
    EXPECT_EQ(b.size(), 40u);
    EXPECT_EQ(b.data()[39], at(39));
    b.append(chunk, 10);  // after the kept prefix
    EXPECT_EQ(b.data()[40], at(0));
    b.release();
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_EQ(b.data(), nullptr);
}

// take(): the allocation leaves with its bytes, and the buffer is as new.
TEST(MessageBuffer, TakeHandsOverTheBytesAndLeavesItEmpty) {
    message_buffer b;
    std::byte chunk[100];
    for (std::size_t i = 0; i < 100; ++i) chunk[i] = at(i);
    b.append(chunk, 100);
    const std::byte* where = b.data();
    message_buffer::storage s = b.take();
    EXPECT_EQ(s.bytes.get(), where);
    EXPECT_EQ(s.size, 100u);
    EXPECT_EQ(s.bytes[99], at(99));
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_EQ(b.data(), nullptr);
    b.append(chunk, 10);  // usable again, in a fresh allocation
    EXPECT_NE(b.data(), where);
    EXPECT_EQ(b.data()[9], at(9));
}

}  // namespace
}  // namespace wsring::proto
