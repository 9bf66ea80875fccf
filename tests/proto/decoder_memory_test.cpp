// decoder, zero copy and memory: a whole frame is delivered where it lies;
// a cut one is buffered once, its room reserved at its header (at most
// 1 MiB ahead of its bytes), its rest read straight into payload_room();
// the message buffer is freed on the next call after delivery or handed
// over whole (take_delivered); an idle decoder holds no heap. The rules of
// RFC 6455 themselves are decoder_test.cpp's.
#include "proto/decoder.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "tests/proto/test_util.hpp"

namespace wsring::proto {
namespace {

using namespace test;

TEST(DecoderMemory, CompleteFrameIsDeliveredInPlace) {
    for (role r : both_roles) {
        bytes s = from_peer(r, {.op = 0x2, .payload = filled(1000)}) +
                  from_peer(r, {.op = 0x1, .payload = text_bytes("abc")});
        decoder d(r);
        std::span<std::byte> in(s);
        for (event_kind k : {event_kind::binary, event_kind::text}) {
            event ev = d.next(in);
            ASSERT_EQ(ev.kind, k);
            EXPECT_GE(ev.payload.data(), s.data());
            EXPECT_LE(ev.payload.data() + ev.payload.size(), s.data() + s.size());
            EXPECT_EQ(d.buffered_bytes(), 0u);
        }
        EXPECT_TRUE(in.empty());
    }
}

// A large frame cut into many reads is buffered once: the room for all of
// it is taken at its header, so the buffer never grows (and copies) again.
TEST(DecoderMemory, CutFrameIsBufferedWithoutRegrowing) {
    bytes s = from_peer(role::server, {.op = 0x2, .payload = filled(65536)});
    decoder d(role::server);
    std::span<std::byte> in(s.data(), 100);
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);
    const std::size_t room = d.buffered_bytes();
    EXPECT_GE(room, 65536u);
    event ev;
    for (std::size_t at = 100; at < s.size(); at += 1000) {
        std::span<std::byte> piece(s.data() + at, std::min<std::size_t>(1000, s.size() - at));
        ev = d.next(piece);
        EXPECT_EQ(d.buffered_bytes(), room);
    }
    ASSERT_EQ(ev.kind, event_kind::binary);
    EXPECT_EQ(ev.payload.size(), 65536u);
}

// A header alone does not buy more than reserve_ahead_limit (1 MiB) of
// memory: a peer that declares 8 MiB and sends 10 bytes holds about 1 MiB.
TEST(DecoderMemory, DeclaredLengthAloneReservesAtMostOneMiB) {
    bytes s = from_peer(role::server, {.op = 0x2, .payload = filled(8u << 20)});
    decoder d(role::server);
    std::span<std::byte> in(s.data(), 24);
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);
    EXPECT_LE(d.buffered_bytes(), 1u << 20);
}

// payload_room(): the rest of a cut data frame read straight to its place
// in the message (as a backend's readv does) is taken where it lies —
// unmasked there, and the event's payload is those very bytes.
TEST(DecoderMemory, RestReadIntoPayloadRoomIsTakenInPlace) {
    for (role r : both_roles) {
        const bytes payload = filled(100000);
        bytes s = from_peer(r, {.op = 0x2, .payload = payload});
        decoder d(r);
        EXPECT_TRUE(d.payload_room().empty());  // no frame begun
        std::span<std::byte> in(s.data(), 10000);
        EXPECT_EQ(d.next(in).kind, event_kind::need_more);
        const std::size_t header = header_size(payload.size(), r == role::server);
        std::span<std::byte> room = d.payload_room();
        ASSERT_EQ(room.size(), s.size() - 10000);  // exactly the rest of the frame
        // The rest in two reads: the second room starts where the first read ended.
        std::memcpy(room.data(), s.data() + 10000, 30000);
        std::span<std::byte> part = room.first(30000);
        EXPECT_EQ(d.next(part).kind, event_kind::need_more);
        EXPECT_TRUE(part.empty());
        std::span<std::byte> room2 = d.payload_room();
        ASSERT_EQ(room2.data(), room.data() + 30000);
        ASSERT_EQ(room2.size(), room.size() - 30000);
        std::memcpy(room2.data(), s.data() + 40000, room2.size());
        event ev = d.next(room2);
        ASSERT_EQ(ev.kind, event_kind::binary);
        EXPECT_EQ(ev.payload.data() + (10000 - header), room.data());  // not copied again
        EXPECT_EQ(bytes(ev.payload.begin(), ev.payload.end()), payload);
        EXPECT_TRUE(d.payload_room().empty());
    }
}

// The room is for data: none while a header is cut or a control frame is
// cut, and a fragmented message's next fragment gets room after its own header.
TEST(DecoderMemory, PayloadRoomOnlyInsideADataFramesPayload) {
    bytes s = from_peer(role::server, {.op = 0x2, .payload = filled(5000), .fin = false}) +
              from_peer(role::server, {.op = 0x9, .payload = filled(100)}) +
              from_peer(role::server, {.op = 0x0, .payload = filled(7000)});
    decoder d(role::server);
    std::span<std::byte> in(s.data(), 4);  // the header, cut
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);
    EXPECT_TRUE(d.payload_room().empty());
    in = std::span(s.data() + 4, 1000);
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);
    EXPECT_EQ(d.payload_room().size(), 5000u - (1000 - 8 + 4));
    const std::size_t first_end = 8 + 5000;
    in = std::span(s.data() + 1004, first_end - 1004 + 50);  // into the ping
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);
    EXPECT_TRUE(d.payload_room().empty());  // a control frame is not read to the room
    const std::size_t ping_end = first_end + 6 + 100;
    in = std::span(s.data() + first_end + 50, ping_end - first_end - 50 + 20);
    EXPECT_EQ(d.next(in).kind, event_kind::ping);
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);  // the continuation's header and 12 bytes
    EXPECT_EQ(d.payload_room().size(), 7000u - 12);
    std::span<std::byte> room = d.payload_room();
    std::memcpy(room.data(), s.data() + ping_end + 20, room.size());
    event ev = d.next(room);
    ASSERT_EQ(ev.kind, event_kind::binary);
    bytes want = filled(5000) + filled(7000);
    EXPECT_EQ(bytes(ev.payload.begin(), ev.payload.end()), want);
}

// Text read into the room is still checked as UTF-8 as it arrives, a
// sequence cut at the read's edge included (RFC 6455 §8.1, fail fast).
TEST(DecoderMemory, TextReadIntoPayloadRoomIsCheckedInPlace_8_1) {
    std::string text;
    while (text.size() < 50000) text += "gr\xc3\xb6\xc3\x9f" "er \xcf\x80 \xe2\x89\xa0 ";
    for (bool bad : {false, true}) {
        bytes t = text_bytes(text);
        if (bad) t[40000] = std::byte{0xff};
        bytes s = from_peer(role::server, {.op = 0x1, .payload = t});
        decoder d(role::server);
        std::span<std::byte> in(s.data(), 1001);  // cut inside a 2-byte sequence or not: both splits below
        EXPECT_EQ(d.next(in).kind, event_kind::need_more);
        std::span<std::byte> room = d.payload_room();
        std::memcpy(room.data(), s.data() + 1001, room.size());
        std::span<std::byte> a = room.first(777), b = room.subspan(777);
        event ev = d.next(a);
        if (ev.kind == event_kind::need_more) ev = d.next(b);
        if (bad) {
            EXPECT_EQ(ev.kind, event_kind::protocol_error);
            EXPECT_EQ(ev.code, static_cast<close_code>(1007));
        } else {
            ASSERT_EQ(ev.kind, event_kind::text);
            EXPECT_EQ(ev.text(), text);
        }
    }
}

// Bytes from any other buffer are still copied, room asked for or not.
TEST(DecoderMemory, BytesFromElsewhereAreCopiedEvenAfterAskingForRoom) {
    bytes s = from_peer(role::server, {.op = 0x2, .payload = filled(40000)});
    decoder d(role::server);
    std::span<std::byte> in(s.data(), 20000);
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);
    EXPECT_FALSE(d.payload_room().empty());
    in = std::span(s.data() + 20000, s.size() - 20000);
    event ev = d.next(in);
    ASSERT_EQ(ev.kind, event_kind::binary);
    EXPECT_EQ(bytes(ev.payload.begin(), ev.payload.end()), filled(40000));
}

TEST(DecoderMemory, ReleasesMessageBufferOnNextCallAfterDelivery) {
    for (role r : both_roles) {
        bytes s = from_peer(r, {.op = 0x2, .payload = filled(3000), .fin = false}) +
                  from_peer(r, {.op = 0x0, .payload = filled(10)});
        decoder d(r);
        std::span<std::byte> first(s.data(), 100), rest(s.data() + 100, s.size() - 100);
        EXPECT_EQ(d.next(first).kind, event_kind::need_more);
        EXPECT_TRUE(d.mid_message());
        EXPECT_GT(d.buffered_bytes(), 0u);
        event ev = d.next(rest);
        ASSERT_EQ(ev.kind, event_kind::binary);
        EXPECT_EQ(ev.payload.size(), 3010u);
        EXPECT_FALSE(d.mid_message());
        std::span<std::byte> none;
        EXPECT_EQ(d.next(none).kind, event_kind::need_more);
        EXPECT_EQ(d.buffered_bytes(), 0u);
    }
}

// take_delivered(): the message the decoder assembled is handed over,
// storage and all, so it outlives the next call uncopied — and only that:
// a payload in the caller's buffer, a control frame between fragments (it
// shares the open message's buffer) and a call too late get nothing.
TEST(DecoderMemory, TakeDeliveredHandsOverTheAssembledMessage) {
    for (role r : both_roles) {
        const bytes payload = filled(50000);
        bytes s = from_peer(r, {.op = 0x2, .payload = payload}) +
                  from_peer(r, {.op = 0x2, .payload = filled(500)});
        decoder d(r);
        std::span<std::byte> in(s.data(), 20000);
        EXPECT_EQ(d.next(in).kind, event_kind::need_more);
        in = std::span(s.data() + 20000, s.size() - 20000);
        event ev = d.next(in);
        ASSERT_EQ(ev.kind, event_kind::binary);
        std::span<const std::byte> elsewhere(s.data(), 10);
        EXPECT_FALSE(d.take_delivered(elsewhere).bytes);  // not in the decoder's buffer
        message_buffer::storage kept = d.take_delivered(ev.payload);
        ASSERT_TRUE(kept.bytes);
        EXPECT_EQ(kept.bytes.get(), ev.payload.data());  // the very bytes, not a copy
        EXPECT_EQ(kept.size, payload.size());
        EXPECT_EQ(d.buffered_bytes(), 0u);
        EXPECT_FALSE(d.take_delivered(ev.payload).bytes);  // handed over once
        ev = d.next(in);  // the next frame, whole in the caller's buffer
        ASSERT_EQ(ev.kind, event_kind::binary);
        EXPECT_FALSE(d.take_delivered(ev.payload).bytes);
        EXPECT_EQ(bytes(kept.bytes.get(), kept.bytes.get() + kept.size), payload);  // still intact
    }
}

TEST(DecoderMemory, TakeDeliveredLeavesAnOpenMessageAlone) {
    bytes s = from_peer(role::server, {.op = 0x2, .payload = filled(3000), .fin = false}) +
              from_peer(role::server, {.op = 0x9, .payload = filled(100)}) +
              from_peer(role::server, {.op = 0x0, .payload = filled(10)});
    decoder d(role::server);
    std::span<std::byte> in(s.data(), 100);
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);
    in = std::span(s.data() + 100, s.size() - 100);
    event ping = d.next(in);
    ASSERT_EQ(ping.kind, event_kind::ping);
    EXPECT_FALSE(d.take_delivered(ping.payload).bytes);  // it lies behind the open message's bytes
    event ev = d.next(in);
    ASSERT_EQ(ev.kind, event_kind::binary);
    EXPECT_EQ(bytes(ev.payload.begin(), ev.payload.end()), filled(3000) + filled(10));
    // Asked after the next call, the buffer is already gone.
    std::span<std::byte> none;
    EXPECT_EQ(d.next(none).kind, event_kind::need_more);
    EXPECT_FALSE(d.take_delivered(ev.payload).bytes);
}

TEST(DecoderMemory, IdleDecoderIsSmall) {
    EXPECT_LE(sizeof(decoder), 96u);
    decoder d(role::server);
    EXPECT_EQ(d.buffered_bytes(), 0u);
    EXPECT_FALSE(d.mid_message());
}

TEST(DecoderMemory, MidMessageWhileHeaderIsCut) {
    bytes s = hex("81 85 37");
    decoder d(role::server);
    std::span<std::byte> in(s);
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);
    EXPECT_TRUE(d.mid_message());
    EXPECT_EQ(d.buffered_bytes(), 0u);  // a cut header lives inside the decoder
}

}  // namespace
}  // namespace wsring::proto
