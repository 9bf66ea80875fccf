// decoder: byte literals in, expected events out. One test per RFC 6455
// rule, each accepted and rejected with its close code, for both roles;
// the §5.7 example frames; every split of a stream; zero copy (a cut
// frame's rest read into payload_room() included); fail-fast UTF-8;
// encode→decode round trips at the length-form boundaries.
#include "proto/decoder.hpp"

#include <gtest/gtest.h>

#include <random>

#include "proto/encoder.hpp"
#include "tests/proto/guard_page.hpp"
#include "tests/proto/test_util.hpp"

namespace wsring::proto {
namespace {

using namespace test;

recorded ok(event_kind k, std::string_view payload) { return {k, text_bytes(payload)}; }
recorded ok(event_kind k, const bytes& payload) { return {k, payload}; }
// The expected close code is written at each use, from RFC 6455 §7.4.1
// (1002 protocol error, 1007 inconsistent data, 1009 too big), never taken
// from to_close_code, the function under test.
recorded failed(error e, int code) {
    return {event_kind::protocol_error, {}, static_cast<close_code>(code), e};
}

// The only event of a stream that must end in one.
recorded only(role self, const bytes& stream, decoder_limits lim = {}) {
    auto evs = decode_all(self, stream, lim);
    EXPECT_EQ(evs.size(), 1u);
    return evs.empty() ? recorded{} : evs.front();
}

bytes filled(std::size_t n) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>(i * 7 + 3);
    return b;
}

// ---- RFC 6455 §5.7 examples ------------------------------------------------

TEST(Decoder, Rfc_5_7_SingleFrameUnmaskedText) {
    EXPECT_EQ(only(role::client, hex("81 05 48 65 6c 6c 6f")), ok(event_kind::text, "Hello"));
}

TEST(Decoder, Rfc_5_7_SingleFrameMaskedText) {
    EXPECT_EQ(only(role::server, hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")),
              ok(event_kind::text, "Hello"));
}

TEST(Decoder, Rfc_5_7_FragmentedUnmaskedText) {
    EXPECT_EQ(only(role::client, hex("01 03 48 65 6c  80 02 6c 6f")), ok(event_kind::text, "Hello"));
}

TEST(Decoder, Rfc_5_7_UnmaskedPing) {
    EXPECT_EQ(only(role::client, hex("89 05 48 65 6c 6c 6f")), ok(event_kind::ping, "Hello"));
}

TEST(Decoder, Rfc_5_7_MaskedPong) {
    EXPECT_EQ(only(role::server, hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58")),
              ok(event_kind::pong, "Hello"));
}

TEST(Decoder, Rfc_5_7_Binary256With16BitLength) {
    bytes body = filled(256);
    EXPECT_EQ(only(role::client, hex("82 7E 01 00") + body), ok(event_kind::binary, body));
}

TEST(Decoder, Rfc_5_7_Binary64KiBWith64BitLength) {
    bytes body = filled(65536);
    EXPECT_EQ(only(role::client, hex("82 7F 00 00 00 00 00 01 00 00") + body),
              ok(event_kind::binary, body));
}

// ---- §5.2 reserved bits and opcodes ---------------------------------------

TEST(Decoder, RejectsReservedBits_5_2) {
    for (role r : both_roles) {
        EXPECT_EQ(only(r, from_peer(r, {.payload = text_bytes("a"), .rsv1 = true})),
                  failed(error::reserved_bits, 1002));
        EXPECT_EQ(only(r, from_peer(r, {.payload = text_bytes("a"), .rsv2 = true})),
                  failed(error::reserved_bits, 1002));
        EXPECT_EQ(only(r, from_peer(r, {.payload = text_bytes("a"), .rsv3 = true})),
                  failed(error::reserved_bits, 1002));
    }
}

TEST(Decoder, AcceptsRsv1OnFirstFrameWhenNegotiated_Rfc7692_6) {
    decoder_limits lim{.allow_rsv1 = true};
    for (role r : both_roles) {
        bytes s = from_peer(r, {.op = 0x2, .payload = text_bytes("ab"), .fin = false, .rsv1 = true}) +
                  from_peer(r, {.op = 0x0, .payload = text_bytes("c")});
        recorded want = ok(event_kind::binary, "abc");
        want.rsv1 = true;
        EXPECT_EQ(only(r, s, lim), want);
        expect_same_at_every_split(r, s, lim);
    }
}

TEST(Decoder, RejectsRsv1OnContinuationOrControl_Rfc7692_6) {
    decoder_limits lim{.allow_rsv1 = true};
    for (role r : both_roles) {
        bytes cont = from_peer(r, {.op = 0x1, .payload = text_bytes("a"), .fin = false}) +
                     from_peer(r, {.op = 0x0, .payload = text_bytes("b"), .rsv1 = true});
        EXPECT_EQ(only(r, cont, lim), failed(error::reserved_bits, 1002));
        EXPECT_EQ(only(r, from_peer(r, {.op = 0x9, .rsv1 = true}), lim), failed(error::reserved_bits, 1002));
        EXPECT_EQ(only(r, from_peer(r, {.op = 0x1, .rsv2 = true}), lim), failed(error::reserved_bits, 1002));
    }
}

TEST(Decoder, RejectsReservedOpcodes_5_2) {
    for (role r : both_roles) {
        for (std::uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
            SCOPED_TRACE(op);
            EXPECT_EQ(only(r, from_peer(r, {.op = op})), failed(error::reserved_opcode, 1002));
        }
    }
}

TEST(Decoder, RejectsLengthWithMostSignificantBitSet_5_2) {
    // The header alone: the error comes before any payload.
    EXPECT_EQ(only(role::client, hex("82 7F 80 00 00 00 00 00 00 01")),
              failed(error::length_msb_set, 1002));
    EXPECT_EQ(only(role::server, hex("82 FF 80 00 00 00 00 00 00 01 37 fa 21 3d")),
              failed(error::length_msb_set, 1002));
}

// ---- §5.5 control frames -----------------------------------------------------

TEST(Decoder, RejectsFragmentedControlFrame_5_5) {
    for (role r : both_roles)
        for (std::uint8_t op : {0x8, 0x9, 0xA})
            EXPECT_EQ(only(r, from_peer(r, {.op = op, .fin = false})),
                      failed(error::control_fragmented, 1002));
}

TEST(Decoder, AcceptsControlPayloadOf125_5_5) {
    for (role r : both_roles) {
        bytes body = filled(125);
        EXPECT_EQ(only(r, from_peer(r, {.op = 0x9, .payload = body})), ok(event_kind::ping, body));
    }
}

TEST(Decoder, RejectsControlPayloadOver125_5_5) {
    for (role r : both_roles) {
        EXPECT_EQ(only(r, from_peer(r, {.op = 0xA, .payload = filled(126)})),
                  failed(error::control_too_long, 1002));
    }
    // From the header alone (16-bit length 126, no payload sent).
    EXPECT_EQ(only(role::client, hex("89 7E 00 7E")), failed(error::control_too_long, 1002));
}

// ---- §5.1 masking -----------------------------------------------------------

TEST(Decoder, ServerRejectsUnmaskedClientFrame_5_1) {
    EXPECT_EQ(only(role::server, hex("81 05 48 65 6c 6c 6f")), failed(error::unmasked_client_frame, 1002));
    EXPECT_EQ(only(role::server, hex("89 00")), failed(error::unmasked_client_frame, 1002));
}

TEST(Decoder, ClientRejectsMaskedServerFrame_5_1) {
    EXPECT_EQ(only(role::client, hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")),
              failed(error::masked_server_frame, 1002));
    EXPECT_EQ(only(role::client, hex("8a 80 37 fa 21 3d")), failed(error::masked_server_frame, 1002));
}

// ---- §5.4 fragmentation ----------------------------------------------------

TEST(Decoder, RejectsContinuationWithoutMessage_5_4) {
    for (role r : both_roles)
        EXPECT_EQ(only(r, from_peer(r, {.op = 0x0, .payload = text_bytes("x")})),
                  failed(error::unexpected_continuation, 1002));
}

TEST(Decoder, RejectsNewDataFrameInsideFragmentedMessage_5_4) {
    for (role r : both_roles) {
        for (std::uint8_t op : {0x1, 0x2}) {
            bytes s = from_peer(r, {.op = 0x2, .payload = text_bytes("a"), .fin = false}) +
                      from_peer(r, {.op = op, .payload = text_bytes("b")});
            EXPECT_EQ(only(r, s), failed(error::expected_continuation, 1002));
        }
    }
}

TEST(Decoder, DeliversControlFramesBetweenFragments_5_4) {
    for (role r : both_roles) {
        bytes s = from_peer(r, {.op = 0x1, .payload = text_bytes("Hel"), .fin = false}) +
                  from_peer(r, {.op = 0x9, .payload = text_bytes("p1")}) +
                  from_peer(r, {.op = 0x0, .payload = text_bytes("l"), .fin = false}) +
                  from_peer(r, {.op = 0xA, .payload = text_bytes("p2")}) +
                  from_peer(r, {.op = 0x0, .payload = text_bytes("o")});
        std::vector<recorded> want{ok(event_kind::ping, "p1"), ok(event_kind::pong, "p2"),
                                   ok(event_kind::text, "Hello")};
        EXPECT_EQ(decode_all(r, s), want);
        // Cut control frames are buffered behind the fragments: they must not clobber them.
        expect_same_at_every_split(r, s);
    }
}

TEST(Decoder, AcceptsEmptyFragments_5_4) {
    for (role r : both_roles) {
        bytes s = from_peer(r, {.op = 0x1, .fin = false}) + from_peer(r, {.op = 0x0, .fin = false}) +
                  from_peer(r, {.op = 0x0});
        EXPECT_EQ(only(r, s), ok(event_kind::text, ""));
    }
}

// ---- message size cap (1009) ----------------------------------------------------

TEST(Decoder, AcceptsMessageOfExactlyMaxSize) {
    decoder_limits lim{.max_message = 300};
    for (role r : both_roles) {
        bytes body = filled(300);
        EXPECT_EQ(only(r, from_peer(r, {.op = 0x2, .payload = body}), lim), ok(event_kind::binary, body));
        bytes frag = from_peer(r, {.op = 0x2, .payload = filled(200), .fin = false}) +
                     from_peer(r, {.op = 0x0, .payload = filled(100)});
        EXPECT_EQ(only(r, frag, lim).kind, event_kind::binary);
    }
}

TEST(Decoder, RejectsMessageTooBigFromHeaderBeforeBuffering_7_4_1) {
    decoder_limits lim{.max_message = 1000};
    for (role r : both_roles) {
        // Only the header of a frame declaring 2^40 bytes: refused at once,
        // nothing allocated.
        bytes head = from_peer(r, {.op = 0x2});
        head[1] = static_cast<std::byte>(static_cast<std::uint8_t>(head[1]) | 127);
        bytes big = bytes(head.begin(), head.begin() + 2) + hex("00 00 01 00 00 00 00 00") +
                    bytes(head.begin() + 2, head.end());
        decoder d(r, lim);
        std::span<std::byte> in(big);
        event ev = d.next(in);
        EXPECT_EQ(record(ev), failed(error::message_too_big, 1009));
        EXPECT_EQ(ev.code, close_code::message_too_big);
        EXPECT_EQ(d.buffered_bytes(), 0u);
    }
}

TEST(Decoder, RejectsFragmentsAddingUpOverMaxSize_7_4_1) {
    decoder_limits lim{.max_message = 300};
    for (role r : both_roles) {
        bytes s = from_peer(r, {.op = 0x1, .payload = bytes(200, std::byte{'a'}), .fin = false}) +
                  from_peer(r, {.op = 0x0, .payload = bytes(101, std::byte{'a'})});
        EXPECT_EQ(only(r, s, lim), failed(error::message_too_big, 1009));
        expect_same_at_every_split(r, s, lim);
    }
}

// ---- §8.1 UTF-8 (1007) -------------------------------------------------------

TEST(Decoder, RejectsInvalidUtf8Text_8_1) {
    for (role r : both_roles) {
        recorded got = only(r, from_peer(r, {.op = 0x1, .payload = hex("48 c0 af")}));
        EXPECT_EQ(got, failed(error::invalid_utf8, 1007));
        EXPECT_EQ(got.code, close_code::invalid_payload);
    }
}

TEST(Decoder, AcceptsCodePointSplitAcrossFragments_8_1) {
    for (role r : both_roles) {
        // U+1F600 F0 9F 98 80 cut in three fragments.
        bytes s = from_peer(r, {.op = 0x1, .payload = hex("41 f0"), .fin = false}) +
                  from_peer(r, {.op = 0x0, .payload = hex("9f 98"), .fin = false}) +
                  from_peer(r, {.op = 0x0, .payload = hex("80 42")});
        EXPECT_EQ(only(r, s), ok(event_kind::text, hex("41 f0 9f 98 80 42")));
        expect_same_at_every_split(r, s);
    }
}

TEST(Decoder, RejectsTextEndingMidCodePoint_8_1) {
    for (role r : both_roles) {
        EXPECT_EQ(only(r, from_peer(r, {.op = 0x1, .payload = hex("41 e2 82")})),
                  failed(error::invalid_utf8, 1007));
        bytes s = from_peer(r, {.op = 0x1, .payload = hex("41 e2"), .fin = false}) +
                  from_peer(r, {.op = 0x0, .payload = hex("82")});
        EXPECT_EQ(only(r, s), failed(error::invalid_utf8, 1007));
    }
}

TEST(Decoder, FailsFastOnInvalidUtf8MidFrame_8_1) {
    for (role r : both_roles) {
        // A 100-byte text frame of which only the header and 3 bytes came:
        // "a", then ED A0 80 (a surrogate) — already invalid.
        bytes payload = hex("61 ed a0 80") + bytes(96, std::byte{'a'});
        bytes frame = from_peer(r, {.op = 0x1, .payload = payload});
        std::size_t head = header_size(100, r == role::server);
        bytes part(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(head + 3));
        decoder d(r);
        std::span<std::byte> in(part);
        EXPECT_EQ(record(d.next(in)), failed(error::invalid_utf8, 1007));
    }
}

TEST(Decoder, FailsFastOnInvalidUtf8InEarlyFragment_8_1) {
    for (role r : both_roles) {
        bytes s = from_peer(r, {.op = 0x1, .payload = hex("ff"), .fin = false});
        EXPECT_EQ(only(r, s), failed(error::invalid_utf8, 1007));  // no FIN needed
    }
}

TEST(Decoder, SkipsUtf8CheckOfCompressedText_Rfc7692) {
    decoder_limits lim{.allow_rsv1 = true};
    recorded want = ok(event_kind::text, hex("ff fe"));
    want.rsv1 = true;
    EXPECT_EQ(only(role::client, build({.op = 0x1, .payload = hex("ff fe"), .rsv1 = true}), lim), want);
}

// ---- §5.5.1, §7.4 close frames ------------------------------------------------

TEST(Decoder, EmptyCloseMeansNoStatus_7_1_5) {
    for (role r : both_roles) {
        recorded got = only(r, from_peer(r, {.op = 0x8}));
        EXPECT_EQ(got.kind, event_kind::close);
        EXPECT_EQ(got.code, close_code::no_status);
    }
}

TEST(Decoder, RejectsOneByteClosePayload_5_5_1) {
    for (role r : both_roles)
        EXPECT_EQ(only(r, from_peer(r, {.op = 0x8, .payload = hex("03")})),
                  failed(error::close_payload_one_byte, 1002));
}

TEST(Decoder, AcceptsValidCloseCodesWithReason_7_4) {
    for (role r : both_roles) {
        for (unsigned c : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                           3000, 3999, 4000, 4999}) {
            SCOPED_TRACE(c);
            bytes body = bytes{std::byte(c >> 8), std::byte(c & 0xFF)} + text_bytes("bye é");
            recorded got = only(r, from_peer(r, {.op = 0x8, .payload = body}));
            EXPECT_EQ(got, (recorded{event_kind::close, text_bytes("bye é"), close_code(c)}));
        }
    }
}

TEST(Decoder, RejectsInvalidCloseCodes_7_4) {
    for (role r : both_roles) {
        for (unsigned c : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
            SCOPED_TRACE(c);
            bytes body{std::byte(c >> 8), std::byte(c & 0xFF)};
            EXPECT_EQ(only(r, from_peer(r, {.op = 0x8, .payload = body})),
                      failed(error::invalid_close_code, 1002));
        }
    }
}

TEST(Decoder, RejectsInvalidUtf8CloseReason_5_5_1) {
    for (role r : both_roles) {
        recorded got = only(r, from_peer(r, {.op = 0x8, .payload = hex("03 e8 ce")}));
        EXPECT_EQ(got, failed(error::invalid_close_reason, 1007));
        EXPECT_EQ(got.code, close_code::invalid_payload);
    }
}

// ---- terminal states ------------------------------------------------------------

TEST(Decoder, StaysFailedAfterProtocolError) {
    bytes s = hex("83 00") + hex("81 01 61");  // reserved opcode, then a valid frame
    decoder d(role::client);
    std::span<std::byte> in(s);
    EXPECT_EQ(record(d.next(in)), failed(error::reserved_opcode, 1002));
    std::size_t left = in.size();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(record(d.next(in)), failed(error::reserved_opcode, 1002));
    EXPECT_EQ(in.size(), left);  // nothing more consumed
    EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(Decoder, ProcessesNothingAfterClose_5_5_1) {
    for (role r : both_roles) {
        bytes s = from_peer(r, {.op = 0x8, .payload = hex("03 e8")}) +
                  from_peer(r, {.op = 0x1, .payload = text_bytes("late")});
        decoder d(r);
        std::span<std::byte> in(s);
        EXPECT_EQ(d.next(in).kind, event_kind::close);
        event again = d.next(in);
        EXPECT_EQ(again.kind, event_kind::close);
        EXPECT_EQ(again.code, close_code::normal);
        EXPECT_FALSE(in.empty());
    }
}

TEST(Decoder, FreesBufferAfterCutCloseFrame) {
    bytes s = from_peer(role::server, {.op = 0x8, .payload = hex("03 e8") + text_bytes("reason")});
    decoder d(role::server);
    std::span<std::byte> a(s.data(), 5), b(s.data() + 5, s.size() - 5);
    EXPECT_EQ(d.next(a).kind, event_kind::need_more);
    event ev = d.next(b);
    EXPECT_EQ(ev.kind, event_kind::close);
    EXPECT_EQ(ev.text(), "reason");
    std::span<std::byte> none;
    EXPECT_EQ(d.next(none).kind, event_kind::close);
    EXPECT_EQ(d.buffered_bytes(), 0u);
}

// ---- zero copy and memory ------------------------------------------------------

TEST(Decoder, CompleteFrameIsDeliveredInPlace) {
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
TEST(Decoder, CutFrameIsBufferedWithoutRegrowing) {
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
TEST(Decoder, DeclaredLengthAloneReservesAtMostOneMiB) {
    bytes s = from_peer(role::server, {.op = 0x2, .payload = filled(8u << 20)});
    decoder d(role::server);
    std::span<std::byte> in(s.data(), 24);
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);
    EXPECT_LE(d.buffered_bytes(), 1u << 20);
}

// payload_room(): the rest of a cut data frame read straight to its place
// in the message (as a backend's readv does) is taken where it lies —
// unmasked there, and the event's payload is those very bytes.
TEST(Decoder, RestReadIntoPayloadRoomIsTakenInPlace) {
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
TEST(Decoder, PayloadRoomOnlyInsideADataFramesPayload) {
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
TEST(Decoder, TextReadIntoPayloadRoomIsCheckedInPlace_8_1) {
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
TEST(Decoder, BytesFromElsewhereAreCopiedEvenAfterAskingForRoom) {
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

TEST(Decoder, ReleasesMessageBufferOnNextCallAfterDelivery) {
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
TEST(Decoder, TakeDeliveredHandsOverTheAssembledMessage) {
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

TEST(Decoder, TakeDeliveredLeavesAnOpenMessageAlone) {
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

TEST(Decoder, IdleDecoderIsSmall) {
    EXPECT_LE(sizeof(decoder), 96u);
    decoder d(role::server);
    EXPECT_EQ(d.buffered_bytes(), 0u);
    EXPECT_FALSE(d.mid_message());
}

TEST(Decoder, MidMessageWhileHeaderIsCut) {
    bytes s = hex("81 85 37");
    decoder d(role::server);
    std::span<std::byte> in(s);
    EXPECT_EQ(d.next(in).kind, event_kind::need_more);
    EXPECT_TRUE(d.mid_message());
    EXPECT_EQ(d.buffered_bytes(), 0u);  // a cut header lives inside the decoder
}

// ---- splits and round trips ---------------------------------------------------------

bytes mixed_stream(role self) {
    return from_peer(self, {.op = 0x1, .payload = text_bytes("Hello, мир")}) +
           from_peer(self, {.op = 0x2, .payload = filled(300), .fin = false}) +
           from_peer(self, {.op = 0x9, .payload = text_bytes("ping")}) +
           from_peer(self, {.op = 0x0, .payload = filled(70000)}) +
           from_peer(self, {.op = 0xA}) +
           from_peer(self, {.op = 0x1, .payload = hex("e2 82"), .fin = false}) +
           from_peer(self, {.op = 0x0, .payload = hex("ac")}) +
           from_peer(self, {.op = 0x2}) +
           from_peer(self, {.op = 0x8, .payload = hex("0f a0") + text_bytes("done")});
}

TEST(Decoder, SameEventsAtEverySplit) {
    for (role r : both_roles) {
        bytes s = mixed_stream(r);
        std::vector<recorded> evs = decode_all(r, s);
        ASSERT_EQ(evs.size(), 7u);
        EXPECT_EQ(evs[1], ok(event_kind::ping, "ping"));
        EXPECT_EQ(evs[2].payload.size(), 70300u);
        EXPECT_EQ(evs[6].code, close_code(4000));
        // Every single cut of the 70 KB stream is slow; cut the small frames.
        bytes small = from_peer(r, {.op = 0x1, .payload = text_bytes("Hello, мир")}) +
                      from_peer(r, {.op = 0x2, .payload = filled(300), .fin = false}) +
                      from_peer(r, {.op = 0x9, .payload = text_bytes("ping")}) +
                      from_peer(r, {.op = 0x0, .payload = filled(10)}) +
                      from_peer(r, {.op = 0x1, .payload = hex("e2 82"), .fin = false}) +
                      from_peer(r, {.op = 0x0, .payload = hex("ac")}) +
                      from_peer(r, {.op = 0x8, .payload = hex("0f a0") + text_bytes("done")});
        expect_same_at_every_split(r, small);
        std::mt19937 rng(7);
        for (int round = 0; round < 20; ++round) {
            std::vector<std::size_t> cuts;
            for (std::size_t at = rng() % 2000; at < s.size(); at += 1 + rng() % 9000) cuts.push_back(at);
            ASSERT_EQ(decode_split(r, {}, s, cuts), evs);
        }
    }
}

TEST(Decoder, SameErrorsAtEverySplit) {
    for (role r : both_roles) {
        expect_same_at_every_split(r, from_peer(r, {.op = 0x1, .payload = text_bytes("ok")}) +
                                          from_peer(r, {.op = 0x1, .payload = hex("61 62 ed a0 80 63")}));
        expect_same_at_every_split(r, from_peer(r, {.op = 0x9, .payload = text_bytes("a")}) +
                                          from_peer(r, {.op = 0x8, .payload = hex("03 ed")}));
    }
}

// A data frame with a 7- or 16-bit length wholly in one read takes the
// decoder's shortcut (take_small_header, inline in next()), which skips the
// general header checks; fed a byte at a time the same frame takes the
// general path. For every first
// byte (FIN, RSV, opcode) and second byte (mask bit, 7-bit length, and the
// 16- and 64-bit forms with a few lengths, minimal or not), for both roles,
// with no message open, a fragmented message open, RSV1 allowed and a small
// max_message, the two paths must give the same events.
TEST(Decoder, ShortcutForWholeSmallFramesAgreesWithTheGeneralPathOnEveryHeader) {
    for (role r : both_roles) {
        for (int state = 0; state < 4; ++state) {
            decoder_limits lim;
            if (state == 2) lim.allow_rsv1 = true;
            if (state == 3) lim.max_message = 9;
            const bytes before = state == 1 ? from_peer(r, {.op = 0x1, .payload = text_bytes("hi"), .fin = false})
                                            : bytes{};
            for (int b0 = 0; b0 < 256; ++b0) {
                for (int b1 = 0; b1 < 256; ++b1) {
                    std::vector<std::size_t> lengths{static_cast<std::size_t>(b1 & 0x7f)};
                    if ((b1 & 0x7f) == 126) lengths = {0, 9, 125, 126, 1000};
                    if ((b1 & 0x7f) == 127) lengths = {0, 200};
                    for (std::size_t length : lengths) {
                        bytes frame{std::byte(b0), std::byte(b1)};
                        const std::size_t ext = (b1 & 0x7f) == 126 ? 2 : (b1 & 0x7f) == 127 ? 8 : 0;
                        for (std::size_t i = ext; i-- > 0;) frame.push_back(std::byte((length >> (8 * i)) & 0xff));
                        if (b1 & 0x80) frame = frame + hex("37 5a 21 3d");
                        for (std::size_t i = 0; i < length; ++i)  // text only up to 2 bytes: 0xc3 then 'a' is not UTF-8
                            frame.push_back(std::byte(i % 3 == 2 ? 0xc3 : 'a' + i % 26));
                        const bytes stream = before + frame;
                        std::vector<std::size_t> every;
                        for (std::size_t i = before.size() + 1; i < stream.size(); ++i) every.push_back(i);
                        ASSERT_EQ(decode_split(r, lim, stream, {before.size()}), decode_split(r, lim, stream, every))
                            << "role " << int(r) << " state " << state << " bytes " << b0 << " " << b1
                            << " length " << length;
                    }
                }
            }
        }
    }
}

TEST(Decoder, NeverReadsPastTheInput) {
    // Every prefix of a stream ends right before a PROT_NONE page: one byte
    // of over-read (header, length, key or payload) crashes the test.
    wsring::test::guard_page_buffer guard(1 << 17);
    for (role r : both_roles) {
        bytes s = from_peer(r, {.op = 0x1, .payload = text_bytes("héllo")}) +
                  from_peer(r, {.op = 0x2, .payload = filled(1000)}) +  // a 16-bit length
                  from_peer(r, {.op = 0x2, .payload = filled(300), .fin = false}) +
                  from_peer(r, {.op = 0x9, .payload = text_bytes("p")}) +
                  from_peer(r, {.op = 0x0, .payload = filled(70000 - 300)}) +
                  from_peer(r, {.op = 0x8, .payload = hex("03 e8")});
        // The whole stream, and so the last prefix, must yield these: proof
        // that the prefixes were parsed, not merely survived.
        const std::vector<event_kind> whole{event_kind::text, event_kind::binary, event_kind::ping,
                                            event_kind::binary, event_kind::close};
        for (std::size_t n = 0;; n = std::min(s.size(), n + (n < 400 ? 1 : 997))) {
            decoder d(r);
            std::span<std::byte> in = guard.place(std::span(s).first(n));
            std::vector<event_kind> got;
            for (event ev = d.next(in); ev.kind != event_kind::need_more; ev = d.next(in)) {
                got.push_back(ev.kind);
                if (terminal(ev.kind)) break;
            }
            EXPECT_TRUE(in.empty()) << "prefix " << n << " not consumed";
            ASSERT_LE(got.size(), whole.size());
            EXPECT_TRUE(std::equal(got.begin(), got.end(), whole.begin())) << "prefix " << n;
            if (n == s.size()) {
                EXPECT_EQ(got, whole);
                break;
            }
        }
    }
}

TEST(Decoder, RoundTripsEncodedFramesAtLengthBoundaries) {
    std::mt19937 rng(42);
    std::vector<std::size_t> lengths{0, 1, 125, 126, 127, 65535, 65536, 65537};
    for (int i = 0; i < 10; ++i) lengths.push_back(rng() % 200000);
    for (role r : both_roles) {
        for (std::size_t n : lengths) {
            SCOPED_TRACE(n);
            bytes body(n);
            for (auto& b : body) b = static_cast<std::byte>(rng());
            std::optional<mask_key> key;
            if (r == role::server) key = static_cast<mask_key>(rng());
            bytes wire(frame_size(n, key.has_value()));
            ASSERT_EQ(encode_frame(wire, opcode::binary, body, {.mask = key}), wire.size());
            EXPECT_EQ(only(r, wire), ok(event_kind::binary, body));
            // The same message in random fragments, cut at a random point.
            bytes frag;
            for (std::size_t at = 0; at < n || frag.empty();) {
                std::size_t take = std::min<std::size_t>(n - at, rng() % 70000);
                bool fin = at + take == n;
                auto part = std::span(body).subspan(at, take);
                bytes f(frame_size(take, key.has_value()));
                encode_frame(f, at == 0 ? opcode::binary : opcode::continuation, part,
                             {.fin = fin, .mask = key});
                frag = frag + f;
                at += take;
                if (fin) break;
            }
            std::size_t cut = frag.empty() ? 0 : rng() % frag.size();
            EXPECT_EQ(decode_split(r, {}, frag, {cut}), std::vector<recorded>{ok(event_kind::binary, body)});
        }
    }
}

}  // namespace
}  // namespace wsring::proto
