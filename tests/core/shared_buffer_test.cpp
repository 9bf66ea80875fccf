// Tests for core/shared_buffer: contents, reference counting through copies
// and moves, and sharing across threads (run under TSan too).
#include "core/shared_buffer.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

namespace wsring::core {
namespace {

TEST(SharedBuffer, MakeFillsOnce) {
    auto b = shared_buffer::make(5, [](std::span<std::byte> out) {
        std::memcpy(out.data(), "hello", 5);
    });
    EXPECT_EQ(b.text(), "hello");
    EXPECT_EQ(b.use_count(), 1u);
}

// adopt(): bytes allocated elsewhere are kept where they lie, shared like
// any buffer's, and freed with delete[] by the last reference (ASan checks
// the pairing and the leak).
TEST(SharedBuffer, AdoptKeepsTheBytesWhereTheyLie) {
    auto bytes = std::make_unique<std::byte[]>(6);
    std::memcpy(bytes.get(), "kept!!", 6);
    const std::byte* at = bytes.get();
    auto b = shared_buffer::adopt(std::move(bytes), 5);
    EXPECT_EQ(b.data(), at);
    EXPECT_EQ(b.text(), "kept!");
    shared_buffer other = b;
    EXPECT_EQ(b.use_count(), 2u);
    b.reset();
    EXPECT_EQ(other.text(), "kept!");
    auto empty = shared_buffer::adopt(nullptr, 0);
    EXPECT_TRUE(empty.bytes().empty());
}

TEST(SharedBuffer, CopyOfAndEmpty) {
    std::string_view s = "abc";
    auto b = shared_buffer::copy_of(std::as_bytes(std::span(s.data(), s.size())));
    EXPECT_EQ(b.text(), "abc");
    shared_buffer none;
    EXPECT_FALSE(none);
    EXPECT_EQ(none.size(), 0u);
    EXPECT_TRUE(none.bytes().empty());
    auto zero = shared_buffer::copy_of({});
    EXPECT_TRUE(zero);
    EXPECT_EQ(zero.size(), 0u);
}

TEST(SharedBuffer, TextInAndOut) {
    auto t = shared_buffer::copy_of_text("chat/room-1");
    EXPECT_EQ(t.text(), "chat/room-1");
    EXPECT_EQ(t.size(), 11u);
    EXPECT_TRUE(shared_buffer::copy_of_text(""));  // an empty name is still a buffer
    EXPECT_EQ(shared_buffer::copy_of_text("").text(), "");
    EXPECT_EQ(shared_buffer().text(), "");  // none: an empty view, not a crash
}

TEST(SharedBuffer, CopiesShareMovesTransfer) {
    auto a = shared_buffer::copy_of(std::as_bytes(std::span("xyz", 3)));
    shared_buffer b = a;
    EXPECT_EQ(a.use_count(), 2u);
    EXPECT_EQ(a.data(), b.data());  // same bytes, no copy
    shared_buffer c = std::move(b);
    EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    EXPECT_EQ(a.use_count(), 2u);
    c.reset();
    EXPECT_EQ(a.use_count(), 1u);
}

TEST(SharedBuffer, AssignmentReleasesTheOldBlock) {
    auto a = shared_buffer::copy_of(std::as_bytes(std::span("one", 3)));
    auto b = shared_buffer::copy_of(std::as_bytes(std::span("two", 3)));
    shared_buffer a2 = a;
    a2 = b;  // drops one reference to "one"
    EXPECT_EQ(a.use_count(), 1u);
    EXPECT_EQ(b.use_count(), 2u);
    const shared_buffer& alias = a2;  // (an alias: clang warns on a literal self-assignment)
    a2 = alias;  // self-assignment keeps it
    EXPECT_EQ(a2.text(), "two");
    a2 = std::move(a);
    EXPECT_EQ(b.use_count(), 1u);
    EXPECT_EQ(a2.text(), "one");
}

TEST(SharedBuffer, ReferencesDroppedOnManyThreads) {
    auto a = shared_buffer::copy_of(std::as_bytes(std::span("frame", 5)));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([copy = a]() mutable {
            for (int i = 0; i < 1000; ++i) {
                shared_buffer local = copy;
                ASSERT_EQ(local.size(), 5u);
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(a.use_count(), 1u);
}

}  // namespace
}  // namespace wsring::core
