// Tests for RFC 6455 §5.3 masking: every wide path (forced one by one) against
// the byte-at-a-time reference at every small size, phase and alignment; the
// phase carried across arbitrary splits; and a guard-page buffer per path so
// that any read or write past either end of the payload crashes the test.
#include "proto/mask.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace wsring::proto {
namespace {
using namespace wsring::base;  // simd_level and its controls

constexpr simd_level all_levels[] = {simd_level::scalar, simd_level::sse2, simd_level::avx2,
                                     simd_level::avx512};

std::vector<simd_level> supported_levels() {
    std::vector<simd_level> out;
    for (simd_level l : all_levels)
        if (l <= detected_simd_level()) out.push_back(l);
    return out;
}

// Restores the detected level when a test that forces one ends.
struct level_guard {
    ~level_guard() { reset_simd_level(); }
};

std::vector<std::byte> random_bytes(std::mt19937& rng, std::size_t n) {
    std::vector<std::byte> v(n);
    for (auto& b : v) b = std::byte(rng() & 0xFF);
    return v;
}

// `size` usable bytes between two PROT_NONE pages, placed flush against the
// trailing guard (at_end) or the leading one.
class guarded_buffer {
public:
    explicit guarded_buffer(std::size_t size, bool at_end) {
        page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        body_ = (size + page_ - 1) / page_ * page_;
        if (body_ == 0) body_ = page_;
        len_ = body_ + 2 * page_;
        base_ = static_cast<std::byte*>(
            mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        mprotect(base_, page_, PROT_NONE);
        mprotect(base_ + page_ + body_, page_, PROT_NONE);
        data_ = at_end ? base_ + page_ + body_ - size : base_ + page_;
        size_ = size;
    }
    ~guarded_buffer() { munmap(base_, len_); }
    guarded_buffer(const guarded_buffer&) = delete;
    guarded_buffer& operator=(const guarded_buffer&) = delete;
    std::span<std::byte> span() { return {data_, size_}; }

private:
    std::byte* base_;
    std::byte* data_;
    std::size_t page_, body_, len_, size_;
};

TEST(Mask, Rfc6455Example_5_7_UnmasksHello) {
    // RFC 6455 §5.7: 0x81 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58 contains "Hello"
    const unsigned char key_octets[] = {0x37, 0xfa, 0x21, 0x3d};
    const unsigned char masked[] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
    mask_key key;
    std::memcpy(&key, key_octets, 4);
    for (simd_level l : supported_levels()) {
        std::byte buf[5];
        std::memcpy(buf, masked, 5);
        EXPECT_EQ(apply_mask_at(l, buf, key), 1u);
        EXPECT_EQ(std::memcmp(buf, "Hello", 5), 0) << to_string(l);
    }
}

TEST(Mask, RotateKeyPutsOctetPhaseFirst_5_3) {
    const unsigned char octets[] = {1, 2, 3, 4};
    mask_key key;
    std::memcpy(&key, octets, 4);
    for (std::size_t phase = 0; phase < 8; ++phase) {
        mask_key r = rotate_key(key, phase);
        unsigned char out[4];
        std::memcpy(out, &r, 4);
        for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(out[i], octets[(i + phase) % 4]);
    }
}

TEST(Mask, EveryPathMatchesScalarAtAllSizesPhasesAndAlignments) {
    std::mt19937 rng(1);
    for (simd_level l : supported_levels()) {
        for (std::size_t n = 0; n <= 300; ++n) {
            for (std::size_t phase = 0; phase < 4; ++phase) {
                std::size_t offset = rng() % 64;
                auto input = random_bytes(rng, n + offset);
                mask_key key = static_cast<mask_key>(rng());
                auto want = input, got = input;
                std::span<std::byte> w(want.data() + offset, n), g(got.data() + offset, n);
                std::size_t want_phase = apply_mask_scalar(w, key, phase);
                ASSERT_EQ(apply_mask_at(l, g, key, phase), want_phase);
                ASSERT_EQ(want, got) << to_string(l) << " n=" << n << " phase=" << phase;
            }
        }
    }
}

TEST(Mask, EveryPathMatchesScalarOnLargeBuffers) {
    std::mt19937 rng(2);
    for (simd_level l : supported_levels()) {
        for (std::size_t n : {1000u, 4093u, 4096u, 65536u + 17u}) {
            std::size_t offset = rng() % 64, phase = rng() % 4;
            auto want = random_bytes(rng, n + offset), got = want;
            mask_key key = static_cast<mask_key>(rng());
            apply_mask_scalar(std::span(want).subspan(offset), key, phase);
            apply_mask_at(l, std::span(got).subspan(offset), key, phase);
            ASSERT_EQ(want, got) << to_string(l) << " n=" << n;
        }
    }
}

TEST(Mask, DispatchedPathFollowsForcedLevel) {
    level_guard guard;
    std::mt19937 rng(3);
    for (simd_level l : supported_levels()) {
        ASSERT_TRUE(force_simd_level(l));
        EXPECT_EQ(active_simd_level(), l);
        for (std::size_t n = 0; n <= 300; n += 7) {
            auto want = random_bytes(rng, n), got = want;
            mask_key key = static_cast<mask_key>(rng());
            ASSERT_EQ(apply_mask(got, key, n % 4), apply_mask_scalar(want, key, n % 4));
            ASSERT_EQ(want, got) << to_string(l) << " n=" << n;
        }
    }
    reset_simd_level();
    EXPECT_EQ(active_simd_level(), detected_simd_level());
}

TEST(Mask, ForcingAnUnsupportedLevelIsRefused) {
    level_guard guard;
    if (detected_simd_level() == simd_level::avx512) GTEST_SKIP() << "CPU supports every level";
    EXPECT_FALSE(force_simd_level(simd_level::avx512));
    EXPECT_EQ(active_simd_level(), detected_simd_level());
}

TEST(Mask, PhaseCarriesAcrossRandomSplits_5_3) {
    level_guard guard;
    std::mt19937 rng(4);
    for (simd_level l : supported_levels()) {
        ASSERT_TRUE(force_simd_level(l));
        for (int round = 0; round < 200; ++round) {
            std::size_t n = rng() % 2000;
            auto whole = random_bytes(rng, n), split = whole;
            mask_key key = static_cast<mask_key>(rng());
            apply_mask_scalar(whole, key);
            std::size_t at = 0, phase = 0;
            while (at < n) {
                std::size_t len = std::min<std::size_t>(n - at, rng() % 150);
                phase = apply_mask(std::span(split).subspan(at, len), key, phase);
                at += len;
            }
            ASSERT_EQ(phase, n % 4);
            ASSERT_EQ(whole, split) << to_string(l);
        }
    }
}

TEST(Mask, MaskingTwiceRestoresThePayload) {
    std::mt19937 rng(5);
    auto original = random_bytes(rng, 5000), buf = original;
    apply_mask(buf, 0xdeadbeef, 3);
    EXPECT_NE(buf, original);
    apply_mask(buf, 0xdeadbeef, 3);
    EXPECT_EQ(buf, original);
}

TEST(Mask, NoPathTouchesBytesOutsideThePayload_GuardPage) {
    std::mt19937 rng(6);
    for (simd_level l : supported_levels()) {
        for (std::size_t n = 0; n <= 300; ++n) {
            for (bool at_end : {true, false}) {
                guarded_buffer buf(n, at_end);
                auto want = random_bytes(rng, n);
                std::copy(want.begin(), want.end(), buf.span().begin());
                apply_mask_scalar(want, 0x01020304, n % 4);
                apply_mask_at(l, buf.span(), 0x01020304, n % 4);
                ASSERT_TRUE(std::equal(want.begin(), want.end(), buf.span().begin())) << to_string(l);
            }
        }
    }
}

}  // namespace
}  // namespace wsring::proto
