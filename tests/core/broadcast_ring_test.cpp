// Tests for core/broadcast_ring.hpp: order, wrap-around, a full ring, detach,
// many producers × many consumers (every message exactly once per consumer,
// per-producer order), a randomized stress run, and payload lifetime.
// Run them under TSan too (-DWSRING_SANITIZE=thread): they are sized for it.
#include "core/broadcast_ring.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/consumer_wakeup.hpp"

namespace wsring::core {
namespace {

using namespace std::chrono_literals;

struct message {
    std::uint32_t producer = 0;
    std::uint64_t seq = 0;
};

// Spins (yielding) until pred() or 20 s; returns pred(). Keeps a broken
// test from hanging the suite (the machine may be heavily oversubscribed).
template <class Pred>
bool eventually(Pred pred)
{
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::yield();
    }
    return true;
}

// Per consumer: checks that each producer's messages arrive exactly once and
// in the order published (seq 0, 1, 2, ... per producer).
struct order_checker {
    explicit order_checker(std::size_t producers) : next(producers, 0) {}
    void operator()(const message& m)
    {
        if (m.producer >= next.size() || m.seq != next[m.producer])
            ++errors;
        else
            ++next[m.producer];
        ++received;
    }
    std::vector<std::uint64_t> next;
    std::uint64_t received = 0;
    std::uint64_t errors = 0;
};

TEST(BroadcastRing, RoundsCapacityUpToPowerOfTwo)
{
    EXPECT_EQ(broadcast_ring<message>(5, 1).capacity(), 8u);
    EXPECT_EQ(broadcast_ring<message>(64, 1).capacity(), 64u);
    EXPECT_EQ(broadcast_ring<message>(0, 1).capacity(), 2u);
}

TEST(BroadcastRing, EveryConsumerSeesEveryEntryInOrder)
{
    broadcast_ring<message> ring(8, 2);
    auto p = ring.make_producer();
    EXPECT_FALSE(ring.has_pending(0));
    for (std::uint64_t i = 0; i < 3; ++i)
        p.publish(message{0, i});
    for (std::size_t c = 0; c < 2; ++c) {
        EXPECT_TRUE(ring.has_pending(c));
        std::vector<std::uint64_t> got;
        EXPECT_EQ(ring.poll(c, 100, [&](const message& m) { got.push_back(m.seq); }), 3u);
        EXPECT_EQ(got, (std::vector<std::uint64_t>{0, 1, 2}));
        EXPECT_FALSE(ring.has_pending(c));
    }
}

TEST(BroadcastRing, PollStopsAtBatchMax)
{
    broadcast_ring<message> ring(8, 1);
    auto p = ring.make_producer();
    for (std::uint64_t i = 0; i < 5; ++i)
        p.publish(message{0, i});
    order_checker check(1);
    EXPECT_EQ(ring.poll(0, 2, std::ref(check)), 2u);
    EXPECT_EQ(ring.poll(0, 2, std::ref(check)), 2u);
    EXPECT_EQ(ring.poll(0, 2, std::ref(check)), 1u);
    EXPECT_EQ(ring.poll(0, 2, std::ref(check)), 0u);
    EXPECT_EQ(check.errors, 0u);
}

TEST(BroadcastRing, WrapsAroundManyTimesTheCapacity)
{
    broadcast_ring<message> ring(8, 2);
    auto p = ring.make_producer();
    order_checker a(1), b(1);
    std::uint64_t seq = 0;
    for (int lap = 0; lap < 1000; ++lap) {
        for (int i = 0; i < 5 + lap % 4; ++i)  // 5..8 per lap: the ring fills exactly, too
            p.publish(message{0, seq++});
        ring.poll(0, 100, std::ref(a));
        ring.poll(1, 100, std::ref(b));
    }
    EXPECT_EQ(a.received, seq);
    EXPECT_EQ(b.received, seq);
    EXPECT_EQ(a.errors + b.errors, 0u);
    EXPECT_EQ(p.stalls(), 0u);  // consumers drained before each lap filled it
}

TEST(BroadcastRing, TryPublishRefusesWhenFullAndClaimsNothing)
{
    broadcast_ring<message> ring(4, 1);
    auto p = ring.make_producer();
    for (std::uint64_t i = 0; i < 4; ++i) {
        message m{0, i};
        ASSERT_TRUE(p.try_publish(m));
    }
    message fifth{0, 4};
    EXPECT_FALSE(p.try_publish(fifth));
    EXPECT_EQ(ring.claimed(), 4u);  // no hole left behind
    order_checker check(1);
    EXPECT_EQ(ring.poll(0, 1, std::ref(check)), 1u);
    EXPECT_TRUE(p.try_publish(fifth));
    EXPECT_EQ(ring.poll(0, 100, std::ref(check)), 4u);
    EXPECT_EQ(check.errors, 0u);
}

TEST(BroadcastRing, FullRingStallsProducerUntilSlowConsumerAdvances)
{
    constexpr std::uint64_t n = 500;
    broadcast_ring<message> ring(8, 1);
    std::uint64_t stalls = 0;
    std::thread producer([&] {
        auto p = ring.make_producer();
        for (std::uint64_t i = 0; i < n; ++i)
            p.publish(message{0, i});
        stalls = p.stalls();
    });
    // Nobody consumes: the producer fills 8 slots, claims a 9th and waits.
    EXPECT_TRUE(eventually([&] { return ring.claimed() == 9; }));
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(ring.claimed(), 9u);  // still waiting, nothing overwritten
    order_checker check(1);
    std::uint64_t polls = 0;
    const bool drained = eventually([&] {
        if (++polls % 32 == 0)
            std::this_thread::sleep_for(100us);  // a slow consumer
        ring.poll(0, 3, std::ref(check));
        return check.received == n;
    });
    if (!drained)
        ring.detach(0);  // let the producer finish: fail, don't hang or abort
    producer.join();
    EXPECT_TRUE(drained);
    EXPECT_EQ(check.received, n);
    EXPECT_EQ(check.errors, 0u);
    EXPECT_GT(stalls, 0u);
}

TEST(BroadcastRing, ProducerThatConsumesDrainsItselfWhileStalled)
{
    // A reactor publishes into the ring it also reads: on_stall must drain its
    // own cursor, or it would wait for itself forever.
    broadcast_ring<message> ring(4, 1);
    auto p = ring.make_producer();
    order_checker check(1);
    for (std::uint64_t i = 0; i < 100; ++i)
        p.publish(message{0, i}, [&] { ring.poll(0, 64, std::ref(check)); });
    ring.poll(0, 64, std::ref(check));
    EXPECT_EQ(check.received, 100u);
    EXPECT_EQ(check.errors, 0u);
    EXPECT_GT(p.stalls(), 0u);
}

TEST(BroadcastRing, DetachingAStoppedConsumerUnblocksProducers)
{
    constexpr std::uint64_t n = 100;
    broadcast_ring<message> ring(8, 2);
    std::thread producer([&] {
        auto p = ring.make_producer();
        for (std::uint64_t i = 0; i < n; ++i)
            p.publish(message{0, i});
    });
    // Consumer 1 never polls (a reactor that exited): consumer 0 alone cannot
    // free a slot, so the producer waits at the 9th claim.
    order_checker check(1);
    EXPECT_TRUE(eventually([&] {
        ring.poll(0, 64, std::ref(check));
        return ring.claimed() == 9 && check.received == 8;
    }));
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(ring.claimed(), 9u);
    ring.detach(1);
    EXPECT_FALSE(ring.has_pending(1));
    const bool drained = eventually([&] {
        ring.poll(0, 64, std::ref(check));
        return check.received == n;
    });
    if (!drained)
        ring.detach(0);  // fail, don't hang or abort
    producer.join();
    EXPECT_TRUE(drained);
    EXPECT_EQ(check.errors, 0u);
}

TEST(BroadcastRing, WithNoConsumerProducersNeverWaitAndNeverRace)
{
    // Only the slot's own sequence orders two producers lapping each other.
    broadcast_ring<message> ring(8, 0);
    std::vector<std::thread> producers;
    for (std::uint32_t id = 0; id < 2; ++id)
        producers.emplace_back([&ring, id] {
            auto p = ring.make_producer();
            for (std::uint64_t i = 0; i < 5000; ++i)
                p.publish(message{id, i});
        });
    for (auto& t : producers)
        t.join();
    EXPECT_EQ(ring.claimed(), 10000u);
}

// ---- many producers × many consumers ---------------------------------------

struct mpmc_case {
    std::uint32_t producers;
    std::size_t consumers;
};

class BroadcastRingMany : public testing::TestWithParam<mpmc_case> {};

std::string case_name(const testing::TestParamInfo<mpmc_case>& param_info)
{
    return std::to_string(param_info.param.producers) + "p_" +
           std::to_string(param_info.param.consumers) + "c";
}

TEST_P(BroadcastRingMany, EveryConsumerGetsEveryMessageOnceInPublisherOrder)
{
    const auto [np, nc] = GetParam();
    constexpr std::uint64_t per_producer = 4000;
    const std::uint64_t total = per_producer * np;
    broadcast_ring<message> ring(64, nc);
    std::vector<order_checker> checks(nc, order_checker(np));
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < nc; ++c)
        threads.emplace_back([&, c] {
            while (checks[c].received < total)
                if (ring.poll(c, 32, std::ref(checks[c])) == 0)
                    std::this_thread::yield();
        });
    for (std::uint32_t id = 0; id < np; ++id)
        threads.emplace_back([&ring, id] {
            auto p = ring.make_producer();
            for (std::uint64_t i = 0; i < per_producer; ++i)
                p.publish(message{id, i});
        });
    for (auto& t : threads)
        t.join();
    for (const auto& check : checks) {
        EXPECT_EQ(check.received, total);
        EXPECT_EQ(check.errors, 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(ProducersByConsumers, BroadcastRingMany,
                         testing::Values(mpmc_case{1, 2}, mpmc_case{2, 2}, mpmc_case{4, 2},
                                         mpmc_case{1, 4}, mpmc_case{3, 3}, mpmc_case{4, 4}),
                         case_name);

// ---- stress: random pauses, small ring, sleeping consumers ----------------

TEST(BroadcastRingStress, RandomPausesSleepingConsumersNothingLost)
{
    constexpr std::uint32_t np = 3;
    constexpr std::size_t nc = 3;
    constexpr std::uint64_t per_producer = 3000;
    constexpr std::uint64_t total = per_producer * np;
    broadcast_ring<message> ring(16, nc);
    std::vector<std::unique_ptr<consumer_wakeup>> wakeups;
    for (std::size_t c = 0; c < nc; ++c)
        wakeups.push_back(std::make_unique<consumer_wakeup>());
    std::vector<order_checker> checks(nc, order_checker(np));
    std::atomic<int> lost_wakeups{0};
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < nc; ++c)
        threads.emplace_back([&, c] {
            std::minstd_rand rng(static_cast<unsigned>(100 + c));
            consumer_wakeup& w = *wakeups[c];
            while (checks[c].received < total) {
                if (rng() % 64 == 0)
                    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
                if (ring.poll(c, 1 + rng() % 16, std::ref(checks[c])) != 0)
                    continue;
                w.announce_sleep();
                if (ring.has_pending(c)) {
                    w.end_sleep();
                    continue;
                }
                if (!w.wait(2000) && ring.has_pending(c))
                    ++lost_wakeups;  // slept 2 s with work waiting: a lost wake-up
            }
        });
    for (std::uint32_t id = 0; id < np; ++id)
        threads.emplace_back([&, id] {
            std::minstd_rand rng(id);
            auto p = ring.make_producer();
            auto notify_all = [&] {
                for (auto& w : wakeups)
                    w->notify();
            };
            for (std::uint64_t i = 0; i < per_producer; ++i) {
                // A producer that defers notify() must notify before it can
                // stall: its consumers may be asleep on the entries it holds.
                p.publish(message{id, i}, notify_all);
                if (rng() % 4 == 0)  // notify once per random-sized batch
                    notify_all();
                const auto r = rng() % 128;
                if (r == 0)
                    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
                else if (r < 8)
                    std::this_thread::yield();
            }
            notify_all();
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(lost_wakeups.load(), 0);
    for (const auto& check : checks) {
        EXPECT_EQ(check.received, total);
        EXPECT_EQ(check.errors, 0u);
    }
}

// ---- payload lifetime --------------------------------------------------------

// Owns one unit of a counted resource (think: one reference to a frame);
// moved-from objects own none.
struct tracked {
    static inline std::atomic<int> owned{0};
    bool owns = false;
    std::uint64_t seq = 0;

    tracked() = default;
    explicit tracked(std::uint64_t s) : owns(true), seq(s) { ++owned; }
    tracked(const tracked& o) : owns(o.owns), seq(o.seq) { owned += owns ? 1 : 0; }
    tracked(tracked&& o) noexcept : owns(std::exchange(o.owns, false)), seq(o.seq) {}
    tracked& operator=(tracked&& o) noexcept
    {
        if (owns)
            --owned;
        owns = std::exchange(o.owns, false);
        seq = o.seq;
        return *this;
    }
    tracked& operator=(const tracked&) = delete;
    ~tracked()
    {
        if (owns)
            --owned;
    }
};

TEST(BroadcastRingLifetime, OverwritingReleasesPayloadsAndAtMostCapacityStayAlive)
{
    ASSERT_EQ(tracked::owned.load(), 0);
    {
        broadcast_ring<tracked> ring(8, 2);
        auto p = ring.make_producer();
        for (std::uint64_t i = 0; i < 100; ++i) {
            p.publish(tracked(i));
            ring.poll(0, 8, [](const tracked&) {});
            ring.poll(1, 8, [](const tracked&) {});
            EXPECT_LE(tracked::owned.load(), 8);
        }
        EXPECT_EQ(tracked::owned.load(), 8);  // the last lap, kept until overwritten
    }
    EXPECT_EQ(tracked::owned.load(), 0);  // the ring's destructor drops the rest
}

TEST(BroadcastRingLifetime, OneEncodedFrameIsSharedByEveryConsumerNeverCopied)
{
    using frame = std::shared_ptr<const std::string>;
    auto encoded = std::make_shared<const std::string>("\x81\x05Hello");
    std::vector<frame> queue_a, queue_b;  // two consumers' write queues
    {
        broadcast_ring<frame> ring(4, 2);
        auto p = ring.make_producer();
        p.publish(encoded);
        ring.poll(0, 1, [&](const frame& f) { queue_a.push_back(f); });
        ring.poll(1, 1, [&](const frame& f) { queue_b.push_back(f); });
    }
    ASSERT_EQ(queue_a.size(), 1u);
    ASSERT_EQ(queue_b.size(), 1u);
    EXPECT_EQ(queue_a[0]->data(), encoded->data());  // the same bytes, not a copy
    EXPECT_EQ(queue_b[0]->data(), encoded->data());
    EXPECT_EQ(encoded.use_count(), 3);  // ours + two queues; the ring let go
    queue_a.clear();
    queue_b.clear();
    EXPECT_EQ(encoded.use_count(), 1);
}

}  // namespace
}  // namespace wsring::core
