// utf8_validator::feed, the dispatched bulk path. A chunk is checked in
// three parts: the DFA (utf8.cpp) finishes a sequence cut at the previous
// chunk's end; a vector kernel (utf8_simd.cpp, AVX2 or AVX-512) checks the
// rest, which starts on a code point boundary; the DFA then re-reads only
// the last sequence to get the state to carry, in case it is cut again.
// Below AVX2 the DFA runs alone, skipping ASCII 8 or 16 bytes at a time.
// Must agree with feed_scalar (tests, fuzz/fuzz_utf8.cpp).
#include <cstring>

#include "base/cpu_features.hpp"
#include "proto/utf8.hpp"
#include "proto/utf8_simd.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace wsring::proto {
namespace {

using state = utf8_validator::state;

// Shorter chunks go to the DFA: the kernels' set-up costs more than it saves.
constexpr std::size_t vector_min = 32;

bool is_continuation(std::byte b) { return (b & std::byte{0xC0}) == std::byte{0x80}; }

// The state after [begin, end), known to start on a code point boundary and to
// be a valid prefix: only its last sequence can be unfinished, so run the DFA
// from that sequence's first byte (at most 4 bytes back).
state tail_state(const std::byte* begin, const std::byte* end) {
    const std::byte* q = end;
    int conts = 0;
    while (conts < 3 && q > begin && is_continuation(q[-1])) {
        --q;
        ++conts;
    }
    if (conts == 3) return utf8_validator::accept;  // 4-byte lead + 3 continuations
    state s = utf8_validator::accept;
    for (const std::byte* r = (q > begin) ? q - 1 : begin; r < end; ++r)
        s = utf8_validator::step(s, static_cast<std::uint8_t>(*r));
    return s;
}

const std::byte* skip_ascii_words(const std::byte* p, const std::byte* end) {
    for (; end - p >= 8; p += 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        if (w & 0x8080808080808080ull) break;
    }
    return p;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse2"))) const std::byte* skip_ascii_sse2(const std::byte* p,
                                                                   const std::byte* end) {
    for (; end - p >= 16; p += 16)
        if (_mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))) != 0) break;
    return skip_ascii_words(p, end);
}
#else
const std::byte* skip_ascii_sse2(const std::byte* p, const std::byte* end) {
    return skip_ascii_words(p, end);
}
#endif

// The DFA over [p, end), jumping over ASCII runs while on a boundary.
template <const std::byte* (*skip_ascii)(const std::byte*, const std::byte*)>
bool run_dfa(state& s, const std::byte* p, const std::byte* end) {
    while (p < end) {
        if (s == utf8_validator::accept) {
            p = skip_ascii(p, end);
            if (p == end) break;
        }
        s = utf8_validator::step(s, static_cast<std::uint8_t>(*p++));
        if (s == utf8_validator::reject) return false;  // fail fast (RFC 6455 §8.1)
    }
    return true;
}

}  // namespace

bool utf8_validator::feed(std::span<const std::byte> chunk) {
    const std::byte* p = chunk.data();
    const std::byte* const end = p + chunk.size();
    // Finish a sequence the previous chunk cut (at most 3 bytes).
    while (state_ != accept && state_ != reject && p < end)
        state_ = step(state_, static_cast<std::uint8_t>(*p++));
    if (state_ == reject) return false;

    using base::simd_level;
    const simd_level level = base::detail::current_level();
    if (level >= simd_level::avx2 && static_cast<std::size_t>(end - p) >= vector_min) {
        const std::size_t n = static_cast<std::size_t>(end - p);
        const bool ok = level == simd_level::avx512 ? detail::utf8_valid_prefix_avx512(p, n)
                                                    : detail::utf8_valid_prefix_avx2(p, n);
        state_ = ok ? tail_state(p, end) : reject;
        return state_ != reject;
    }
    return level >= simd_level::sse2 ? run_dfa<skip_ascii_sse2>(state_, p, end)
                                     : run_dfa<skip_ascii_words>(state_, p, end);
}

}  // namespace wsring::proto
