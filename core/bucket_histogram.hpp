// A Prometheus-style histogram with fixed bucket bounds, written by one
// thread (a reactor, the broker's thread) and read by any: each bucket is a
// core::counter, so observing is a short scan and two relaxed stores, and a
// scrape reads without stopping the writer. Bounds are in nanoseconds;
// the exporter turns them into the seconds Prometheus expects (`le`).
//
// Unlike core::latency_histogram (ws-bench's, 1 % precision over 64 bits,
// ~30 KiB) this one is a few cache lines: a server keeps one per reactor and
// publishes cumulative counts, which is all `histogram_quantile()` needs.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "core/counter.hpp"

namespace wsring::core {

class bucket_histogram {
public:
    // Upper bounds (inclusive, "le"), in ns: 50 µs … 10 s, roughly ×2.5 per step.
    static constexpr std::array<std::uint64_t, 16> bounds_ns{
        50'000,      100'000,     250'000,       500'000,       1'000'000,     2'500'000,
        5'000'000,   10'000'000,  25'000'000,    50'000'000,    100'000'000,   250'000'000,
        500'000'000, 1'000'000'000, 2'500'000'000, 10'000'000'000};
    static constexpr std::size_t bucket_count = bounds_ns.size() + 1;  // the last: +Inf

    // The single writer only (core/counter.hpp).
    void observe(std::uint64_t ns) { observe_n(ns, 1); }
    void observe_n(std::uint64_t ns, std::uint64_t n) {
        std::size_t i = 0;
        while (i < bounds_ns.size() && ns > bounds_ns[i]) ++i;
        buckets_[i] += n;
        sum_ns_ += ns * n;
        count_ += n;
    }

    // Any thread. Per bucket (not cumulative); the exporter accumulates.
    std::uint64_t bucket(std::size_t i) const { return buckets_[i]; }
    std::uint64_t sum_ns() const { return sum_ns_; }
    std::uint64_t count() const { return count_; }

    bucket_histogram& operator+=(const bucket_histogram& o) {  // sums reactors (the reader's copy)
        for (std::size_t i = 0; i < bucket_count; ++i) buckets_[i] += o.buckets_[i];
        sum_ns_ += o.sum_ns_;
        count_ += o.count_;
        return *this;
    }

private:
    std::array<counter, bucket_count> buckets_{};
    counter sum_ns_;
    counter count_;
};

}  // namespace wsring::core
