// Tests for base/cpu_features.* and base/cache_line.hpp: the detected level
// is one the CPU runs, forcing obeys it (lower levels allowed, higher
// refused), reset returns to it, and every level has its name. The fast
// paths that read the level are tested in tests/proto (mask, utf8).
#include "base/cpu_features.hpp"

#include <gtest/gtest.h>

#include "base/cache_line.hpp"

namespace wsring::base {
namespace {

struct level_guard {
    ~level_guard() { reset_simd_level(); }
};

TEST(CpuFeatures, DetectedLevelIsStableAndActiveByDefault) {
    level_guard guard;
    reset_simd_level();
    EXPECT_EQ(detected_simd_level(), detected_simd_level());
    EXPECT_EQ(active_simd_level(), detected_simd_level());
#if defined(__x86_64__)
    EXPECT_GE(detected_simd_level(), simd_level::sse2);  // every x86-64 CPU has SSE2
#endif
}

TEST(CpuFeatures, ForcingALowerLevelWorksAndResetUndoesIt) {
    level_guard guard;
    ASSERT_TRUE(force_simd_level(simd_level::scalar));
    EXPECT_EQ(active_simd_level(), simd_level::scalar);
    reset_simd_level();
    EXPECT_EQ(active_simd_level(), detected_simd_level());
}

TEST(CpuFeatures, ForcingAnUnsupportedLevelChangesNothing) {
    level_guard guard;
    if (detected_simd_level() == simd_level::avx512) GTEST_SKIP() << "CPU supports every level";
    ASSERT_TRUE(force_simd_level(simd_level::scalar));
    EXPECT_FALSE(force_simd_level(simd_level::avx512));
    EXPECT_EQ(active_simd_level(), simd_level::scalar);
}

TEST(CpuFeatures, EveryLevelHasItsName) {
    EXPECT_EQ(to_string(simd_level::scalar), "scalar");
    EXPECT_EQ(to_string(simd_level::sse2), "sse2");
    EXPECT_EQ(to_string(simd_level::avx2), "avx2");
    EXPECT_EQ(to_string(simd_level::avx512), "avx512");
}

TEST(CacheLine, IsAPowerOfTwoAtLeastAsWideAsTheAtomicsItSeparates) {
    static_assert((cache_line & (cache_line - 1)) == 0);
    EXPECT_EQ(cache_line, 64u);
}

}  // namespace
}  // namespace wsring::base
