// Which vector instruction sets this x86-64 CPU offers, and which one the
// fast paths (proto/mask_simd.cpp, proto/utf8_fast.cpp) use. The level is
// detected once, on first use, with __builtin_cpu_supports; tests, fuzzers
// and benchmarks may force a lower one to exercise every path on one machine.
// Off x86-64 everything runs the scalar path. It lives in base/ because it is
// no protocol code: any layer may use it. Read next: proto/mask.hpp.
#pragma once
#include <atomic>
#include <cstdint>
#include <string_view>

namespace wsring::base {

// Ordered: each level implies the ones before it.
enum class simd_level : std::uint8_t {
    scalar,  // portable C++ (8-byte words at most)
    sse2,    // baseline of every x86-64 CPU
    avx2,    // Haswell and later
    avx512,  // AVX-512F + AVX-512BW (Skylake-SP, Ice Lake, Zen 4 and later)
};

// The best level this CPU supports (detected once, thread-safe).
simd_level detected_simd_level();

// The level the dispatched paths use now: detected_simd_level() unless forced.
simd_level active_simd_level();

// Makes the dispatched paths use `level`. Returns false (and changes nothing)
// when the CPU lacks it. For tests and benchmarks; safe to call while other
// threads run the fast paths (each call reads the level once).
bool force_simd_level(simd_level level);

// Back to the detected level.
void reset_simd_level();

std::string_view to_string(simd_level level);

namespace detail {
// The active level, or 0xFF before first use; read by the dispatchers.
inline constexpr std::uint8_t level_unset = 0xFF;
extern std::atomic<std::uint8_t> active_level;

simd_level resolve_active_level();  // the slow path of current_level()

// One relaxed load on the hot path: the level is a hint that never guards
// other memory, and racing first-use resolutions all store the same value.
inline simd_level current_level() {
    std::uint8_t v = active_level.load(std::memory_order_relaxed);
    if (v == level_unset) [[unlikely]]
        return resolve_active_level();
    return static_cast<simd_level>(v);
}
}  // namespace detail

}  // namespace wsring::base
