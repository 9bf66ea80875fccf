// The bucket arithmetic of latency_histogram. An index is either the value
// itself (below 2^sub_bits) or, for a value whose top set bit is `msb`, the
// octave (msb - sub_bits) followed by the next sub_bits-1 bits below the top
// bit. The highest value of a bucket is the lowest value of the next minus 1.
#include "core/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace wsring::core {

latency_histogram::latency_histogram() : buckets_(bucket_count, 0) {}

std::size_t latency_histogram::bucket_of(std::uint64_t value) {
    if (value < exact_buckets) return static_cast<std::size_t>(value);
    unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(value));
    unsigned shift = msb - (sub_bits - 1);                 // keeps sub_bits significant bits
    std::size_t top = static_cast<std::size_t>(value >> shift);  // in [half, 2*half)
    return exact_buckets + (msb - sub_bits) * half + (top - half);
}

std::uint64_t latency_histogram::bucket_lowest(std::size_t index) {
    if (index < exact_buckets) return index;
    std::size_t octave = (index - exact_buckets) / half;   // msb - sub_bits
    std::size_t top = half + (index - exact_buckets) % half;
    return static_cast<std::uint64_t>(top) << (octave + 1);
}

std::uint64_t latency_histogram::bucket_highest(std::size_t index) {
    if (index + 1 >= bucket_count) return UINT64_MAX;
    return bucket_lowest(index + 1) - 1;
}

void latency_histogram::record_n(std::uint64_t value, std::uint64_t n) {
    if (n == 0) return;
    buckets_[bucket_of(value)] += n;
    count_ += n;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
    sum_ += static_cast<long double>(value) * static_cast<long double>(n);
}

void latency_histogram::merge(const latency_histogram& other) {
    if (other.count_ == 0) return;
    for (std::size_t i = 0; i < bucket_count; ++i) buckets_[i] += other.buckets_[i];
    count_ += other.count_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
}

void latency_histogram::reset() {
    std::fill(buckets_.begin(), buckets_.end(), 0);
    count_ = 0;
    min_ = UINT64_MAX;
    max_ = 0;
    sum_ = 0;
}

double latency_histogram::mean() const {
    return count_ ? static_cast<double>(sum_ / static_cast<long double>(count_)) : 0.0;
}

std::uint64_t latency_histogram::value_at_percentile(double percentile) const {
    if (count_ == 0) return 0;
    percentile = std::clamp(percentile, 0.0, 100.0);
    // The rank of the value asked for, 1-based: p50 of 10 values is the 5th.
    // The tiny relative slack keeps 99.9 % of 1000 at rank 999, not 1000,
    // despite 99.9 having no exact binary form.
    double exact = percentile * static_cast<double>(count_) / 100.0;
    auto rank = static_cast<std::uint64_t>(std::ceil(exact - exact * 1e-12));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += buckets_[i];
        if (seen >= rank) return std::min(bucket_highest(i), max_);
    }
    return max_;
}

}  // namespace wsring::core
