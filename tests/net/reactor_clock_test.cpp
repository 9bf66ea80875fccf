// Timers after a quiet spell, with the reactor's clock in the test's hand
// (reactor_options::clock): the time a timer is armed from must be the time
// of the events that armed it, on both backends. The bug this guards: the
// wheel's "now" was taken before the wait, so after 12 s of silence a new
// connection's 10 s handshake deadline was already overdue, and a message
// that arrived after a long wait was stamped with the time before it.
//
// How a test moves time: advance the manual clock, wake() the reactor, and
// count loop turns through the wakeup hook's drain (phase 4 runs once per
// turn), so "the reactor has looked at the new time" is an event, not a sleep.
// A jump *during* a sleep is made by the reactor itself, in the hook's
// pending() — asked right before it sleeps — so it is never mid-turn.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "net/server.hpp"
#include "tests/net/per_backend.hpp"
#include "tests/net/test_client.hpp"

namespace wsring::net {
namespace {

using namespace test;
using namespace std::chrono_literals;
using proto::opcode;
using steady = std::chrono::steady_clock;

// A steady clock that stands still until the test moves it.
struct manual_clock {
    steady::time_point base = steady::now();
    std::atomic<std::int64_t> offset_ms{0};
    steady::time_point now() const { return base + milliseconds(offset_ms.load()); }
    void set(milliseconds t) { offset_ms.store(t.count()); }
};

class QuietReactor : public per_backend {
protected:
    // One reactor on the manual clock, its turns counted.
    void start(session_options so) {
        server_options o = test::test_server(GetParam(), 1);
        o.session = so;
        o.reactor.clock = [c = clock_] { return c->now(); };
        o.setup_reactor = [this](reactor& r, unsigned) {
            reactor_ = &r;
            r.set_wakeup_hook({.pending =
                                   [this] {
                                       if (std::int64_t t = jump_to_ms_.exchange(-1); t >= 0) {
                                           clock_->set(milliseconds(t));
                                           jumps_.fetch_add(1);
                                       }
                                       return false;  // sleep
                                   },
                               .drain = [this] { turns_.fetch_add(1); }});
        };
        srv_ = std::make_unique<server>(o);
        srv_->start();
    }

    // Lets the reactor run `n` whole turns: each is woken, and seen through
    // phase 4 (a timer due by the clock fires in phase 2 of the first).
    void run_turns(int n = 3) {
        for (int i = 0; i < n; ++i) {
            std::uint64_t seen = turns_.load();
            reactor_->wake();
            auto deadline = steady::now() + 5s;
            while (turns_.load() == seen) {
                ASSERT_LT(steady::now(), deadline) << "the reactor did not take a turn";
                std::this_thread::yield();
            }
        }
    }

    // Moves the clock and lets the reactor see it.
    void advance_to(milliseconds t) {
        clock_->set(t);
        run_turns();
    }

    // Moves the clock while the reactor sleeps: whatever comes next (a
    // connection, a message) is what wakes it. The reactor makes the jump
    // itself, on its way into a sleep (after a wake-up turn).
    void sleep_through(milliseconds t) {
        std::uint64_t seen = jumps_.load();
        jump_to_ms_.store(t.count());
        reactor_->wake();
        auto deadline = steady::now() + 5s;
        while (jumps_.load() == seen) {
            ASSERT_LT(steady::now(), deadline) << "the reactor did not go to sleep";
            std::this_thread::yield();
        }
    }

    // True if nothing has arrived on c and it is not closed (read without waiting).
    static bool quiet(client& c) {
        char b;
        ssize_t n = ::recv(c.fd(), &b, 1, MSG_DONTWAIT | MSG_PEEK);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

    std::shared_ptr<manual_clock> clock_ = std::make_shared<manual_clock>();
    std::atomic<std::uint64_t> turns_{0};
    std::atomic<std::int64_t> jump_to_ms_{-1};  // pending() sets the clock to this
    std::atomic<std::uint64_t> jumps_{0};
    reactor* reactor_ = nullptr;
    std::unique_ptr<server> srv_;
};

INSTANTIATE_TEST_SUITE_P(Backends, QuietReactor, backend_kinds(), backend_label);

// The reported bug: silence longer than the handshake deadline, then a client.
TEST_P(QuietReactor, HandshakeAfterLongSilenceSucceeds) {
    start({.handshake_timeout = 10000ms});
    sleep_through(60s);  // a minute of nothing: no timer is armed, nothing wakes it
    client c(srv_->port());
    ASSERT_TRUE(c.handshake()) << "the first connection after a quiet spell was dropped";
    ASSERT_TRUE(c.send_frame(opcode::text, "hi"));
    EXPECT_EQ(c.recv().payload, "hi");
}

// The deadline armed after the silence runs its full 10 s from the accept.
TEST_P(QuietReactor, HandshakeDeadlineCountsFromTheAccept) {
    start({.handshake_timeout = 10000ms});
    sleep_through(60s);
    client c(srv_->port());  // TCP only: never sends its request
    ASSERT_TRUE(c.connected());
    run_turns();  // the accept, at t = 60 s
    advance_to(69800ms);
    EXPECT_TRUE(quiet(c)) << "the handshake deadline fired early";
    advance_to(70200ms);  // 10 s (and a tick) after the accept
    EXPECT_TRUE(c.wait_eof()) << "the handshake deadline did not fire";
}

// A message after a long wait stamps the connection as alive *now*: the
// ping that follows silence comes a full interval after it, not early.
TEST_P(QuietReactor, PingCountsFromTheLastMessageAfterALongWait) {
    start({.idle_timeout = 0ms, .ping_interval = 20000ms});
    client c(srv_->port());
    ASSERT_TRUE(c.handshake());  // at t = 0: the ping timer is due at 20 s
    sleep_through(19s);
    ASSERT_TRUE(c.send_frame(opcode::text, "still here"));
    ASSERT_EQ(c.recv().payload, "still here");  // handled at t = 19 s
    advance_to(21s);  // the timer due at 20 s fires: 2 s of silence, no ping
    EXPECT_TRUE(quiet(c)) << "pinged 2 s after a message (interval 20 s)";
    advance_to(39500ms);  // 20.5 s after the message
    message m = c.recv();
    EXPECT_EQ(m.kind, proto::event_kind::ping);
}

// The same for the idle close: it counts from the last message.
TEST_P(QuietReactor, IdleTimeoutCountsFromTheLastMessageAfterALongWait) {
    start({.idle_timeout = 20000ms, .ping_interval = 0ms});
    client c(srv_->port());
    ASSERT_TRUE(c.handshake());
    sleep_through(19s);
    ASSERT_TRUE(c.send_frame(opcode::text, "still here"));
    ASSERT_EQ(c.recv().payload, "still here");
    advance_to(21s);
    EXPECT_TRUE(quiet(c)) << "closed as idle 2 s after a message (timeout 20 s)";
    advance_to(39500ms);
    message m = c.recv();
    EXPECT_EQ(m.kind, proto::event_kind::close);
    EXPECT_EQ(m.code, 1001);
}

// The shutdown deadline counts from the stop, not from before the last sleep:
// a peer that is slow to answer our 1001 gets the whole shutdown_timeout.
TEST_P(QuietReactor, ShutdownDeadlineCountsFromTheStop) {
    start({.idle_timeout = 0ms, .ping_interval = 0ms, .close_timeout = 30000ms});
    client c(srv_->port());
    ASSERT_TRUE(c.handshake());
    sleep_through(60s);  // no timer armed: a minute of sleep
    srv_->stop();      // shutdown_timeout is 2 s (test_server)
    message m = c.recv();
    ASSERT_EQ(m.kind, proto::event_kind::close);
    EXPECT_EQ(m.code, 1001);
    advance_to(61500ms);  // 1.5 s into the 2 s: the server still waits for our close
    EXPECT_TRUE(quiet(c)) << "the shutdown deadline fired early";
    clock_->set(62200ms);  // the deadline passes: the reactor closes c and exits
    reactor_->wake();
    EXPECT_TRUE(c.wait_eof()) << "the shutdown deadline did not fire";
    srv_->wait();
}

// A keep-alive round, then an idle-timeout round, for 64 connections in
// one turn each: the pings and the closes leave at once (session::
// send_unprompted), so they take no 16 KiB write block. Queued for the
// turn's flush, each took one, and 10,000 idle connections kept 11 MiB
// more resident after their first ping.
TEST_P(QuietReactor, TimerRoundsTakeNoWriteBlocks) {
    start({.idle_timeout = 30000ms, .ping_interval = 20000ms});
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 64; ++i) {  // one at a time: an upgrade's block is back before the next
        clients.push_back(std::make_unique<client>(srv_->port()));
        ASSERT_TRUE(clients.back()->handshake());
    }
    run_turns();
    const std::uint64_t after_upgrades = srv_->stats().write_blocks_peak;
    advance_to(21s);  // every connection's ping is due in this turn
    for (auto& c : clients) ASSERT_EQ(c->recv().kind, proto::event_kind::ping);
    EXPECT_EQ(srv_->stats().write_blocks_peak, after_upgrades) << "the pings were queued in blocks";
    advance_to(31s);  // ... and every idle close (the pings were never answered)
    for (auto& c : clients) {
        message m = c->recv();
        ASSERT_EQ(m.kind, proto::event_kind::close);
        EXPECT_EQ(m.code, 1001);
    }
    EXPECT_EQ(srv_->stats().write_blocks_peak, after_upgrades) << "the closes were queued in blocks";
}

}  // namespace
}  // namespace wsring::net
