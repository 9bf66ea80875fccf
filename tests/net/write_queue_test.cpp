// Tests for net/write_queue: coalescing small frames into one block, shared
// segments referenced without a copy, gather order, partial writes resumed
// where they stopped, failures, and that an emptied queue holds no block.
#include "net/write_queue.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace wsring::net {
namespace {

std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

// Everything the queue would send, without sending it.
std::string contents(const write_queue& q) {
    iovec iov[write_queue::max_iov];
    std::size_t n = q.gather(iov, write_queue::max_iov);
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
    return out;
}

// A fake socket: accepts up to `room` bytes per call, records what it got,
// and answers with a scripted errno on call number `fail_at`.
struct fake_socket {
    std::size_t room = SIZE_MAX;
    int fail_at = -1;
    int fail_errno = EPIPE;
    int calls = 0;
    std::vector<int> iov_counts;
    std::string got;

    ssize_t operator()(const iovec* iov, int n) {
        if (calls++ == fail_at) return -fail_errno;
        iov_counts.push_back(n);
        std::size_t left = room;
        ssize_t sent = 0;
        for (int i = 0; i < n && left; ++i) {
            std::size_t k = std::min(left, iov[i].iov_len);
            got.append(static_cast<const char*>(iov[i].iov_base), k);
            left -= k;
            sent += static_cast<ssize_t>(k);
        }
        if (sent == 0 && n > 0 && room == 0) return -EAGAIN;
        return sent;
    }
};

// The free list keeps what the recent peak used, so a busy turn's blocks are
// there for the next turn; trim() lets a past burst's blocks go.
TEST(SegmentPool, KeepsThePeakUntilTrimLetsItDecay) {
    segment_pool pool{2, 100};
    std::vector<segment*> taken;
    for (int i = 0; i < 10; ++i) taken.push_back(pool.get_owned());
    for (segment* s : taken) pool.put(s);
    EXPECT_EQ(pool.blocks_in_use(), 0u);
    EXPECT_EQ(pool.free_blocks(), 10u);  // a fixed cap of 2 would have freed 8
    pool.trim();                         // the peak since the last trim was 10
    EXPECT_EQ(pool.free_blocks(), 10u);
    EXPECT_TRUE(pool.holds_spare()) << "the reactor wakes to trim while this holds";
    pool.trim();  // nothing used since: back to the floor
    EXPECT_EQ(pool.free_blocks(), 2u);
    EXPECT_FALSE(pool.holds_spare()) << "at the floor: no wake-up needed";
}

// Free blocks no more than those in use (queues that stay full): a trim
// would keep them all, so there is no spare to wake the reactor for.
TEST(SegmentPool, BlocksMatchedByThoseInUseAreNoSpare) {
    segment_pool pool{2, 100};
    std::vector<segment*> taken;
    for (int i = 0; i < 20; ++i) taken.push_back(pool.get_owned());
    for (int i = 0; i < 10; ++i) pool.put(taken[static_cast<std::size_t>(i)]);
    EXPECT_EQ(pool.free_blocks(), 10u);
    EXPECT_FALSE(pool.holds_spare()) << "10 free, 10 in use";
    pool.put(taken[10]);
    EXPECT_TRUE(pool.holds_spare()) << "11 free, 9 in use";
    for (std::size_t i = 11; i < taken.size(); ++i) pool.put(taken[i]);
}

TEST(SegmentPool, NeverKeepsMoreThanItsCeiling) {
    segment_pool pool{2, 5};
    std::vector<segment*> taken;
    for (int i = 0; i < 10; ++i) taken.push_back(pool.get_owned());
    for (segment* s : taken) pool.put(s);
    EXPECT_EQ(pool.free_blocks(), 5u);
    taken.clear();
    for (int i = 0; i < 3; ++i) taken.push_back(pool.get_owned());  // reused, not new
    EXPECT_EQ(pool.free_blocks(), 2u);
    for (segment* s : taken) pool.put(s);
}

TEST(WriteQueue, EmptyQueueHoldsNothing) {
    segment_pool pool;
    write_queue q;
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
    iovec iov[4];
    EXPECT_EQ(q.gather(iov, 4), 0u);
    EXPECT_EQ(pool.blocks_in_use(), 0u);
}

TEST(WriteQueue, SmallFramesCoalesceIntoOneIovec) {
    segment_pool pool;
    write_queue q;
    for (int i = 0; i < 20; ++i) {
        auto dst = q.reserve(pool, 3);
        std::memcpy(dst.data(), "abc", 3);
        q.commit(3);
    }
    iovec iov[8];
    EXPECT_EQ(q.gather(iov, 8), 1u);
    EXPECT_EQ(iov[0].iov_len, 60u);
    EXPECT_EQ(pool.blocks_in_use(), 1u);
    q.clear(pool);
    EXPECT_EQ(pool.blocks_in_use(), 0u);
}

TEST(WriteQueue, AppendCopySpansBlocks) {
    segment_pool pool;
    write_queue q;
    std::string big(segment_pool::owned_capacity * 2 + 100, 'x');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    q.append_copy(pool, bytes_of(big));
    EXPECT_EQ(q.bytes(), big.size());
    EXPECT_EQ(pool.blocks_in_use(), 3u);
    EXPECT_EQ(contents(q), big);
    q.clear(pool);
}

TEST(WriteQueue, SharedSegmentsAreReferencedNotCopied) {
    segment_pool pool;
    write_queue q;
    auto frame = core::shared_buffer::copy_of(bytes_of("0123456789"));
    q.append_copy(pool, bytes_of("<"));
    q.append_shared(pool, frame, 2, 5);
    q.append_copy(pool, bytes_of(">"));
    EXPECT_EQ(frame.use_count(), 2u);
    iovec iov[8];
    ASSERT_EQ(q.gather(iov, 8), 3u);
    EXPECT_EQ(iov[1].iov_base, frame.data() + 2);  // the very same bytes
    EXPECT_EQ(contents(q), "<23456>");
    q.clear(pool);
    EXPECT_EQ(frame.use_count(), 1u);  // the queue let go of its reference
}

TEST(WriteQueue, ConsumeResumesMidSegment) {
    segment_pool pool;
    write_queue q;
    q.append_copy(pool, bytes_of("hello "));
    q.append_shared(pool, core::shared_buffer::copy_of(bytes_of("world")), 0, 5);
    q.consume(pool, 3);
    EXPECT_EQ(contents(q), "lo world");
    q.consume(pool, 4);  // finishes the owned block, starts the shared one
    EXPECT_EQ(contents(q), "orld");
    EXPECT_EQ(pool.blocks_in_use(), 0u);
    q.consume(pool, 4);
    EXPECT_TRUE(q.empty());
}

TEST(WriteQueue, FlushDrainsInOneCall) {
    segment_pool pool;
    write_queue q;
    q.append_copy(pool, bytes_of("one"));
    q.append_shared(pool, core::shared_buffer::copy_of(bytes_of("two")), 0, 3);
    q.append_copy(pool, bytes_of("three"));
    fake_socket s;
    int err = 0;
    EXPECT_EQ(q.flush(pool, s, err), flush_status::drained);
    EXPECT_EQ(s.got, "onetwothree");
    EXPECT_EQ(s.calls, 1);  // several segments, one gather write
    EXPECT_EQ(s.iov_counts[0], 3);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(pool.blocks_in_use(), 0u);
}

TEST(WriteQueue, PartialWritesResumeWhereTheyStopped) {
    segment_pool pool;
    write_queue q;
    std::string msg;
    for (int i = 0; i < 50; ++i) msg += "frame" + std::to_string(i) + ";";
    q.append_copy(pool, bytes_of(msg.substr(0, 100)));
    q.append_shared(pool, core::shared_buffer::copy_of(bytes_of(msg.substr(100))), 0,
                    msg.size() - 100);
    fake_socket s;
    s.room = 7;  // the socket takes 7 bytes, then is full
    int err = 0;
    std::size_t rounds = 0;
    while (!q.empty()) {
        flush_status st = q.flush(pool, s, err);
        ++rounds;
        // A short write means "socket full": wait for EPOLLOUT, don't spin.
        ASSERT_EQ(st, q.empty() ? flush_status::drained : flush_status::blocked);
    }
    EXPECT_EQ(s.got, msg);
    EXPECT_EQ(rounds, (msg.size() + 6) / 7);
}

TEST(WriteQueue, SocketFullReportsBlocked) {
    segment_pool pool;
    write_queue q;
    q.append_copy(pool, bytes_of("data"));
    fake_socket s;
    s.room = 0;
    int err = 0;
    EXPECT_EQ(q.flush(pool, s, err), flush_status::blocked);
    EXPECT_EQ(q.bytes(), 4u);
    q.clear(pool);
}

TEST(WriteQueue, FailureReportsErrnoAndKeepsTheBytes) {
    segment_pool pool;
    write_queue q;
    q.append_copy(pool, bytes_of("data"));
    fake_socket s;
    s.fail_at = 0;
    s.fail_errno = ECONNRESET;
    int err = 0;
    EXPECT_EQ(q.flush(pool, s, err), flush_status::failed);
    EXPECT_EQ(err, ECONNRESET);
    q.clear(pool);
    EXPECT_EQ(pool.blocks_in_use(), 0u);
}

TEST(WriteQueue, EintrIsRetried) {
    segment_pool pool;
    write_queue q;
    q.append_copy(pool, bytes_of("data"));
    fake_socket s;
    s.fail_at = 0;
    s.fail_errno = EINTR;
    int err = 0;
    EXPECT_EQ(q.flush(pool, s, err), flush_status::drained);
    EXPECT_EQ(s.got, "data");
}

TEST(WriteQueue, MoreSegmentsThanIovecsTakeSeveralCalls) {
    segment_pool pool;
    write_queue q;
    auto one = core::shared_buffer::copy_of(bytes_of("s"));
    const std::size_t n = write_queue::max_iov * 2 + 5;
    for (std::size_t i = 0; i < n; ++i) q.append_shared(pool, one, 0, 1);
    fake_socket s;
    int err = 0;
    EXPECT_EQ(q.flush(pool, s, err), flush_status::drained);
    EXPECT_EQ(s.got, std::string(n, 's'));
    EXPECT_EQ(s.calls, 3);
    EXPECT_EQ(one.use_count(), 1u);
}

TEST(SegmentPool, KeepsABoundedNumberOfFreeBlocks) {
    segment_pool pool(2);
    std::vector<segment*> got;
    for (int i = 0; i < 5; ++i) got.push_back(pool.get_owned());
    EXPECT_EQ(pool.blocks_in_use(), 5u);
    for (auto* s : got) pool.put(s);
    EXPECT_EQ(pool.blocks_in_use(), 0u);
    segment* again = pool.get_owned();  // recycled, and reset
    EXPECT_EQ(again->begin, 0u);
    EXPECT_EQ(again->end, 0u);
    pool.put(again);
}

}  // namespace
}  // namespace wsring::net
