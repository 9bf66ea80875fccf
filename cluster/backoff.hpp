// Reconnect delays: exponential backoff with full jitter (AWS Architecture
// Blog, "Exponential Backoff And Jitter"): attempt n waits a uniform random
// time in [0, min(cap, base · 2^n)], so nodes that lost the same Redis at the
// same moment do not come back in lockstep. Header-only; the random source
// is injected (tests fix it).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace wsring::cluster {

struct backoff_policy {
    std::chrono::milliseconds base{100};
    std::chrono::milliseconds cap{5000};
};

class backoff {
public:
    explicit backoff(backoff_policy p = {}, std::uint64_t seed = std::random_device{}())
        : policy_(p), rng_(seed) {}

    // The wait before the next attempt; each call counts one more failure.
    std::chrono::milliseconds next() {
        const std::int64_t doubled = policy_.base.count() << std::min(attempt_, 20u);
        const auto ceiling = std::min<std::int64_t>(policy_.cap.count(), doubled);
        ++attempt_;
        return std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, ceiling)(rng_));
    }
    void reset() { attempt_ = 0; }  // a connection succeeded
    unsigned attempts() const { return attempt_; }

private:
    backoff_policy policy_;
    std::mt19937_64 rng_;
    unsigned attempt_ = 0;
};

}  // namespace wsring::cluster
