// Tests for proto/deflater: the RFC 7692 §7.2.3 examples byte for byte on
// the compressing side (the inflating side and the round trips are in
// inflater_test.cpp), the tail removal, context takeover, where the output
// goes in `out`, the options zlib cannot honour, and memory() — printed for
// the configurations the server may choose.
#include "proto/deflater.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <random>
#include <string>

#include "proto/inflater.hpp"
#include "test_util.hpp"

namespace wsring::proto {
namespace {
using test::bytes;
using test::hex;
using test::json_like;
using test::text_bytes;

bytes compress(deflater& d, const bytes& message) {
    bytes out;
    const std::size_t n = d.compress(message, out);
    EXPECT_EQ(n, out.size());
    return out;
}

TEST(Deflater, HelloIsTheRfcExample_7_2_3_1) {
    deflater d;
    EXPECT_EQ(compress(d, text_bytes("Hello")), hex("f2 48 cd c9 c9 07 00"));
}

TEST(Deflater, SecondHelloWithTakeoverRefersToTheFirst_7_2_3_2) {
    deflater d({.context_takeover = true});
    EXPECT_EQ(compress(d, text_bytes("Hello")), hex("f2 48 cd c9 c9 07 00"));
    EXPECT_EQ(compress(d, text_bytes("Hello")), hex("f2 00 11 00 00"));
}

TEST(Deflater, SecondHelloWithoutTakeoverStartsFromAnEmptyWindow_7_2_1) {
    deflater d;
    EXPECT_EQ(compress(d, text_bytes("Hello")), hex("f2 48 cd c9 c9 07 00"));
    EXPECT_EQ(compress(d, text_bytes("Hello")), hex("f2 48 cd c9 c9 07 00"));
}

TEST(Deflater, LevelZeroWritesTheNoCompressionBlock_7_2_3_3) {
    deflater d({.level = 0});
    EXPECT_EQ(compress(d, text_bytes("Hello")), hex("00 05 00 fa ff 48 65 6c 6c 6f 00"));
}

TEST(Deflater, EmptyMessageIsOneZeroByte_7_2_3_6) {
    deflater fresh;
    EXPECT_EQ(compress(fresh, {}), hex("00"));
    // Also right after a message with takeover (zlib would refuse a second
    // sync flush with no input in between), and the window is untouched.
    deflater d({.context_takeover = true});
    compress(d, text_bytes("Hello"));
    EXPECT_EQ(compress(d, {}), hex("00"));
    EXPECT_EQ(compress(d, text_bytes("Hello")), hex("f2 00 11 00 00"));
}

TEST(Deflater, NeverLeavesTheSyncTail_7_2_1) {
    deflater d;
    std::mt19937 rng(7);
    for (std::size_t n : {1u, 2u, 125u, 126u, 4096u, 70000u}) {
        bytes m(n);
        for (auto& b : m) b = std::byte(rng() & 0xFF);
        bytes out = compress(d, m);
        ASSERT_GE(out.size(), 1u);
        const bytes last4(out.end() - std::min<std::ptrdiff_t>(4, std::ssize(out)), out.end());
        EXPECT_NE(last4, hex("00 00 ff ff")) << n;
    }
}

TEST(Deflater, AppendsAfterWhatOutHolds) {
    deflater d;
    bytes out = hex("c1 07");  // room the caller keeps for a frame header
    EXPECT_EQ(d.compress(text_bytes("Hello"), out), 7u);
    EXPECT_EQ(out, hex("c1 07 f2 48 cd c9 c9 07 00"));
    EXPECT_EQ(d.compress({}, out), 1u);
    EXPECT_EQ(out.size(), 10u);
}

TEST(Deflater, TakeoverShrinksARepeatedMessage_7_2_1) {
    const bytes m = json_like(1024);
    deflater reset, keep({.context_takeover = true});
    const std::size_t first = compress(keep, m).size();
    const std::size_t again = compress(keep, m).size();
    EXPECT_EQ(compress(reset, m).size(), first);
    EXPECT_EQ(compress(reset, m).size(), first);
    EXPECT_LT(again, first / 4) << "first " << first << ", again " << again;
    std::cout << "[ figures  ] 1 KiB JSON at level 6: " << first << " B, repeated with takeover: "
              << again << " B\n";
}

TEST(Deflater, SmallerWindowsStillCompress) {
    const bytes m = json_like(16384);
    for (std::uint8_t w = 9; w <= 15; ++w) {
        deflater d({.window_bits = w});
        EXPECT_LT(compress(d, m).size(), m.size() / 2) << int(w);
    }
}

TEST(Deflater, MemoryIsWhatZlibAllocates) {
    deflater d;
    EXPECT_EQ(d.memory(), 0u) << "zlib allocates at the first message, not before";
    compress(d, text_bytes("Hello"));
    // zlib 1.2.13: window 2·2^w, prev 2·2^w, head 2·2^(m+7), pending 4·2^(m+6),
    // plus its deflate_state.
    const std::size_t tables = 8u << 15;
    EXPECT_GE(d.memory(), tables);
    EXPECT_LT(d.memory(), tables + 8192);
    const std::size_t after_first = d.memory();
    compress(d, json_like(100000));
    EXPECT_EQ(d.memory(), after_first) << "deflateReset keeps every table";
    RecordProperty("deflater_memory_w15_m8", std::to_string(d.memory()));
    std::cout << "[ figures  ] deflater memory (window/memLevel → bytes):";
    for (auto [w, m] : {std::pair{15, 8}, {15, 9}, {15, 4}, {12, 8}, {10, 4}, {9, 1}}) {
        deflater x({.window_bits = std::uint8_t(w), .mem_level = m});
        compress(x, text_bytes("Hello"));
        std::cout << ' ' << w << '/' << m << "→" << x.memory();
    }
    std::cout << '\n';
}

TEST(DeflaterDeathTest, RejectsWindowBitsZlibCannotDo_7_1_2) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(deflater({.window_bits = 8}), "window_bits must be 9..15");
    EXPECT_DEATH(deflater({.window_bits = 16}), "window_bits must be 9..15");
    EXPECT_DEATH(deflater({.level = 10}), "level");
    EXPECT_DEATH(deflater({.mem_level = 0}), "mem_level");
}

}  // namespace
}  // namespace wsring::proto
