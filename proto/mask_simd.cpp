// The wide masking paths (RFC 6455 §5.3) and the run-time choice between
// them: 8-byte words (portable), SSE2 (x86-64 baseline), AVX2 and AVX-512BW,
// each compiled for its target with __attribute__((target)) so one binary
// runs on any x86-64 and picks the widest path once (base/cpu_features.hpp).
// Every path must agree with apply_mask_scalar in mask.cpp; the tests and
// fuzz/fuzz_mask.cpp compare them at every size and phase.
#include <cstdint>
#include <cstring>

#include "proto/mask.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WSRING_MASK_X86 1
#include <immintrin.h>
#endif

namespace wsring::proto {
namespace {

// Every kernel gets a key already rotated so that its first octet masks p[0];
// a multiple of 4 octets later the same key applies again.
using mask_kernel = void (*)(std::byte* p, std::size_t n, mask_key k);

using detail::mask_words;

void mask_portable(std::byte* p, std::size_t n, mask_key k) { mask_words(p, n, k); }

// Large buffers: mask a head with words so the wide loop stores aligned
// (a store that splits a cache line costs twice); returns the key for the
// new start.
inline mask_key align_head(std::byte*& p, std::size_t& n, mask_key k, std::size_t align) {
    std::size_t head = (align - reinterpret_cast<std::uintptr_t>(p) % align) % align;
    mask_words(p, head, k);
    p += head;
    n -= head;
    return rotate_key(k, head);
}

#ifdef WSRING_MASK_X86
__attribute__((target("sse2"))) void mask_sse2(std::byte* p, std::size_t n, mask_key k) {
    if (n >= 256) k = align_head(p, n, k, 16);
    const __m128i kv = _mm_set1_epi32(static_cast<int>(k));  // x86 is little-endian
    auto* v = reinterpret_cast<__m128i*>(p);
    for (; n >= 64; n -= 64, v += 4) {
        __m128i a = _mm_loadu_si128(v), b = _mm_loadu_si128(v + 1);
        __m128i c = _mm_loadu_si128(v + 2), d = _mm_loadu_si128(v + 3);
        _mm_storeu_si128(v, _mm_xor_si128(a, kv));
        _mm_storeu_si128(v + 1, _mm_xor_si128(b, kv));
        _mm_storeu_si128(v + 2, _mm_xor_si128(c, kv));
        _mm_storeu_si128(v + 3, _mm_xor_si128(d, kv));
    }
    for (; n >= 16; n -= 16, ++v) _mm_storeu_si128(v, _mm_xor_si128(_mm_loadu_si128(v), kv));
    mask_words(reinterpret_cast<std::byte*>(v), n, k);
}

// Fewer than 64 octets, as the head before an aligned loop or the tail after
// it: one 32-octet step, one 16-octet step, then words. Byte-masked AVX-512
// loads and stores would do it in one step each, but cost as much as a
// whole 1 KiB loop on the Xeons we measured (docs/performance.md).
__attribute__((target("avx2"))) inline void mask_short_avx2(std::byte* p, std::size_t n, mask_key k) {
    if (n >= 32) {
        auto* h = reinterpret_cast<__m256i*>(p);
        _mm256_storeu_si256(h, _mm256_xor_si256(_mm256_loadu_si256(h), _mm256_set1_epi32(static_cast<int>(k))));
        p += 32;
        n -= 32;
    }
    if (n >= 16) {
        auto* h = reinterpret_cast<__m128i*>(p);
        _mm_storeu_si128(h, _mm_xor_si128(_mm_loadu_si128(h), _mm_set1_epi32(static_cast<int>(k))));
        p += 16;
        n -= 16;
    }
    mask_words(p, n, k);
}

// Masks the octets up to the next `align` boundary (fewer than 64) so the
// wide loop stores aligned; returns the key for the new start.
__attribute__((target("avx2"))) inline mask_key align_head_avx2(std::byte*& p, std::size_t& n, mask_key k,
                                                               std::size_t align) {
    std::size_t head = (align - reinterpret_cast<std::uintptr_t>(p) % align) % align;
    mask_short_avx2(p, head, k);
    p += head;
    n -= head;
    return rotate_key(k, head);
}

__attribute__((target("avx2"))) void mask_avx2(std::byte* p, std::size_t n, mask_key k) {
    if (n >= 256) k = align_head_avx2(p, n, k, 32);
    const __m256i kv = _mm256_set1_epi32(static_cast<int>(k));
    auto* v = reinterpret_cast<__m256i*>(p);
    for (; n >= 128; n -= 128, v += 4) {
        __m256i a = _mm256_loadu_si256(v), b = _mm256_loadu_si256(v + 1);
        __m256i c = _mm256_loadu_si256(v + 2), d = _mm256_loadu_si256(v + 3);
        _mm256_storeu_si256(v, _mm256_xor_si256(a, kv));
        _mm256_storeu_si256(v + 1, _mm256_xor_si256(b, kv));
        _mm256_storeu_si256(v + 2, _mm256_xor_si256(c, kv));
        _mm256_storeu_si256(v + 3, _mm256_xor_si256(d, kv));
    }
    for (; n >= 32; n -= 32, ++v)
        _mm256_storeu_si256(v, _mm256_xor_si256(_mm256_loadu_si256(v), kv));
    mask_short_avx2(reinterpret_cast<std::byte*>(v), n, k);
}

// AVX-512 only widens the loop; head and tail take the AVX2 steps above.
__attribute__((target("avx512f,avx512bw"))) void mask_avx512(std::byte* p, std::size_t n,
                                                             mask_key k) {
    if (n >= 256) k = align_head_avx2(p, n, k, 64);
    const __m512i kv = _mm512_set1_epi32(static_cast<int>(k));
    auto* v = reinterpret_cast<__m512i*>(p);
    for (; n >= 256; n -= 256, v += 4) {
        __m512i a = _mm512_loadu_si512(v), b = _mm512_loadu_si512(v + 1);
        __m512i c = _mm512_loadu_si512(v + 2), d = _mm512_loadu_si512(v + 3);
        _mm512_storeu_si512(v, _mm512_xor_si512(a, kv));
        _mm512_storeu_si512(v + 1, _mm512_xor_si512(b, kv));
        _mm512_storeu_si512(v + 2, _mm512_xor_si512(c, kv));
        _mm512_storeu_si512(v + 3, _mm512_xor_si512(d, kv));
    }
    for (; n >= 64; n -= 64, ++v)
        _mm512_storeu_si512(v, _mm512_xor_si512(_mm512_loadu_si512(v), kv));
    mask_short_avx2(reinterpret_cast<std::byte*>(v), n, k);
}
#endif  // WSRING_MASK_X86

// Indexed by simd_level; a level this build lacks falls back to words.
#ifdef WSRING_MASK_X86
constexpr mask_kernel kernels[] = {mask_portable, mask_sse2, mask_avx2, mask_avx512};
#else
constexpr mask_kernel kernels[] = {mask_portable, mask_portable, mask_portable, mask_portable};
#endif

}  // namespace

void detail::mask_dispatched(std::byte* p, std::size_t n, mask_key k) {
    kernels[static_cast<int>(base::detail::current_level())](p, n, k);
}

std::size_t apply_mask_at(base::simd_level level, std::span<std::byte> data, mask_key key,
                          std::size_t phase) {
    if (level > base::detected_simd_level()) level = base::detected_simd_level();
    kernels[static_cast<int>(level)](data.data(), data.size(), rotate_key(key, phase));
    return (phase + data.size()) & 3;
}

}  // namespace wsring::proto
