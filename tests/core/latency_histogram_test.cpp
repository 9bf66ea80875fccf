// Tests for core/latency_histogram: bucket bounds tile the 64-bit range with
// the promised precision, percentiles follow the nearest-rank rule and never
// under-state, and merge equals recording everything into one histogram.
#include "core/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

using wsring::core::latency_histogram;

TEST(LatencyHistogram, SmallValuesAreExact) {
    for (std::uint64_t v = 0; v < latency_histogram::exact_buckets; ++v) {
        std::size_t b = latency_histogram::bucket_of(v);
        EXPECT_EQ(latency_histogram::bucket_lowest(b), v);
        EXPECT_EQ(latency_histogram::bucket_highest(b), v);
    }
}

TEST(LatencyHistogram, BucketsTileTheRangeWithBoundedRelativeError) {
    // Consecutive buckets meet exactly, and each is at most 1/128 of its value wide.
    for (std::size_t i = 0; i + 1 < latency_histogram::bucket_count; ++i) {
        std::uint64_t lo = latency_histogram::bucket_lowest(i);
        std::uint64_t hi = latency_histogram::bucket_highest(i);
        ASSERT_EQ(hi + 1, latency_histogram::bucket_lowest(i + 1)) << i;
        ASSERT_EQ(latency_histogram::bucket_of(lo), i);
        ASSERT_EQ(latency_histogram::bucket_of(hi), i);
        ASSERT_LE(hi - lo, lo / 128) << i;
    }
    EXPECT_EQ(latency_histogram::bucket_of(UINT64_MAX), latency_histogram::bucket_count - 1);
}

TEST(LatencyHistogram, PercentilesUseNearestRank) {
    latency_histogram h;
    for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
    EXPECT_EQ(h.count(), 100u);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_EQ(h.max(), 100u);
    EXPECT_EQ(h.value_at_percentile(50), 50u);
    EXPECT_EQ(h.value_at_percentile(99), 99u);
    EXPECT_EQ(h.value_at_percentile(99.9), 100u);
    EXPECT_EQ(h.value_at_percentile(100), 100u);
    EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(LatencyHistogram, LargeValuesNeverUnderstateAndCapAtMax) {
    latency_histogram h;
    h.record(1'000'000);      // 1 ms in ns
    h.record(1'000'000'000);  // 1 s
    std::uint64_t p50 = h.value_at_percentile(50);
    EXPECT_GE(p50, 1'000'000u);
    EXPECT_LE(p50, 1'000'000u + 1'000'000u / 128);
    EXPECT_EQ(h.value_at_percentile(100), 1'000'000'000u);  // capped at the exact max
}

TEST(LatencyHistogram, OneSlowOutlierShowsAtTheTopPercentile) {
    latency_histogram h;
    h.record_n(10'000, 999);
    h.record(5'000'000);
    EXPECT_LE(h.value_at_percentile(99.9), 10'000u + 10'000u / 128);
    EXPECT_EQ(h.value_at_percentile(99.95), 5'000'000u);
}

TEST(LatencyHistogram, MergeEqualsRecordingIntoOne) {
    latency_histogram a, b, all;
    std::mt19937_64 rng(42);
    for (int i = 0; i < 10000; ++i) {
        std::uint64_t v = rng() >> (rng() % 64);
        (i % 3 ? a : b).record(v);
        all.record(v);
    }
    a.merge(b);
    EXPECT_EQ(a.count(), all.count());
    EXPECT_EQ(a.min(), all.min());
    EXPECT_EQ(a.max(), all.max());
    for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 100.0})
        EXPECT_EQ(a.value_at_percentile(p), all.value_at_percentile(p)) << p;
    for (std::size_t i = 0; i < latency_histogram::bucket_count; ++i)
        ASSERT_EQ(a.bucket_value_count(i), all.bucket_value_count(i));
}

TEST(LatencyHistogram, ResetEmptiesEverything) {
    latency_histogram h;
    h.record(123);
    h.reset();
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.value_at_percentile(99), 0u);
}
