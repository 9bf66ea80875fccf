// Tests for proto/inflater: the RFC 7692 §7.2.3 examples byte for byte, a
// BFINAL block with and without blocks after it, round trips through
// proto/deflater (sizes, windows 9..15, takeover on and off), the output
// bound (exactly max_out, one byte more, a zip bomb), corrupt and truncated
// payloads (and the inflater usable afterwards), and memory().
#include "proto/inflater.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <iostream>
#include <random>
#include <string>

#include "proto/deflater.hpp"
#include "test_util.hpp"

namespace wsring::proto {
namespace {
using test::bytes;
using test::hex;
using test::json_like;
using test::text_bytes;
using status = inflater::status;

constexpr std::size_t mib = std::size_t{1} << 20;

// Inflates and keeps the status beside the bytes, for one-line expectations.
struct inflated {
    status st;
    bytes out;
    bool operator==(const inflated&) const = default;
};
inflated inflate(inflater& in, const bytes& payload, std::size_t max_out = mib) {
    inflated r{status::ok, {}};
    r.st = in.decompress(payload, max_out, r.out);
    return r;
}
inflated ok(std::string_view s) { return {status::ok, text_bytes(s)}; }

void PrintTo(const inflated& r, std::ostream* os) {
    *os << "{status=" << static_cast<int>(r.st) << " len=" << r.out.size() << "}";
}

bytes random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    bytes b(n);
    for (auto& x : b) x = std::byte(rng() & 0xFF);
    return b;
}

// ---- RFC 7692 §7.2.3, byte for byte ----------------------------------------------

TEST(Inflater, HelloFromTheRfcExample_7_2_3_1) {
    inflater in;
    EXPECT_EQ(inflate(in, hex("f2 48 cd c9 c9 07 00")), ok("Hello"));
}

TEST(Inflater, SecondHelloUsesTheWindowWithTakeover_7_2_3_2) {
    inflater in({.context_takeover = true});
    EXPECT_EQ(inflate(in, hex("f2 48 cd c9 c9 07 00")), ok("Hello"));
    EXPECT_EQ(inflate(in, hex("f2 00 11 00 00")), ok("Hello"));
}

TEST(Inflater, WithoutTakeoverTheWindowIsEmptyAgain_7_2_2) {
    inflater in;
    EXPECT_EQ(inflate(in, hex("f2 48 cd c9 c9 07 00")), ok("Hello"));
    EXPECT_EQ(inflate(in, hex("f2 00 11 00 00")).st, status::corrupt) << "refers before the start";
}

TEST(Inflater, NoCompressionBlock_7_2_3_3) {
    inflater in;
    EXPECT_EQ(inflate(in, hex("00 05 00 fa ff 48 65 6c 6c 6f 00")), ok("Hello"));
}

TEST(Inflater, BfinalBlockEndsTheStream_7_2_3_4) {
    for (bool takeover : {false, true}) {
        inflater in({.context_takeover = takeover});
        EXPECT_EQ(inflate(in, hex("f3 48 cd c9 c9 07 00 00")), ok("Hello"));
        EXPECT_EQ(inflate(in, hex("f2 48 cd c9 c9 07 00")), ok("Hello")) << "a new stream next";
    }
}

TEST(Inflater, WindowCarriesOverABfinalBlockWithTakeover_7_2_3_4) {
    inflater in({.context_takeover = true});
    EXPECT_EQ(inflate(in, hex("f3 48 cd c9 c9 07 00 00")), ok("Hello"));
    EXPECT_EQ(inflate(in, hex("f2 00 11 00 00")), ok("Hello"));
}

TEST(Inflater, PayloadEndingRightAfterABfinalBlockIsAccepted_7_2_3_4) {
    // Without the 0x00 the RFC's example has (a sender flushing with Z_FINISH).
    for (bool takeover : {false, true}) {
        inflater in({.context_takeover = takeover});
        EXPECT_EQ(inflate(in, hex("f3 48 cd c9 c9 07 00")), ok("Hello"));
        if (takeover) {
            EXPECT_EQ(inflate(in, hex("f2 00 11 00 00")), ok("Hello"));
        }
    }
}

TEST(Inflater, BlocksAfterABfinalBlockReferToIt_7_2_1) {
    // §7.2.1: "The next DEFLATE block follows the padded data if any."
    inflater in;
    EXPECT_EQ(inflate(in, hex("f3 48 cd c9 c9 07 00  f2 00 11 00 00")), ok("HelloHello"));
}

TEST(Inflater, TwoDeflateBlocksInOneMessage_7_2_3_5) {
    inflater in;
    EXPECT_EQ(inflate(in, hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")), ok("Hello"));
}

TEST(Inflater, EmptyMessage_7_2_3_6) {
    inflater in({.context_takeover = true});
    EXPECT_EQ(inflate(in, hex("00")), ok(""));
    EXPECT_EQ(inflate(in, {}), ok("")) << "no bytes at all: lenient";
    EXPECT_EQ(inflate(in, hex("f2 48 cd c9 c9 07 00")), ok("Hello"));
    EXPECT_EQ(inflate(in, hex("00")), ok(""));
    EXPECT_EQ(inflate(in, hex("f2 00 11 00 00")), ok("Hello")) << "the window survives empty messages";
}

TEST(Inflater, ReplacesWhatOutHeld) {
    inflater in;
    bytes out = hex("01 02 03");
    EXPECT_EQ(in.decompress(hex("f2 48 cd c9 c9 07 00"), 100, out), status::ok);
    EXPECT_EQ(out, text_bytes("Hello"));
}

// ---- round trips through deflater --------------------------------------------

std::vector<std::pair<std::string, bytes>> samples() {
    bytes compressible(mib);
    for (std::size_t i = 0; i < compressible.size(); ++i) compressible[i] = std::byte("abcabd"[i % 6] + i / 4096 % 3);
    return {{"0", {}},
            {"1", text_bytes("x")},
            {"125", json_like(125)},
            {"126", random_bytes(126, 2)},
            {"1KiB json", json_like(1024)},
            {"64KiB json", json_like(65536, 3)},
            {"1MiB random", random_bytes(mib, 4)},
            {"1MiB compressible", compressible}};
}

TEST(Inflater, RoundTripsEverySizeWindowAndTakeover_7_2) {
    const auto all = samples();
    for (std::uint8_t w = 9; w <= 15; ++w) {
        for (bool takeover : {false, true}) {
            deflater d({.window_bits = w, .context_takeover = takeover});
            inflater in({.window_bits = w, .context_takeover = takeover});
            for (int pass = 0; pass < 2; ++pass) {  // the second pass meets a full window
                for (const auto& [name, m] : all) {
                    // The 1 MiB ones (slow to deflate) once, at the extreme windows.
                    if (m.size() == mib && (pass == 1 || (w != 9 && w != 15))) continue;
                    bytes wire;
                    d.compress(m, wire);
                    const inflated got = inflate(in, wire, m.size());
                    ASSERT_EQ(got.st, status::ok) << name << " w=" << int(w) << " takeover=" << takeover;
                    ASSERT_TRUE(got.out == m) << name << " w=" << int(w) << " takeover=" << takeover;
                }
            }
        }
    }
}

TEST(Inflater, RoundTripsEveryLevelAndMemLevel) {
    const bytes m = json_like(20000, 5);
    for (int level = 0; level <= 9; ++level) {
        for (int mem = 1; mem <= 9; mem += 4) {
            deflater d({.context_takeover = true, .level = level, .mem_level = mem});
            inflater in({.context_takeover = true});
            for (int i = 0; i < 3; ++i) {
                bytes wire;
                d.compress(m, wire);
                ASSERT_EQ(inflate(in, wire, m.size()), (inflated{status::ok, m})) << level << '/' << mem;
            }
        }
    }
}

TEST(Inflater, LargerWindowInflatesASmallerWindowsOutput_7_1_2_2) {
    deflater d({.window_bits = 9, .context_takeover = true});
    inflater in({.window_bits = 15, .context_takeover = true});
    for (int i = 0; i < 3; ++i) {
        const bytes m = json_like(5000, 9 + i);
        bytes wire;
        d.compress(m, wire);
        ASSERT_EQ(inflate(in, wire), (inflated{status::ok, m}));
    }
}

// ---- the output bound ---------------------------------------------------------

TEST(Inflater, ExactlyMaxOutIsOkOneMoreIsTooLarge) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096},
                          std::size_t{4097}, std::size_t{8192}, mib}) {
        const bytes m = json_like(n, 11);
        deflater d;
        bytes wire;
        d.compress(m, wire);
        inflater in;
        EXPECT_EQ(inflate(in, wire, n), (inflated{status::ok, m})) << n;
        if (n == 0) continue;
        EXPECT_EQ(inflate(in, wire, n - 1).st, status::too_large) << n;
        EXPECT_EQ(inflate(in, wire, n), (inflated{status::ok, m})) << n << ": usable again";
    }
}

// 128 MiB of zeros in about 130 KB: DEFLATE cannot do better than ~1032:1,
// so a payload of 16 KB inflates to 16 MiB at most. Built from two sync-
// flushed pieces: every 1 MiB piece after the first decodes the same way
// (copies of the zeros just before it), so it is repeated, not recompressed.
bytes zip_bomb(std::size_t mebibytes) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    bytes zeros(mib), piece[2];
    for (bytes& p : piece) {
        p.resize(deflateBound(&z, mib) + 64);
        z.next_in = reinterpret_cast<Bytef*>(zeros.data());
        z.avail_in = static_cast<uInt>(zeros.size());
        z.next_out = reinterpret_cast<Bytef*>(p.data());
        z.avail_out = static_cast<uInt>(p.size());
        EXPECT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
        p.resize(p.size() - z.avail_out);
    }
    deflateEnd(&z);
    bytes bomb = piece[0];
    for (std::size_t i = 1; i < mebibytes; ++i) bomb.insert(bomb.end(), piece[1].begin(), piece[1].end());
    bomb.resize(bomb.size() - 4);  // §7.2.1: the tail goes
    return bomb;
}

// What `payload` inflates to, counted with a small buffer and no limit.
std::size_t inflated_size(const bytes& payload) {
    z_stream z{};
    EXPECT_EQ(inflateInit2(&z, -15), Z_OK);
    bytes whole = test::operator+(payload, hex("00 00 ff ff"));
    bytes buf(64 * 1024);
    z.next_in = reinterpret_cast<Bytef*>(whole.data());
    z.avail_in = static_cast<uInt>(whole.size());
    std::size_t total = 0;
    while (z.avail_in) {
        z.next_out = reinterpret_cast<Bytef*>(buf.data());
        z.avail_out = static_cast<uInt>(buf.size());
        if (inflate(&z, Z_SYNC_FLUSH) != Z_OK) break;
        total += buf.size() - z.avail_out;
    }
    inflateEnd(&z);
    return total;
}

TEST(Inflater, ZipBombStopsAtMaxOut) {
    const bytes bomb = zip_bomb(128);
    ASSERT_EQ(inflated_size(bomb), 128 * mib);
    inflater in;
    bytes out;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(in.decompress(bomb, mib, out), status::too_large);
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_TRUE(out.empty());
    EXPECT_LE(out.capacity(), mib + 1) << "never more than max_out + 1";
    std::cout << "[ figures  ] zip bomb: " << bomb.size() << " B → 128 MiB; stopped at 1 MiB in "
              << ms << " ms, out.capacity() " << out.capacity() << '\n';
    EXPECT_EQ(inflate(in, hex("f2 48 cd c9 c9 07 00")), ok("Hello")) << "usable again";
}

// ---- corrupt and truncated payloads -------------------------------------------

TEST(Inflater, CorruptPayloadsFailWith1007AndTheInflaterRecovers_7_2_2) {
    const bytes bad[] = {
        hex("ff"),                          // BTYPE 11: reserved
        hex("07"),                          // BFINAL + BTYPE 11
        hex("00 05 00 00 00 48 65 6c 6c 6f 00"),  // stored block: NLEN is not ~LEN
        hex("f2 00 11 00 00"),              // a distance before the start of the window
        hex("f2 48 cd"),                    // cut inside a block
        hex("f2 48 cd c9 c9 07"),           // cut before the flush's empty block
        hex("00 05 00 fa ff 48 65"),        // stored block cut short
        hex("f3 48 cd c9 c9 07 00 ff"),     // junk after a BFINAL block
        hex("f2 48 cd c9 c9 07 00 00 00 ff ff ff"),  // junk after a complete message
    };
    for (bool takeover : {false, true}) {
        for (const bytes& b : bad) {
            inflater in({.context_takeover = takeover});
            EXPECT_EQ(inflate(in, b).st, status::corrupt) << ::testing::PrintToString(b);
            EXPECT_EQ(inflate(in, hex("f2 48 cd c9 c9 07 00")), ok("Hello")) << "usable again";
        }
    }
}

TEST(Inflater, EveryTruncationOfAMessageIsCorrupt) {
    deflater d;
    bytes wire;
    d.compress(json_like(3000, 13), wire);
    inflater in;
    for (std::size_t cut = 0; cut + 1 < wire.size(); ++cut) {
        const bytes part(wire.begin(), wire.begin() + std::ptrdiff_t(cut + 1));
        EXPECT_EQ(inflate(in, part).st, status::corrupt) << "cut at " << cut + 1 << " of " << wire.size();
    }
}

TEST(Inflater, RandomPayloadsNeverExceedMaxOut) {
    std::mt19937 rng(17);
    inflater in({.context_takeover = true});
    for (int i = 0; i < 3000; ++i) {
        const bytes b = random_bytes(1 + rng() % 64, rng());
        const std::size_t max_out = rng() % 300;
        const inflated got = inflate(in, b, max_out);
        EXPECT_LE(got.out.size(), max_out);
        if (got.st != status::ok) {
            EXPECT_TRUE(got.out.empty());
        }
    }
}

// ---- memory -----------------------------------------------------------------------

TEST(Inflater, MemoryIsWhatZlibAllocates) {
    inflater in;
    EXPECT_EQ(in.memory(), 0u) << "nothing before the first message";
    inflate(in, hex("f2 48 cd c9 c9 07 00"));
    // zlib 1.2.13: its inflate_state (about 7 KB) and the 2^w-byte window.
    EXPECT_GE(in.memory(), 32768u);
    EXPECT_LT(in.memory(), 32768u + 8192);
    RecordProperty("inflater_memory_w15", std::to_string(in.memory()));
    std::cout << "[ figures  ] inflater memory after the first message (window → bytes):";
    for (std::uint8_t w : {15, 12, 10, 8}) {
        inflater x({.window_bits = w});
        inflate(x, hex("f2 48 cd c9 c9 07 00"));
        std::cout << ' ' << int(w) << "→" << x.memory();
    }
    std::cout << '\n';
}

TEST(InflaterDeathTest, RejectsWindowBitsOutOfRange_7_1_2) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(inflater({.window_bits = 7}), "window_bits must be 8..15");
    EXPECT_DEATH(inflater({.window_bits = 16}), "window_bits must be 8..15");
}

}  // namespace
}  // namespace wsring::proto
