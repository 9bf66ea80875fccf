// Vector UTF-8 validation with the lookup algorithm of Keiser and Lemire,
// "Validating UTF-8 In Less Than One Instruction Per Byte" (2021): every
// byte is checked against the byte before it with three 16-entry nibble
// tables (pshufb), plus one test that the 3rd and 4th bytes of long
// sequences are continuations. Rules: RFC 3629 §4, Unicode Table 3-7.
// AVX2 (32 bytes) and AVX-512BW (64 bytes) kernels share the tables.
// Called from utf8_fast.cpp; must agree with the DFA in utf8.cpp.
#include "proto/utf8_simd.hpp"

#include <array>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace wsring::proto::detail {
namespace {

// ---- the tables, built from the rules they encode ---------------------------
// Each rule names a set of (previous byte, this byte) pairs that never occur
// in valid UTF-8, as: high nibble of the previous byte in `hi1`, its low
// nibble in `lo1`, high nibble of this byte in `hi2` (16-bit sets of
// nibbles). A pair is bad for a rule when all three nibbles are in its sets,
// so table_hi1[..] & table_lo1[..] & table_hi2[..] has that rule's bit set.
constexpr std::uint16_t nibbles(int lo, int hi) {
    std::uint16_t s = 0;
    for (int n = lo; n <= hi; ++n) s = static_cast<std::uint16_t>(s | (1u << n));
    return s;
}
constexpr std::uint16_t any = 0xFFFF;
constexpr std::uint16_t ascii = nibbles(0x0, 0x7), cont = nibbles(0x8, 0xB);
constexpr std::uint16_t lead = nibbles(0xC, 0xF);

struct pair_rule {
    std::uint8_t bit;
    std::uint16_t hi1, lo1, hi2;
};

constexpr std::uint8_t two_conts = 0x80;  // 10xxxxxx 10xxxxxx: legal only as 3rd/4th byte
constexpr pair_rule rules[] = {
    {0x01, lead, any, ascii | lead},                             // lead not followed by 80..BF
    {0x02, ascii, any, cont},                                    // continuation after ASCII
    {0x04, nibbles(0xE, 0xE), nibbles(0x0, 0x0), nibbles(0x8, 0x9)},  // E0 80..9F overlong
    {0x08, nibbles(0xF, 0xF), nibbles(0x4, 0xF), nibbles(0x9, 0xB)},  // F4 90.., F5+: > U+10FFFF
    {0x10, nibbles(0xE, 0xE), nibbles(0xD, 0xD), nibbles(0xA, 0xB)},  // ED A0..BF surrogates
    {0x20, nibbles(0xC, 0xC), nibbles(0x0, 0x1), cont},          // C0, C1: overlong 2-byte
    {0x40, nibbles(0xF, 0xF), nibbles(0x0, 0x0) | nibbles(0x5, 0xF), nibbles(0x8, 0x8)},
    //      ^ F0 80..8F overlong 4-byte; F5..FF 80..8F above U+10FFFF
    {two_conts, cont, any, cont},
};

constexpr std::array<std::uint8_t, 16> table(std::uint16_t pair_rule::*set) {
    std::array<std::uint8_t, 16> t{};
    for (int n = 0; n < 16; ++n)
        for (const pair_rule& r : rules)
            if ((r.*set >> n) & 1) t[n] = static_cast<std::uint8_t>(t[n] | r.bit);
    return t;
}
// Repeated 4 times: pshufb looks up within each 128-bit lane.
constexpr std::array<std::uint8_t, 64> lanes(std::array<std::uint8_t, 16> t) {
    std::array<std::uint8_t, 64> out{};
    for (int i = 0; i < 64; ++i) out[i] = t[i % 16];
    return out;
}
constexpr auto table_hi1 = lanes(table(&pair_rule::hi1));
constexpr auto table_lo1 = lanes(table(&pair_rule::lo1));
constexpr auto table_hi2 = lanes(table(&pair_rule::hi2));

// A block ends inside a sequence when, saturating-subtracted from these, a
// byte stays nonzero: F0..FF 3rd-last, E0..FF 2nd-last, C0..FF last (the
// vector kernels use the last 32 or all 64).
constexpr std::array<std::uint8_t, 64> incomplete_limit = [] {
    std::array<std::uint8_t, 64> t{};
    for (auto& b : t) b = 0xFF;
    t[61] = 0xF0 - 1;
    t[62] = 0xE0 - 1;
    t[63] = 0xC0 - 1;
    return t;
}();

// ---- AVX2: 32 bytes per block --------------------------------------------------
#define WSRING_AVX2 __attribute__((target("avx2")))

WSRING_AVX2 inline __m256i load32(const std::uint8_t* t) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t));
}

// The block shifted right by N bytes, its first N bytes taken from the end of
// `prev`: byte i becomes the byte N positions before it in the text.
template <int N>
WSRING_AVX2 inline __m256i prev_bytes(__m256i in, __m256i prev) {
    __m256i straddle = _mm256_permute2x128_si256(prev, in, 0x21);  // prev.hi, in.lo
    return _mm256_alignr_epi8(in, straddle, 16 - N);
}

class avx2_checker {
public:
    WSRING_AVX2 avx2_checker()
        : hi1_(load32(table_hi1.data())), lo1_(load32(table_lo1.data())), hi2_(load32(table_hi2.data())),
          limit_(load32(incomplete_limit.data() + 32)) {}

    // Checks one block; `valid` has 0xFF for the bytes that are text (all but
    // the zero padding of a final partial block).
    WSRING_AVX2 void check(__m256i in, __m256i valid) {
        if (_mm256_movemask_epi8(in) == 0) {  // all ASCII: only a cut sequence before it can fail
            error_ = _mm256_or_si256(error_, prev_incomplete_);
            prev_incomplete_ = _mm256_setzero_si256();
            prev_ = in;
        } else {
            check_all(in, valid);
        }
    }
    // The full check, right for any block (an ASCII one too).
    WSRING_AVX2 void check_all(__m256i in, __m256i valid) {
        error_ = _mm256_or_si256(error_, _mm256_and_si256(block_errors(in), valid));
        prev_incomplete_ = _mm256_subs_epu8(in, limit_);
        prev_ = in;
    }
    // Several blocks known to be all ASCII, `last` the final one: only a
    // sequence cut before them can fail.
    WSRING_AVX2 void ascii_blocks(__m256i last) {
        error_ = _mm256_or_si256(error_, prev_incomplete_);
        prev_incomplete_ = _mm256_setzero_si256();
        prev_ = last;
    }
    WSRING_AVX2 bool ok() const { return _mm256_testz_si256(error_, error_); }

private:
    WSRING_AVX2 __m256i block_errors(__m256i in) const {
        const __m256i low4 = _mm256_set1_epi8(0x0F);
        __m256i prev1 = prev_bytes<1>(in, prev_);
        __m256i b1_hi = _mm256_shuffle_epi8(hi1_, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), low4));
        __m256i b1_lo = _mm256_shuffle_epi8(lo1_, _mm256_and_si256(prev1, low4));
        __m256i b2_hi = _mm256_shuffle_epi8(hi2_, _mm256_and_si256(_mm256_srli_epi16(in, 4), low4));
        __m256i special = _mm256_and_si256(_mm256_and_si256(b1_hi, b1_lo), b2_hi);
        // A byte must be a continuation when 2 before it is E0..FF or 3 before
        // it is F0..FF; the tables flag exactly the continuation-after-
        // continuation pairs with two_conts, so the two must coincide.
        __m256i third = _mm256_subs_epu8(prev_bytes<2>(in, prev_), _mm256_set1_epi8(0xE0 - 0x80));
        __m256i fourth = _mm256_subs_epu8(prev_bytes<3>(in, prev_), _mm256_set1_epi8(0x70));
        __m256i must = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(char(two_conts)));
        return _mm256_xor_si256(must, special);
    }

    __m256i hi1_, lo1_, hi2_, limit_;
    __m256i prev_ = _mm256_setzero_si256();  // the text before p starts on a boundary
    __m256i prev_incomplete_ = _mm256_setzero_si256();
    __m256i error_ = _mm256_setzero_si256();
};

// ---- AVX-512BW: 64 bytes per block ---------------------------------------------
#define WSRING_AVX512 __attribute__((target("avx512f,avx512bw")))

WSRING_AVX512 inline __m512i load64(const std::uint8_t* t) { return _mm512_loadu_si512(t); }

template <int N>
WSRING_AVX512 inline __m512i prev_bytes512(__m512i in, __m512i prev) {
    // 128-bit lanes (prev.3, in.0, in.1, in.2): each lane's predecessor.
    const __m512i lanes_3012 = _mm512_setr_epi64(6, 7, 8, 9, 10, 11, 12, 13);  // qwords of prev:in
    __m512i straddle = _mm512_permutex2var_epi64(prev, lanes_3012, in);
    return _mm512_alignr_epi8(in, straddle, 16 - N);
}

class avx512_checker {
public:
    WSRING_AVX512 avx512_checker()
        : hi1_(load64(table_hi1.data())), lo1_(load64(table_lo1.data())),
          hi2_(load64(table_hi2.data())), limit_(load64(incomplete_limit.data())) {}

    // `valid` selects the bytes that are text (all but a partial block's padding).
    WSRING_AVX512 void check(__m512i in, __mmask64 valid) {
        if (_mm512_movepi8_mask(in) == 0) {
            error_ = _mm512_or_si512(error_, prev_incomplete_);
            prev_incomplete_ = _mm512_setzero_si512();
            prev_ = in;
        } else {
            check_all(in, valid);
        }
    }
    // The full check, right for any block (an ASCII one too).
    WSRING_AVX512 void check_all(__m512i in, __mmask64 valid) {
        error_ = _mm512_or_si512(error_, _mm512_maskz_mov_epi8(valid, block_errors(in)));
        prev_incomplete_ = _mm512_subs_epu8(in, limit_);
        prev_ = in;
    }
    WSRING_AVX512 void ascii_blocks(__m512i last) {
        error_ = _mm512_or_si512(error_, prev_incomplete_);
        prev_incomplete_ = _mm512_setzero_si512();
        prev_ = last;
    }
    WSRING_AVX512 bool ok() const { return _mm512_test_epi8_mask(error_, error_) == 0; }

private:
    WSRING_AVX512 __m512i block_errors(__m512i in) const {
        const __m512i low4 = _mm512_set1_epi8(0x0F);
        __m512i prev1 = prev_bytes512<1>(in, prev_);
        __m512i b1_hi = _mm512_shuffle_epi8(hi1_, _mm512_and_si512(_mm512_srli_epi16(prev1, 4), low4));
        __m512i b1_lo = _mm512_shuffle_epi8(lo1_, _mm512_and_si512(prev1, low4));
        __m512i b2_hi = _mm512_shuffle_epi8(hi2_, _mm512_and_si512(_mm512_srli_epi16(in, 4), low4));
        __m512i special = _mm512_and_si512(_mm512_and_si512(b1_hi, b1_lo), b2_hi);
        __m512i third = _mm512_subs_epu8(prev_bytes512<2>(in, prev_), _mm512_set1_epi8(0x60));
        __m512i fourth = _mm512_subs_epu8(prev_bytes512<3>(in, prev_), _mm512_set1_epi8(0x70));
        __m512i must = _mm512_and_si512(_mm512_or_si512(third, fourth), _mm512_set1_epi8(char(two_conts)));
        return _mm512_xor_si512(must, special);
    }

    __m512i hi1_, lo1_, hi2_, limit_;
    __m512i prev_ = _mm512_setzero_si512();
    __m512i prev_incomplete_ = _mm512_setzero_si512();
    __m512i error_ = _mm512_setzero_si512();
};

}  // namespace

WSRING_AVX2 bool utf8_valid_prefix_avx2(const std::byte* p, std::size_t n) {
    avx2_checker c;
    const __m256i all = _mm256_set1_epi8(-1);
    for (; n >= 128; p += 128, n -= 128) {  // four blocks per turn, one ASCII test for all
        auto* v = reinterpret_cast<const __m256i*>(p);
        __m256i a = _mm256_loadu_si256(v), b = _mm256_loadu_si256(v + 1);
        __m256i d = _mm256_loadu_si256(v + 2), e = _mm256_loadu_si256(v + 3);
        if (_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(d, e))) == 0) {
            c.ascii_blocks(e);
            continue;
        }
        c.check_all(a, all);
        c.check_all(b, all);
        c.check_all(d, all);
        c.check_all(e, all);
    }
    for (; n >= 32; p += 32, n -= 32) c.check(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), all);
    if (n > 0) {  // the rest, zero-padded in a copy; padding errors are masked off
        alignas(32) unsigned char tail[32] = {};
        std::memcpy(tail, p, n);
        const __m256i index = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                               16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                                               29, 30, 31);
        __m256i valid = _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(n)), index);
        c.check(_mm256_load_si256(reinterpret_cast<const __m256i*>(tail)), valid);
    }
    return c.ok();
}

WSRING_AVX512 bool utf8_valid_prefix_avx512(const std::byte* p, std::size_t n) {
    avx512_checker c;
    const __mmask64 all = ~__mmask64{0};
    for (; n >= 256; p += 256, n -= 256) {  // four blocks per turn, one ASCII test for all
        __m512i a = _mm512_loadu_si512(p), b = _mm512_loadu_si512(p + 64);
        __m512i d = _mm512_loadu_si512(p + 128), e = _mm512_loadu_si512(p + 192);
        if (_mm512_movepi8_mask(_mm512_or_si512(_mm512_or_si512(a, b), _mm512_or_si512(d, e))) == 0) {
            c.ascii_blocks(e);
            continue;
        }
        c.check_all(a, all);
        c.check_all(b, all);
        c.check_all(d, all);
        c.check_all(e, all);
    }
    for (; n >= 64; p += 64, n -= 64) c.check(_mm512_loadu_si512(p), all);
    if (n > 0) {  // masked load: the bytes past the end read as 0 and never fault
        __mmask64 valid = (__mmask64{1} << n) - 1;
        c.check(_mm512_maskz_loadu_epi8(valid, p), valid);
    }
    return c.ok();
}

}  // namespace wsring::proto::detail

#else  // not x86-64: never called (the dispatcher stays scalar)

namespace wsring::proto::detail {
bool utf8_valid_prefix_avx2(const std::byte*, std::size_t) { return false; }
bool utf8_valid_prefix_avx512(const std::byte*, std::size_t) { return false; }
}  // namespace wsring::proto::detail

#endif
