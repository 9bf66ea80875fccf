// frame_header: the RFC 6455 §5.2 layout — how many bytes a header needs
// at each step, the fields of the §5.7 examples, and encode/decode agreement.
#include "proto/frame_header.hpp"

#include <gtest/gtest.h>

#include "tests/proto/test_util.hpp"

namespace wsring::proto {
namespace {

using namespace test;

TEST(FrameHeader, SaysHowManyBytesItNeeds_5_2) {
    frame_header h;
    EXPECT_EQ(decode_header({}, h).size, 0u);
    EXPECT_EQ(decode_header(hex("81"), h).need, 2u);
    EXPECT_EQ(decode_header(hex("82 7E"), h).need, 4u);
    EXPECT_EQ(decode_header(hex("82 7F 00"), h).need, 10u);
    EXPECT_EQ(decode_header(hex("82 FE 00 10"), h).need, 8u);
    EXPECT_EQ(decode_header(hex("82 FF"), h).need, 14u);
    EXPECT_EQ(decode_header(hex("81 85 37 fa 21"), h).size, 0u);
}

TEST(FrameHeader, DecodesRfc_5_7_MaskedHeader) {
    bytes in = hex("81 85 37 fa 21 3d");  // exactly the header: no over-read
    frame_header h;
    header_result r = decode_header(in, h);
    EXPECT_EQ(r.size, 6u);
    EXPECT_TRUE(h.fin);
    EXPECT_FALSE(h.rsv1 || h.rsv2 || h.rsv3);
    EXPECT_EQ(h.op(), opcode::text);
    EXPECT_TRUE(h.masked);
    EXPECT_EQ(h.length, 5u);
    EXPECT_EQ(h.key, rfc_key());
}

TEST(FrameHeader, DecodesExtendedLengthsBigEndian_5_2) {
    frame_header h;
    EXPECT_EQ(decode_header(hex("82 7E 01 00"), h).size, 4u);
    EXPECT_EQ(h.length, 256u);
    EXPECT_EQ(decode_header(hex("82 7F 00 00 00 00 00 01 00 00"), h).size, 10u);
    EXPECT_EQ(h.length, 65536u);
    EXPECT_EQ(decode_header(hex("82 7F 80 00 00 00 00 00 00 01"), h).size, 10u);
    EXPECT_EQ(h.length, 0x8000000000000001ull);  // decoded as is; the decoder rejects it
}

TEST(FrameHeader, DecodesReservedBitsAndOpcodes) {
    frame_header h;
    decode_header(hex("7B 00"), h);
    EXPECT_FALSE(h.fin);
    EXPECT_TRUE(h.rsv1 && h.rsv2 && h.rsv3);
    EXPECT_EQ(h.opcode_bits, 0xB);
}

TEST(FrameHeader, EncodeThenDecodeAgree) {
    for (std::uint64_t len : {0ull, 125ull, 126ull, 65535ull, 65536ull, 1ull << 40}) {
        for (bool masked : {false, true}) {
            frame_header h{.fin = false, .rsv1 = true, .opcode_bits = 0x2, .masked = masked,
                           .length = len, .key = masked ? rfc_key() : 0};
            bytes buf(header_size(len, masked));
            EXPECT_EQ(encode_header(h, buf.data()), buf.size());
            frame_header back;
            EXPECT_EQ(decode_header(buf, back).size, buf.size());
            EXPECT_EQ(back.fin, h.fin);
            EXPECT_EQ(back.rsv1, h.rsv1);
            EXPECT_EQ(back.opcode_bits, h.opcode_bits);
            EXPECT_EQ(back.masked, masked);
            EXPECT_EQ(back.length, len);
            EXPECT_EQ(back.key, h.key);
        }
    }
}

}  // namespace
}  // namespace wsring::proto
