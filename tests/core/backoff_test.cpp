// tests/core/backoff_test.cpp: core/backoff.hpp, full jitter. Attempt
// n draws uniformly from [0, min(cap, base · 2^n)]: every draw inside its
// ceiling, the ceilings reached (many seeds, so "always 0" or "always base"
// would fail), growth stopping at the cap, reset starting over, one seed
// giving one sequence; with a scripted random source the exact bounds, the
// Retry-After floor, and the reset-after-stable rule on made-up time points.
// Pure arithmetic: no clock reads, no sleeps.
#include "core/backoff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace wsring::core {
namespace {

using std::chrono::milliseconds;

constexpr backoff_policy policy{.base = milliseconds(100), .cap = milliseconds(5000)};
constexpr int seeds = 400;

std::int64_t ceiling_of(const backoff_policy& p, unsigned attempt) {
    return std::min<std::int64_t>(p.cap.count(), p.base.count() << std::min(attempt, 20u));
}

// The draw of attempt `n` (0-based) for a backoff seeded with `seed`.
milliseconds draw(const backoff_policy& p, std::uint64_t seed, unsigned n) {
    backoff b(p, seed);
    for (unsigned i = 0; i < n; ++i) b.next();
    return b.next();
}

TEST(Backoff, EachAttemptDrawsWithinItsCeiling) {
    for (unsigned n = 0; n < 12; ++n) {
        const std::int64_t ceiling = ceiling_of(policy, n);
        std::int64_t lo = ceiling, hi = 0;
        for (std::uint64_t seed = 0; seed < seeds; ++seed) {
            const auto d = draw(policy, seed, n).count();
            ASSERT_GE(d, 0) << "attempt " << n;
            ASSERT_LE(d, ceiling) << "attempt " << n;
            lo = std::min(lo, d);
            hi = std::max(hi, d);
        }
        // Full jitter: the whole range is used, not just its top or bottom
        // (400 uniform draws all in one half: probability 2^-400).
        EXPECT_LT(lo, ceiling / 4) << "attempt " << n;
        EXPECT_GT(hi, ceiling * 3 / 4) << "attempt " << n;
    }
}

TEST(Backoff, CeilingDoublesUntilTheCap) {
    // 100, 200, 400, ... 3200, then 5000 for good: the largest draw seen per
    // attempt grows while the ceiling does, and never passes the cap.
    std::vector<std::int64_t> highest;
    for (unsigned n = 0; n < 40; ++n) {
        std::int64_t hi = 0;
        for (std::uint64_t seed = 0; seed < seeds; ++seed)
            hi = std::max(hi, draw(policy, seed, n).count());
        highest.push_back(hi);
    }
    for (unsigned n = 1; n <= 5; ++n)
        EXPECT_GT(highest[n], highest[n - 1]) << "attempt " << n;
    for (unsigned n = 6; n < highest.size(); ++n) {
        EXPECT_LE(highest[n], policy.cap.count()) << "attempt " << n;
        EXPECT_GT(highest[n], policy.cap.count() * 3 / 4) << "attempt " << n;
    }
}

TEST(Backoff, HugeAttemptCountsDoNotOverflow) {
    // The shift stops at 2^20: a base of an hour times 2^20 still fits.
    const backoff_policy slow{.base = milliseconds(3'600'000), .cap = milliseconds(7'200'000)};
    backoff b(slow, 7);
    for (int i = 0; i < 1000; ++i) {
        const auto d = b.next().count();
        ASSERT_GE(d, 0);
        ASSERT_LE(d, slow.cap.count());
    }
    EXPECT_EQ(b.attempts(), 1000u);
}

TEST(Backoff, ResetStartsOverAtBase) {
    for (std::uint64_t seed = 0; seed < seeds; ++seed) {
        backoff b(policy, seed);
        for (int i = 0; i < 10; ++i) b.next();
        ASSERT_EQ(b.attempts(), 10u);
        b.reset();
        ASSERT_EQ(b.attempts(), 0u);
        ASSERT_LE(b.next().count(), policy.base.count());
        ASSERT_EQ(b.attempts(), 1u);
    }
}

TEST(Backoff, OneSeedOneSequence) {
    backoff a(policy, 42), b(policy, 42), c(policy, 43);
    bool differs = false;
    for (int i = 0; i < 30; ++i) {
        const auto da = a.next();
        ASSERT_EQ(da, b.next()) << "draw " << i;
        differs |= da != c.next();
    }
    EXPECT_TRUE(differs) << "seeds 42 and 43 gave the same 30 draws";
}

TEST(Backoff, ZeroBaseNeverWaits) {
    backoff b(backoff_policy{.base = milliseconds(0), .cap = milliseconds(5000)}, 1);
    for (int i = 0; i < 50; ++i) ASSERT_EQ(b.next().count(), 0);
}

// A random source that always returns `v` (the draw is v % (ceiling + 1)).
backoff::random_source fixed(std::uint64_t v) {
    return [v] { return v; };
}

TEST(Backoff, ScriptedSourceHitsBothEndsOfEachRange) {
    // r % (top + 1): r = 0 gives 0, r = top gives the ceiling itself.
    for (unsigned n = 0; n < 10; ++n) {
        const auto top = static_cast<std::uint64_t>(ceiling_of(policy, n));
        backoff lo(policy, fixed(0)), hi(policy, fixed(top));
        for (unsigned i = 0; i < n; ++i) lo.next(), hi.next();
        EXPECT_EQ(lo.next().count(), 0) << "attempt " << n;
        EXPECT_EQ(static_cast<std::uint64_t>(hi.next().count()), top) << "attempt " << n;
    }
}

TEST(Backoff, RetryAfterIsAFloorAndTheCountStillGrows) {
    // A 503 with Retry-After: 10 s waits at least 10 s, past the 5 s cap,
    // and the next draw without a floor comes from a wider range than base.
    backoff b(policy, fixed(0));
    EXPECT_EQ(b.next(milliseconds(10'000)), milliseconds(10'000));
    EXPECT_EQ(b.next(milliseconds(10'000)), milliseconds(10'000));
    EXPECT_EQ(b.attempts(), 2u);
    EXPECT_EQ(b.ceiling(b.attempts()), milliseconds(400));
    EXPECT_EQ(b.next(), milliseconds(0));  // no floor: the jittered draw alone
}

TEST(Backoff, StableConnectionResetsTheSchedule) {
    using namespace std::chrono_literals;
    const backoff_policy p{.base = 500ms, .cap = 30s, .stable = 10s};
    backoff b(p, fixed(0));
    const backoff::clock::time_point t0{};
    for (int i = 0; i < 5; ++i) b.next();
    b.opened(t0);
    b.lost(t0 + 9999ms);  // up for less than `stable`: still counted as failing
    EXPECT_EQ(b.attempts(), 5u);
    b.next();
    b.opened(t0 + 20s);
    b.lost(t0 + 30s);  // up for exactly `stable`: starts over
    EXPECT_EQ(b.attempts(), 0u);
    EXPECT_EQ(b.ceiling(b.attempts()), 500ms);
}

TEST(Backoff, LostWithoutOpenedOrWithStableZeroKeepsCounting) {
    using namespace std::chrono_literals;
    const backoff::clock::time_point t0{};
    backoff never(backoff_policy{.base = 1ms, .cap = 8ms, .stable = 0ms}, fixed(0));
    never.next();
    never.opened(t0);
    never.lost(t0 + 1h);  // stable = 0: only reset() starts over
    EXPECT_EQ(never.attempts(), 1u);

    backoff b(backoff_policy{.base = 1ms, .cap = 8ms, .stable = 1s}, fixed(0));
    b.next();
    b.lost(t0 + 1h);  // a failed attempt never opened: no reset
    EXPECT_EQ(b.attempts(), 1u);
}

}  // namespace
}  // namespace wsring::core
