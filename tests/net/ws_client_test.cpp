// tests/net/ws_client_test.cpp: net/ws_client's queue of messages waiting
// for a connection, without connecting (run() is never called): the
// max_queued bound in bytes, a lone message past it, close always taken,
// and wait_for_room releasing once run() has returned. The loop itself is
// tested end to end (tests/integration/test_ws_client.py).
#include "net/ws_client.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace wsring::net {
namespace {

TEST(WsClient, SendRefusedPastMaxQueued) {
    ws_client c({.url = "ws://127.0.0.1:9/", .max_queued = 10});
    EXPECT_TRUE(c.send_text("12345"));
    EXPECT_TRUE(c.send_text("67890"));  // exactly at the cap
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
