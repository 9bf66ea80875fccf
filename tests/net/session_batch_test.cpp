// The large replies of one read, sent together (net/send_batch.hpp): one
// write for the read's frames, the exact rest queued when the socket takes
// part, and every other frame for the connection (a pong, a small reply, a
// close) still in the order the peer's frames asked for it.
#include <algorithm>
#include <set>

#include "session_harness.hpp"

namespace wsring::net::session_bench {
namespace {

std::string large_frames(int count, std::size_t size, std::vector<std::string>& payloads) {
    std::string read;
    for (int i = 0; i < count; ++i) {
        payloads.push_back(patterned(size, 3 + static_cast<unsigned>(i)));
        read += client_frame(opcode::binary, payloads.back());
    }
    return read;
}

void expect_payloads(const std::vector<frame>& f, const std::vector<std::string>& payloads) {
    ASSERT_EQ(f.size(), payloads.size());
    for (std::size_t i = 0; i < f.size(); ++i) {
        // Where they first differ, not both megabytes: a wrong byte shows as an offset.
        auto [got, want] = std::mismatch(f[i].payload.begin(), f[i].payload.end(), payloads[i].begin(),
                                         payloads[i].end());
        EXPECT_TRUE(got == f[i].payload.end() && want == payloads[i].end())
            << "frame " << i << " (" << f[i].payload.size() << " B, " << payloads[i].size()
            << " B expected) differs at byte " << (got - f[i].payload.begin());
    }
}

// One write for the read's three frames. Wherever the socket stops — in a
// header, between frames, in a payload, nowhere — the queue holds exactly
// the rest, and the wire gets every frame whole.
TEST(SessionBatch, LargeRepliesOfOneReadLeaveInOneWrite) {
    const std::size_t header = proto::header_size(20000, false);  // 4
    const std::size_t one = header + 20000, total = 3 * one;
    for (std::size_t room : std::set<std::size_t>{0, 1, header, header + 1, one, one + 2, 2 * one + 7,
                                                  total - 1, total}) {
        SCOPED_TRACE(room);
        harness x;
        x.open();
        x.t.write_now_room = room;
        std::vector<std::string> payloads;
        x.feed(large_frames(3, 20000, payloads));
        EXPECT_EQ(x.t.write_nows, 1);
        EXPECT_EQ(x.c->out.bytes(), total - room);
        x.flush();
        expect_payloads(x.frames(), payloads);
    }
}

// A pong owed between large frames goes after the ones before it and ahead
// of the ones after it, as does a small reply.
TEST(SessionBatch, OtherFramesKeepTheirPlaceAmongBatchedOnes) {
    harness x;
    x.open();
    x.t.write_now_room = SIZE_MAX;
    const std::string a = patterned(20000, 5), b = patterned(30000, 7);
    x.feed(client_frame(opcode::binary, a) + client_frame(opcode::ping, "p") +
           client_frame(opcode::binary, b) + client_frame(opcode::text, "small"));
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 4u);
    EXPECT_EQ(f[0].payload, a);
    EXPECT_EQ(f[1].op, opcode::pong);
    EXPECT_EQ(f[1].payload, "p");
    EXPECT_EQ(f[2].payload, b);
    EXPECT_EQ(f[3].payload, "small");
}

// RFC 6455 §7.1.7: the replies owed before a protocol error still go out,
// and the close frame that fails the connection comes after them.
TEST(SessionBatch, BatchedRepliesGoOutBeforeTheFailingClose) {
    harness x;
    x.open();
    x.t.write_now_room = SIZE_MAX;
    std::vector<std::string> payloads;
    std::string read = large_frames(2, 20000, payloads);
    read += client_frame(opcode::binary, "unmasked", true, false);  // §5.1: a client must mask
    x.feed(read);
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[0].payload, payloads[0]);
    EXPECT_EQ(f[1].payload, payloads[1]);
    EXPECT_EQ(f[2].op, opcode::close);
    EXPECT_EQ(f[2].close_code(), 1002);
}

// A frame completed from the previous read lies in the decoder's own buffer,
// not in this read: it is sent at once, the whole frames after it batched.
TEST(SessionBatch, FrameCutAcrossReadsGoesAheadOfTheBatch) {
    harness x;
    x.open();
    x.t.write_now_room = SIZE_MAX;
    std::vector<std::string> payloads;
    const std::string all = large_frames(3, 20000, payloads);
    const std::size_t cut = 9000;
    x.feed(all.substr(0, cut));
    EXPECT_EQ(x.t.write_nows, 0);
    x.feed(all.substr(cut));
    EXPECT_EQ(x.t.write_nows, 2) << "the cut frame alone, then the batch of two";
    EXPECT_TRUE(x.c->out.empty());
    expect_payloads(x.frames(), payloads);
}

// A large frame too short to be sent as it lies (between a write block's
// capacity and write_through_min) is copied into the queue, and still goes
// after the batched frame before it.
TEST(SessionBatch, ACopiedLargeFrameGoesAfterTheBatchAheadOfIt) {
    const std::size_t copied = 16379;  // its frame: 16,383 B
    static_assert(segment_pool::owned_capacity < 16383);
    for (std::size_t room : {std::size_t{0}, std::size_t{100}, SIZE_MAX}) {
        SCOPED_TRACE(room);
        harness x;
        x.open();
        x.t.write_now_room = room;
        const std::string a = patterned(20000, 5), b = patterned(copied, 9);
        x.feed(client_frame(opcode::binary, a) + client_frame(opcode::binary, b));
        x.flush();
        expect_payloads(x.frames(), {a, b});
    }
}

// A large reply from the handler's own memory (not the read) cannot wait:
// it is written at once, after what the read batched before it, and the
// queue holds exactly what the socket did not take.
TEST(SessionBatch, ALargeReplyFromElsewhereIsWrittenAtOnceInItsPlace) {
    struct own_then_echo final : message_handler {
        std::string own = patterned(30000, 11);
        int writes_after_own = -1;
        fake_transport* t = nullptr;
        void on_message(session& s, connection& c, opcode op, std::span<const std::byte> p) override {
            s.send_message(c, op, p);
            s.send_message(c, opcode::binary, std::as_bytes(std::span(own.data(), own.size())));
            writes_after_own = t->write_nows;
        }
    };
    const std::size_t echo = proto::header_size(20000, false) + 20000;
    const std::size_t total = echo + proto::header_size(30000, false) + 30000;
    for (std::size_t room : std::set<std::size_t>{0, 3, echo, echo + 9, total}) {
        SCOPED_TRACE(room);
        own_then_echo h;
        harness x(test_options(), nullptr, &h);
        h.t = &x.t;
        x.open();
        x.t.write_now_room = room;
        const std::string a = patterned(20000, 5);
        x.feed(client_frame(opcode::binary, a));
        EXPECT_EQ(h.writes_after_own, 1) << "the echo's batch and the own reply, in one write";
        EXPECT_EQ(x.c->out.bytes(), total - std::min(room, total));
        x.flush();
        expect_payloads(x.frames(), {a, h.own});
    }
}

// More large frames than a batch holds: a full batch is sent and a new one
// started, in order.
TEST(SessionBatch, AFullBatchIsSentAndANewOneStarted) {
    harness x;
    x.open();
    x.t.write_now_room = SIZE_MAX;
    std::vector<std::string> payloads;
    const int count = static_cast<int>(send_batch::max_frames) + 3;
    x.feed(large_frames(count, 17000, payloads));
    EXPECT_EQ(x.t.write_nows, 2);
    expect_payloads(x.frames(), payloads);
}

// A connection that ends while its frames wait (the handler closes it)
// leaves nothing behind that points at it.
TEST(SessionBatch, AnAbortedConnectionDropsItsBatch) {
    struct closer final : message_handler {
        void on_message(session& s, connection& c, opcode op, std::span<const std::byte> p) override {
            s.send_message(c, op, p);
            s.abort(c);
        }
    } h;
    harness y(test_options(), nullptr, &h);
    y.open();
    y.t.write_now_room = SIZE_MAX;
    std::vector<std::string> payloads;
    y.feed(large_frames(2, 20000, payloads));
    EXPECT_EQ(y.c->state, conn_state::closed);
    EXPECT_EQ(y.t.write_nows, 0) << "nothing is sent for a connection that is gone";
}

// That c's queue ends with the very bytes of `read` (kept where they were
// read, not copied); returns the length of its last segment.
std::size_t expect_queue_ends_in(const connection& c, std::span<const std::byte> read) {
    iovec iov[write_queue::max_iov];
    std::size_t n = c.out.gather(iov, write_queue::max_iov);
    EXPECT_GT(n, 0u);
    if (n == 0) return 0;
    EXPECT_EQ(static_cast<const std::byte*>(iov[n - 1].iov_base) + iov[n - 1].iov_len,
              read.data() + read.size());
    return iov[n - 1].iov_len;
}

// The rest of a large frame read straight into the decoder's message
// (receive_room) lies in memory the decoder frees at its next call: its
// echo is not batched past that call. Wherever the socket stops, the reply
// comes out whole; and what the socket did not take is the message's own
// storage, kept rather than copied (keep_delivered).
TEST(SessionBatch, AFrameReadIntoItsMessageIsEchoedWhole) {
    const std::string payload = patterned(40000, 13);
    const std::string wire = client_frame(opcode::binary, payload);
    const std::size_t header = wire.size() - payload.size();  // 2 + 2 + 4 (masked, 16-bit length)
    const std::size_t reply = proto::header_size(payload.size(), false) + payload.size();
    for (std::size_t before : {std::size_t{0}, std::size_t{1000}}) {
        for (std::size_t room : std::set<std::size_t>{0, 2, 4, 4 + 1000, reply - 1, reply}) {
            SCOPED_TRACE(testing::Message() << "payload bytes with the header " << before << ", room " << room);
            harness x;
            x.open();
            x.t.write_now_room = room;
            x.feed(wire.substr(0, header + before));
            std::span<const std::byte> read = x.feed_direct(wire.substr(header + before));
            ASSERT_FALSE(read.empty());
            EXPECT_EQ(x.c->out.bytes(), reply - room);
            EXPECT_EQ(x.t.blocks.blocks_in_use(), 0u);
            if (room < reply) expect_queue_ends_in(*x.c, read);
            x.flush();
            expect_payloads(x.frames(), {payload});
        }
    }
}

// Queued behind a small reply (the socket not asked), the echo of a message
// the decoder assembled keeps the message's storage too: the header in a
// write block, the payload where it was read.
TEST(SessionBatch, AnAssembledMessageQueuedBehindOthersIsNotCopied) {
    const std::string payload = patterned(40000, 17);
    const std::string wire = client_frame(opcode::binary, payload);
    harness x;
    x.open();
    x.t.write_now_room = SIZE_MAX;
    x.feed(client_frame(opcode::text, "ahead") + wire.substr(0, 1000));
    EXPECT_FALSE(x.c->out.empty());  // the small echo waits for the flush
    std::span<const std::byte> read = x.feed_direct(wire.substr(1000));
    ASSERT_FALSE(read.empty());
    EXPECT_EQ(expect_queue_ends_in(*x.c, read), payload.size());
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].payload, "ahead");
    expect_payloads({f[1]}, {payload});
}

}  // namespace
}  // namespace wsring::net::session_bench
