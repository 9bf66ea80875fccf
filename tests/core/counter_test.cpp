// tests/core/counter_test.cpp: core/counter.hpp and core/bucket_histogram.hpp.
// A counter counts like the integer it replaced and copies as a snapshot;
// one writer and a concurrent reader see monotonic values that end exact
// (the TSan build runs this: relaxed atomics, no data race). The histogram
// puts a value in the first bucket whose bound is >= it, +Inf past the last,
// and sums like a vector.
#include "core/counter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "core/bucket_histogram.hpp"

namespace wsring::core {
namespace {

TEST(Counter, CountsAndCopiesAsANumber) {
    counter c;
    ++c;
    c += 41;
    EXPECT_EQ(c.get(), 42u);
    counter snapshot = c;
    ++c;
    EXPECT_EQ(snapshot.get(), 42u);
    EXPECT_EQ(static_cast<std::uint64_t>(c), 43u);
    c -= 3;
    --c;
    EXPECT_EQ(c.get(), 39u);
    snapshot = c;
    EXPECT_EQ(snapshot.get(), 39u);
}

TEST(Counter, AReaderOnAnotherThreadSeesItGrowToTheExactTotal) {
    constexpr std::uint64_t n = 200'000;
    counter c;
    std::atomic<bool> done{false};
    std::uint64_t seen_last = 0;
    bool monotonic = true;
    std::thread reader([&] {
        while (!done.load(std::memory_order_acquire)) {
            std::uint64_t v = c.get();
            if (v < seen_last) monotonic = false;
            seen_last = v;
        }
    });
    for (std::uint64_t i = 0; i < n; ++i) ++c;
    done.store(true, std::memory_order_release);
    reader.join();
    EXPECT_TRUE(monotonic);
    EXPECT_EQ(c.get(), n);
}

TEST(BucketHistogram, PutsEachValueInTheFirstBucketAtOrAboveIt) {
    bucket_histogram h;
    h.observe(0);                                   // bucket 0 (le 50 µs)
    h.observe(bucket_histogram::bounds_ns[0]);      // still bucket 0: bounds are inclusive
    h.observe(bucket_histogram::bounds_ns[0] + 1);  // bucket 1
    h.observe_n(bucket_histogram::bounds_ns.back() + 1, 3);  // +Inf, three times
    EXPECT_EQ(h.bucket(0), 2u);
    EXPECT_EQ(h.bucket(1), 1u);
    EXPECT_EQ(h.bucket(bucket_histogram::bucket_count - 1), 3u);
    EXPECT_EQ(h.count(), 6u);
    EXPECT_EQ(h.sum_ns(), 2 * bucket_histogram::bounds_ns[0] + 1 + 3 * (bucket_histogram::bounds_ns.back() + 1));
}

TEST(BucketHistogram, SumsLikeAVector) {
    bucket_histogram a, b;
    a.observe(1'000'000);
    b.observe(1'000'000);
    b.observe(20'000'000'000);
    a += b;
    EXPECT_EQ(a.count(), 3u);
    EXPECT_EQ(a.bucket(4), 2u);  // le 1 ms
    EXPECT_EQ(a.bucket(bucket_histogram::bucket_count - 1), 1u);
}

}  // namespace
}  // namespace wsring::core
