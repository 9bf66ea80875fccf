// Tests for core/timer_wheel: firing order, cancel, re-arm from inside a
// callback, timers beyond one revolution, and the sleep hint.
#include "core/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace wsring::core {
namespace {

struct tagged : timer_node {
    int id = 0;
};

std::vector<int> fired_ids(timer_wheel& w, tick_t to) {
    std::vector<int> ids;
    w.advance(to, [&](timer_node& n) { ids.push_back(static_cast<tagged&>(n).id); });
    return ids;
}

TEST(TimerWheel, FiresInTickOrderThenScheduleOrder) {
    timer_wheel w(64);
    tagged a, b, c, d;
    a.id = 1, b.id = 2, c.id = 3, d.id = 4;
    w.schedule(c, 5);
    w.schedule(a, 3);
    w.schedule(d, 5);
    w.schedule(b, 4);
    EXPECT_EQ(w.size(), 4u);
    EXPECT_TRUE(fired_ids(w, 2).empty());
    EXPECT_EQ(fired_ids(w, 10), (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(w.size(), 0u);
    EXPECT_FALSE(a.armed());
}

TEST(TimerWheel, FiresExactlyAtItsTick) {
    timer_wheel w(64);
    tagged a;
    a.id = 7;
    w.schedule_in(a, 3);
    EXPECT_TRUE(fired_ids(w, 2).empty());
    EXPECT_EQ(fired_ids(w, 3), std::vector<int>{7});
}

TEST(TimerWheel, CancelDisarmsAndIsIdempotent) {
    timer_wheel w(64);
    tagged a, b;
    a.id = 1, b.id = 2;
    w.schedule(a, 2);
    w.schedule(b, 2);
    w.cancel(a);
    w.cancel(a);
    EXPECT_EQ(w.size(), 1u);
    EXPECT_EQ(fired_ids(w, 5), std::vector<int>{2});
}

TEST(TimerWheel, RescheduleMovesTheTimer) {
    timer_wheel w(64);
    tagged a;
    a.id = 1;
    w.schedule(a, 2);
    w.schedule(a, 9);
    EXPECT_EQ(w.size(), 1u);
    EXPECT_TRUE(fired_ids(w, 8).empty());
    EXPECT_EQ(fired_ids(w, 9), std::vector<int>{1});
}

TEST(TimerWheel, WrapsBeyondOneRevolution) {
    timer_wheel w(64);  // 64 slots
    tagged near, far, farther;
    near.id = 1, far.id = 2, farther.id = 3;
    w.schedule(far, 64 + 5);       // same slot as tick 5
    w.schedule(near, 5);
    w.schedule(farther, 3 * 64 + 5);
    EXPECT_EQ(fired_ids(w, 5), std::vector<int>{1});
    EXPECT_TRUE(fired_ids(w, 68).empty());
    EXPECT_EQ(fired_ids(w, 69), std::vector<int>{2});
    EXPECT_EQ(fired_ids(w, 1000), std::vector<int>{3});
}

TEST(TimerWheel, PastDueFiresOnNextAdvance) {
    timer_wheel w(64);
    w.advance(10, [](timer_node&) {});
    tagged a;
    a.id = 1;
    w.schedule(a, 4);
    EXPECT_EQ(fired_ids(w, 11), std::vector<int>{1});
}

TEST(TimerWheel, CallbackMayRearmItselfAndCancelOthers) {
    timer_wheel w(64);
    tagged a, b;
    a.id = 1, b.id = 2;
    w.schedule(a, 3);
    w.schedule(b, 3);  // same slot, fires after a unless a cancels it
    int a_fired = 0;
    w.advance(3, [&](timer_node& n) {
        auto& t = static_cast<tagged&>(n);
        if (t.id == 1 && a_fired++ == 0) {
            w.cancel(b);
            w.schedule(a, w.now());  // due now → next tick
        }
    });
    EXPECT_FALSE(b.armed());
    EXPECT_TRUE(a.armed());
    EXPECT_EQ(fired_ids(w, 4), std::vector<int>{1});
}

TEST(TimerWheel, TicksToNextIsTheSleepHint) {
    timer_wheel w(64);
    EXPECT_FALSE(w.ticks_to_next().has_value());
    tagged a, b;
    w.schedule(a, 40);
    EXPECT_EQ(w.ticks_to_next(), 40u);
    w.schedule(b, 7);
    EXPECT_EQ(w.ticks_to_next(), 7u);
    w.advance(30, [](timer_node&) {});  // b fired
    EXPECT_EQ(w.ticks_to_next(), 10u);
    w.cancel(a);
    EXPECT_FALSE(w.ticks_to_next().has_value());
}

TEST(TimerWheel, TicksToNextAcrossTheWrap) {
    timer_wheel w(64);
    w.advance(60, [](timer_node&) {});
    tagged a;
    w.schedule(a, 70);  // slot 6, after the wrap
    EXPECT_EQ(w.ticks_to_next(), 10u);
    tagged b;
    w.schedule(b, 60 + 64);  // the slot of the current tick: one revolution away
    EXPECT_EQ(w.ticks_to_next(), 10u);
    w.cancel(a);
    EXPECT_EQ(w.ticks_to_next(), 64u);
}

TEST(TimerWheel, ManyTimersAllFireOnce) {
    timer_wheel w(128);
    std::vector<tagged> nodes(1000);
    for (int i = 0; i < 1000; ++i) {
        nodes[i].id = i;
        w.schedule(nodes[i], static_cast<tick_t>((i * 37) % 500 + 1));
    }
    std::vector<int> seen(1000, 0);
    tick_t last_due = 0;
    w.advance(600, [&](timer_node& n) {
        EXPECT_GE(n.due, last_due);  // never out of tick order
        last_due = n.due;
        ++seen[static_cast<tagged&>(n).id];
    });
    for (int s : seen) EXPECT_EQ(s, 1);
    EXPECT_EQ(w.size(), 0u);
}

}  // namespace
}  // namespace wsring::core
