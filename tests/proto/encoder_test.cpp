// encoder: the RFC 6455 §5.7 frames byte for byte, minimal length forms
// (§5.2), masking with the given key (§5.3) and close bodies (§5.5.1).
#include "proto/encoder.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "proto/close_payload.hpp"
#include "proto/utf8.hpp"
#include "tests/proto/guard_page.hpp"
#include "tests/proto/test_util.hpp"

namespace wsring::proto {
namespace {

using namespace test;

bytes encode(opcode op, const bytes& payload, frame_options opts = {}) {
    bytes out(frame_size(payload.size(), opts.mask.has_value()));
    EXPECT_EQ(encode_frame(out, op, payload, opts), out.size());
    return out;
}

TEST(Encoder, Rfc_5_7_SingleFrameUnmaskedText) {
    EXPECT_EQ(encode(opcode::text, text_bytes("Hello")), hex("81 05 48 65 6c 6c 6f"));
}

TEST(Encoder, Rfc_5_7_SingleFrameMaskedText_5_3) {
    EXPECT_EQ(encode(opcode::text, text_bytes("Hello"), {.mask = rfc_key()}),
              hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"));
}

// The header alone is the first bytes of the whole unmasked frame, in every
// length form (§5.2: 7-bit, 16-bit, 64-bit), with FIN and RSV1 as asked.
TEST(Encoder, UnmaskedHeaderIsTheFramesPrefix) {
    for (std::size_t n : {0u, 125u, 126u, 65535u, 65536u}) {
        for (frame_options o : {frame_options{}, frame_options{.fin = false, .rsv1 = true}}) {
            bytes frame = encode(opcode::binary, bytes(n, std::byte{0x5a}), o);
            bytes header(max_header_size);
            std::size_t h = encode_unmasked_header(header, opcode::binary, n, o);
            EXPECT_EQ(h, frame.size() - n) << n;
            EXPECT_TRUE(std::equal(header.begin(), header.begin() + static_cast<std::ptrdiff_t>(h),
                                   frame.begin()))
                << n;
        }
    }
}

TEST(Encoder, Rfc_5_7_FragmentedUnmaskedText) {
    EXPECT_EQ(encode(opcode::text, text_bytes("Hel"), {.fin = false}) +
                  encode(opcode::continuation, text_bytes("lo")),
              hex("01 03 48 65 6c 80 02 6c 6f"));
}

TEST(Encoder, Rfc_5_7_PingAndMaskedPong) {
    EXPECT_EQ(encode(opcode::ping, text_bytes("Hello")), hex("89 05 48 65 6c 6c 6f"));
    EXPECT_EQ(encode(opcode::pong, text_bytes("Hello"), {.mask = rfc_key()}),
              hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"));
}

TEST(Encoder, Rfc_5_7_Binary256And64KiB) {
    bytes b256(256, std::byte{0x5a}), b64k(65536, std::byte{0xa5});
    EXPECT_EQ(encode(opcode::binary, b256), hex("82 7E 01 00") + b256);
    EXPECT_EQ(encode(opcode::binary, b64k), hex("82 7F 00 00 00 00 00 01 00 00") + b64k);
}

TEST(Encoder, UsesMinimalLengthForm_5_2) {
    for (auto [n, head] : {std::pair<std::size_t, std::size_t>{0, 2}, {125, 2}, {126, 4},
                           {65535, 4}, {65536, 10}}) {
        bytes out = encode(opcode::binary, bytes(n));
        EXPECT_EQ(out.size(), head + n);
        EXPECT_EQ(header_size(n, false), head);
        EXPECT_EQ(header_size(n, true), head + 4);
    }
}

TEST(Encoder, SetsRsv1AndClearsFin) {
    bytes out = encode(opcode::text, text_bytes("x"), {.fin = false, .rsv1 = true});
    EXPECT_EQ(out, hex("41 01 78"));
}

TEST(Encoder, CloseCodeInNetworkOrder_5_5_1) {
    bytes out(max_header_size + max_control_payload);
    std::size_t n = encode_close(out, close_code::going_away, "bye");
    out.resize(n);
    EXPECT_EQ(out, hex("88 05 03 e9 62 79 65"));
}

TEST(Encoder, MaskedClose_5_3) {
    bytes out(max_header_size + max_control_payload);
    out.resize(encode_close(out, close_code::normal, "", rfc_key()));
    EXPECT_EQ(out, hex("88 82 37 fa 21 3d") + hex("34 12"));  // 03 e8 ^ 37 fa
}

TEST(Encoder, NoStatusIsAnEmptyClose_7_1_5) {
    bytes out(max_header_size + max_control_payload);
    out.resize(encode_close(out, close_code::no_status, "ignored"));
    EXPECT_EQ(out, hex("88 00"));
}

TEST(Encoder, CutsCloseReasonOnUtf8Boundary_5_5_1) {
    // 122 ASCII + "é" (C3 A9) is 124 bytes: the cut at 123 would split é.
    std::string reason(122, 'r');
    reason += "\xc3\xa9";
    bytes out(max_header_size + max_control_payload);
    std::size_t n = encode_close(out, close_code::normal, reason);
    EXPECT_EQ(n, 2u + 2 + 122);
    EXPECT_TRUE(is_valid_utf8(std::span(out).subspan(4, n - 4)));
    // 121 ASCII + é fits exactly in 123.
    std::string fits(121, 'r');
    fits += "\xc3\xa9";
    EXPECT_EQ(encode_close(out, close_code::normal, fits), 2u + 125);
    // A long reason is cut to exactly 123 bytes when ASCII.
    EXPECT_EQ(encode_close(out, close_code::normal, std::string(500, 'x')), 2u + 125);
}

TEST(Encoder, CloseRoundTripsThroughDecoder) {
    bytes out(max_header_size + max_control_payload);
    out.resize(encode_close(out, close_code(4321), "\xe2\x82\xac", rfc_key()));
    auto evs = decode_all(role::server, out);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0], (recorded{event_kind::close, hex("e2 82 ac"), close_code(4321)}));
}

TEST(ClosePayload, ValidWireCodes_7_4) {
    EXPECT_TRUE(is_valid_wire_close_code(1000));
    EXPECT_TRUE(is_valid_wire_close_code(1014));
    EXPECT_TRUE(is_valid_wire_close_code(3000));
    EXPECT_TRUE(is_valid_wire_close_code(4999));
    EXPECT_FALSE(is_valid_wire_close_code(1004));
    EXPECT_FALSE(is_valid_wire_close_code(1005));
    EXPECT_FALSE(is_valid_wire_close_code(1006));
    EXPECT_FALSE(is_valid_wire_close_code(1015));
    EXPECT_FALSE(is_valid_wire_close_code(2999));
    EXPECT_FALSE(is_valid_wire_close_code(5000));
}

// copy_payload's inline moves for up to 16 bytes (two overlapping words)
// against memcpy at every length around its cut-offs, from a source that
// ends at a guard page (no read past its end) into a destination between
// canaries (no write outside [0, n)).
TEST(Encoder, CopyPayloadCopiesExactlyTheBytesAtEveryLength) {
    wsring::test::guard_page_buffer source(64);
    for (std::size_t n = 0; n <= 40; ++n) {
        bytes want(n);
        for (std::size_t i = 0; i < n; ++i) want[i] = static_cast<std::byte>(0x41 + i * 7);
        std::span<std::byte> from = source.place(want);
        bytes to(n + 16, std::byte{0xEE});
        copy_payload(to.data() + 8, from.data(), n);
        for (std::size_t i = 0; i < 8; ++i) {
            EXPECT_EQ(to[i], std::byte{0xEE}) << "n=" << n << ": written before the start";
            EXPECT_EQ(to[8 + n + i], std::byte{0xEE}) << "n=" << n << ": written past the end";
        }
        EXPECT_TRUE(std::equal(want.begin(), want.end(), to.begin() + 8)) << "n=" << n;
    }
}

// A whole small frame through the inline copy: the payload follows the
// two-byte header unchanged at each length the 16-byte path handles.
TEST(Encoder, SmallUnmaskedFramesCarryTheirPayload_5_2) {
    for (std::size_t n = 0; n <= 17; ++n) {
        bytes payload(n);
        for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<std::byte>(i + 1);
        bytes f = encode(opcode::binary, payload);
        ASSERT_EQ(f.size(), 2 + n);
        EXPECT_EQ(f[1], static_cast<std::byte>(n));
        EXPECT_TRUE(std::equal(payload.begin(), payload.end(), f.begin() + 2)) << "n=" << n;
    }
}

}  // namespace
}  // namespace wsring::proto
