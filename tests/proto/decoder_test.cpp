// decoder: byte literals in, expected events out. One test per RFC 6455
// rule, each accepted and rejected with its close code, for both roles;
// the §5.7 example frames; every split of a stream; fail-fast UTF-8;
// encode→decode round trips at the length-form boundaries. Zero copy and
// the decoder's memory are decoder_memory_test.cpp's.
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
