// tests/net/ws_client_test.cpp: net/ws_client's queue of messages waiting
// for a connection, without connecting: the max_queued bound (bytes plus a
// per-entry cost, so empty messages are bounded too), a lone message past
// it, close always taken, and wait_for_room releasing once run() has
// returned. The loop itself is tested end to end
// (tests/integration/test_ws_client.py).
#include "net/ws_client.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

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

}  // namespace
}  // namespace wsring::net
