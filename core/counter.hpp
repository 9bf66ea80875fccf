// A statistic one thread writes and any thread may read: the reactors'
// counters, read by GET /metrics from whichever reactor (or the metrics
// port's) took the request, while the owner keeps counting.
//
// The owner adds with a relaxed load and a relaxed store, not a
// fetch_add: on x86-64 both are plain MOVs, so counting costs what a plain
// uint64_t did (a locked add would cost ~20 cycles per message). That is
// only correct with ONE writer at a time — the owning reactor, or writers
// that hold the same mutex. Readers get some recent value, never a torn
// one; summing reactors gives a total that is exact once they stopped.
//
// Copying takes a snapshot, so a struct of counters still copies as the
// plain struct of numbers it replaced (session_stats, tls_stats, ...).
#pragma once
#include <atomic>
#include <cstdint>

namespace wsring::core {

class counter {
public:
    counter() = default;
    counter(std::uint64_t v) : v_(v) {}  // NOLINT: implicit, a number stands for a counter
    counter(const counter& o) : v_(o.get()) {}
    counter& operator=(const counter& o) {
        set(o.get());
        return *this;
    }

    std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }
    operator std::uint64_t() const { return get(); }  // NOLINT: reads as a number

    // The single writer only (see above).
    void add(std::uint64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void set(std::uint64_t v) { v_.store(v, std::memory_order_relaxed); }
    counter& operator++() {
        add(1);
        return *this;
    }
    counter& operator+=(std::uint64_t n) {
        add(n);
        return *this;
    }
    counter& operator--() {
        set(get() - 1);
        return *this;
    }
    counter& operator-=(std::uint64_t n) {
        set(get() - n);
        return *this;
    }

private:
    std::atomic<std::uint64_t> v_{0};
};

}  // namespace wsring::core
