// A log-linear latency histogram in the style of HdrHistogram: values below
// 2^sub_bits are counted exactly; above that, every power-of-two range is
// split into 2^(sub_bits-1) equal buckets, so any recorded value is known to
// within 1 part in 128 (< 0.8 %) over the whole 64-bit range. Recording is a
// few integer operations and never allocates; merging is a vector add.
// Used by ws-bench (round-trip and delivery latency); ws-server's stats may
// reuse it. Values are unit-free (ws-bench records nanoseconds).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace wsring::core {

class latency_histogram {
public:
    static constexpr unsigned sub_bits = 8;                        // exact below 256
    static constexpr std::size_t exact_buckets = 1u << sub_bits;   // 256
    static constexpr std::size_t half = exact_buckets / 2;         // buckets per octave
    static constexpr std::size_t bucket_count = exact_buckets + (64 - sub_bits) * half;

    latency_histogram();  // allocates the bucket array once

    void record(std::uint64_t value) { record_n(value, 1); }
    void record_n(std::uint64_t value, std::uint64_t n);
    void merge(const latency_histogram& other);
    void reset();

    std::uint64_t count() const { return count_; }
    std::uint64_t min() const { return count_ ? min_ : 0; }
    std::uint64_t max() const { return max_; }
    double mean() const;

    // The smallest recorded bucket bound v such that at least `percentile` %
    // of the values are <= v (reported as the bucket's highest value, capped
    // at max(): it never under-states). percentile in [0, 100]; 0 when empty.
    std::uint64_t value_at_percentile(double percentile) const;

    // Bucket arithmetic, public for tests and for exporting the raw counts.
    static std::size_t bucket_of(std::uint64_t value);
    static std::uint64_t bucket_lowest(std::size_t index);
    static std::uint64_t bucket_highest(std::size_t index);
    std::uint64_t bucket_value_count(std::size_t index) const { return buckets_[index]; }

private:
    std::vector<std::uint64_t> buckets_;
    std::uint64_t count_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
    long double sum_ = 0;  // for mean(); long double keeps ns sums exact enough
};

}  // namespace wsring::core
