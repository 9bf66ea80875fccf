// Run-time CPU detection for the fast paths: __builtin_cpu_supports reads
// CPUID (and the OS's XSAVE support for the wide registers) once; the
// result lives in one atomic byte that the dispatchers read per call.
#include "base/cpu_features.hpp"

namespace wsring::base {

namespace detail {
std::atomic<std::uint8_t> active_level{level_unset};

simd_level resolve_active_level() {
    simd_level l = detected_simd_level();
    active_level.store(static_cast<std::uint8_t>(l), std::memory_order_relaxed);
    return l;
}
}  // namespace detail

namespace {
simd_level detect() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
        return simd_level::avx512;
    if (__builtin_cpu_supports("avx2")) return simd_level::avx2;
    return simd_level::sse2;  // every x86-64 CPU has SSE2
#else
    return simd_level::scalar;
#endif
}
}  // namespace

simd_level detected_simd_level() {
    static const simd_level level = detect();  // C++11 magic static: thread-safe
    return level;
}

simd_level active_simd_level() { return detail::current_level(); }

bool force_simd_level(simd_level level) {
    if (level > detected_simd_level()) return false;
    detail::active_level.store(static_cast<std::uint8_t>(level), std::memory_order_relaxed);
    return true;
}

void reset_simd_level() { force_simd_level(detected_simd_level()); }

std::string_view to_string(simd_level level) {
    switch (level) {
    case simd_level::scalar: return "scalar";
    case simd_level::sse2: return "sse2";
    case simd_level::avx2: return "avx2";
    case simd_level::avx512: return "avx512";
    }
    return "?";
}

}  // namespace wsring::base
