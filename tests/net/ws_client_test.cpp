// tests/net/ws_client_test.cpp: net/ws_client's queue of messages waiting
// for a connection, without connecting: the max_queued bound (bytes plus a
// per-entry cost, so empty messages are bounded too), a lone message past
// it, close always taken, and wait_for_room releasing once run() has
// returned. Then run() on each backend against an echo server reactor:
// messages queued before the connection, a close and a stop() from another
// thread (the reactor's wake-up). End to end: tests/integration/test_ws_client.py.
#include "net/ws_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/net/echo_server.hpp"
#include "tests/net/per_backend.hpp"
#include "tests/net/wait_until.hpp"

namespace wsring::net {
namespace {

// Each message costs its bytes plus a fixed entry cost; find that cost from
// how many empty messages a cap takes.
TEST(WsClient, SendRefusedPastMaxQueued) {
    ws_client probe({.url = "ws://127.0.0.1:9/", .max_queued = 1000});
    std::size_t empties = 0;
    while (probe.send_text("")) ++empties;
    ASSERT_GT(empties, 1u);   // bounded: empty lines are not free
    ASSERT_LT(empties, 1000u);
    const std::size_t entry = 1000 / empties;

    ws_client c({.url = "ws://127.0.0.1:9/", .max_queued = 2 * (entry + 5)});
    EXPECT_TRUE(c.send_text("12345"));
    EXPECT_TRUE(c.send_text("67890"));  // both fit
    EXPECT_FALSE(c.send_text("x"));     // refused, nothing queued
    const std::byte b[1] = {};
    EXPECT_FALSE(c.send_binary(b));
    c.close();  // a close is never refused
}

TEST(WsClient, MessageLargerThanTheCapGoesAlone) {
    ws_client c({.url = "ws://127.0.0.1:9/", .max_queued = 4});
    EXPECT_TRUE(c.send_text(std::string(100, 'x')));  // nothing waits: taken
    EXPECT_FALSE(c.send_text("y"));
}

// run() against a URL it refuses at once ends the client: a writer waiting
// for room must not wait for ever.
TEST(WsClient, WaitForRoomReturnsOnceRunEnded) {
    ws_client c({.url = "http://not-a-ws-url/", .max_queued = 1});
    EXPECT_TRUE(c.send_text("full"));
    std::thread writer([&] { c.wait_for_room(1); });
    EXPECT_FALSE(c.run().reason.empty());
    writer.join();
}

class WsClientLoop : public test::per_backend {};

TEST_P(WsClientLoop, QueuedMessagesThenCloseFromAnotherThread) {
    test::echo_server srv(GetParam());
    ws_client c({.url = "ws://127.0.0.1:" + std::to_string(srv.port()) + "/", .backend = GetParam()});
    std::vector<std::string> got;
    std::atomic<int> n{0};
    c.on_message = [&](std::span<const std::byte> d, bool) {
        got.emplace_back(reinterpret_cast<const char*>(d.data()), d.size());
        ++n;
    };
    EXPECT_TRUE(c.send_text("one"));  // waits for the connection
    EXPECT_TRUE(c.send_text("two"));
    std::thread closer([&] {
        // Bounded: if the echoes never come, close anyway so run() ends and
        // the assertions below fail instead of the test hanging.
        EXPECT_TRUE(test::wait_until([&] { return n.load() >= 2; }));
        c.close(proto::close_code::normal, "done");
    });
    const client_outcome how = c.run();
    closer.join();
    EXPECT_TRUE(how.opened);
    EXPECT_EQ(how.code, proto::close_code::normal);
    EXPECT_EQ(got, (std::vector<std::string>{"one", "two"}));
}

TEST_P(WsClientLoop, StopFromAnotherThreadEndsRun) {
    test::echo_server srv(GetParam());
    ws_client c({.url = "ws://127.0.0.1:" + std::to_string(srv.port()) + "/", .backend = GetParam()});
    std::atomic<bool> open{false};
    c.on_open = [&](const std::string&) { open = true; };
    std::thread stopper([&] {
        EXPECT_TRUE(test::wait_until([&] { return open.load(); }));
        c.stop();
    });
    const client_outcome how = c.run();
    stopper.join();
    EXPECT_TRUE(how.opened);
    EXPECT_EQ(how.reason, "stopped");
}

INSTANTIATE_TEST_SUITE_P(Backends, WsClientLoop, test::backend_kinds(), test::backend_label);

}  // namespace
}  // namespace wsring::net
