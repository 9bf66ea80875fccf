// Reconnect delays: exponential backoff with full jitter (AWS Architecture
// Blog, "Exponential Backoff And Jitter"): attempt n waits a uniform random
// time in [0, min(cap, base · 2^n)], so clients that lost the same server at
// the same moment do not come back in lockstep. Used by cluster/redis_link
// (Redis) and net/ws_client (--reconnect). Header-only and clock-free: the
// random source is injected, and time enters only as time points the caller
// passes (tests make them up). It does not sleep or connect; the caller does.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <utility>

namespace wsring::core {

struct backoff_policy {
    std::chrono::milliseconds base{100};
    std::chrono::milliseconds cap{5000};
    // A connection that stayed up at least this long starts the schedule
    // over when it is lost (opened() / lost()); 0: only reset() does.
    std::chrono::milliseconds stable{0};
};

class backoff {
public:
    using clock = std::chrono::steady_clock;
    // Uniform 64-bit values (a seeded engine, or a fixed script in tests).
    using random_source = std::function<std::uint64_t()>;

    explicit backoff(backoff_policy p = {}, std::uint64_t seed = std::random_device{}())
        : policy_(p), random_([rng = std::mt19937_64(seed)]() mutable { return rng(); }) {}
    backoff(backoff_policy p, random_source r) : policy_(p), random_(std::move(r)) {}

    // The largest wait attempt `n` (0-based) may draw. The shift stops at
    // 2^20 so an hour-long base cannot overflow.
    std::chrono::milliseconds ceiling(unsigned n) const {
        const std::int64_t doubled = policy_.base.count() << std::min(n, 20u);
        return std::chrono::milliseconds(std::min<std::int64_t>(policy_.cap.count(), doubled));
    }

    // The wait before the next attempt; each call counts one more failure.
    // `floor` is a wait the server asked for (HTTP 503 with Retry-After, RFC
    // 9110 §10.2.3): honoured even past the cap, while the count still grows,
    // so a server that keeps refusing keeps being backed off from.
    std::chrono::milliseconds next(std::chrono::milliseconds floor = std::chrono::milliseconds(0)) {
        const auto top = static_cast<std::uint64_t>(ceiling(attempt_).count());
        ++attempt_;
        // The modulo bias is below top / 2^64: nothing at millisecond scale.
        const auto draw = static_cast<std::int64_t>(random_() % (top + 1));
        return std::max(std::chrono::milliseconds(draw), floor);
    }

    void reset() { attempt_ = 0; }  // a connection succeeded for good
    unsigned attempts() const { return attempt_; }

    // The reset-after-stable rule: a connection that came up and then died
    // at once (a server that accepts and drops) must not restart the
    // schedule at `base`, or the client would hammer it every `base`.
    void opened(clock::time_point now) { opened_at_ = now; }
    void lost(clock::time_point now) {
        if (policy_.stable.count() > 0 && opened_at_ && now - *opened_at_ >= policy_.stable) reset();
        opened_at_.reset();
    }

private:
    backoff_policy policy_;
    random_source random_;
    unsigned attempt_ = 0;
    std::optional<clock::time_point> opened_at_;
};

}  // namespace wsring::core
