// tests/net/client_session_test.cpp: net/client_session, sans-IO. Byte
// literals in (the server's 101 built from the request's own key, §5.7's
// unmasked frames), bytes and outcomes out, and time as made-up time points:
// the handshake, idle and close timers fire exactly at their deadlines, the
// §7.1.1 linger ends on the server's FIN, a 503's Retry-After is read, and
// our frames are masked (§5.3). No socket, no clock reads, no sleeps.
#include "net/client_session.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/handshake.hpp"

namespace wsring::net {
namespace {

using namespace std::chrono_literals;
using clock = client_session::clock;
const clock::time_point t0{};

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::string text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

struct fixture {
    std::vector<std::string> messages;
    int opens = 0;
    client_session s;

    explicit fixture(client_session_options o = {.host = "h:1", .handshake_timeout = 5s, .close_timeout = 2s})
        : s(std::move(o),
            {.on_open = [this](const std::string&) { ++opens; },
             .on_message = [this](std::span<const std::byte> d, bool) { messages.push_back(text(d)); }},
            t0) {}

    // Takes everything the session wants to send.
    std::string drain() {
        std::string out = text(s.output());
        s.sent(out.size());
        return out;
    }
    // The 101 for the request the session wrote (§4.2.2: Accept from its key).
    std::string answer_101() {
        const std::string req = drain();
        const auto at = req.find("Sec-WebSocket-Key: ") + 19;
        const std::string key = req.substr(at, req.find("\r\n", at) - at);
        return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: " + proto::accept_key(key) + "\r\n\r\n";
    }
    void open() {
        s.feed(bytes(answer_101()), t0);
        ASSERT_TRUE(s.is_open());
    }
};

const std::string hello_frame = "\x81\x05Hello";  // RFC 6455 §5.7: unmasked text "Hello"
const std::string close_1000 = std::string("\x88\x02\x03\xe8", 4);

TEST(ClientSession, RequestIsAnUpgradeGet_4_1) {
    fixture f;
    const std::string req = text(f.s.output());
    EXPECT_EQ(req.rfind("GET / HTTP/1.1\r\n", 0), 0u) << req;
    EXPECT_NE(req.find("Host: h:1\r\n"), std::string::npos);
    EXPECT_NE(req.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
}

TEST(ClientSession, OpensThenDeliversFramesInTheSameRead_4_1) {
    fixture f;
    f.s.feed(bytes(f.answer_101() + hello_frame), t0);  // frames right behind the head
    EXPECT_EQ(f.opens, 1);
    EXPECT_EQ(f.messages, std::vector<std::string>{"Hello"});
}

TEST(ClientSession, FrameSplitAtEveryByteStillDelivers) {
    fixture f;
    f.open();
    for (char c : hello_frame) f.s.feed(bytes(std::string(1, c)), t0);
    EXPECT_EQ(f.messages, std::vector<std::string>{"Hello"});
}

TEST(ClientSession, OurFramesAreMasked_5_3) {
    fixture f;
    f.open();
    ASSERT_TRUE(f.s.send(bytes("Hello"), true));
    const std::string out = f.drain();
    ASSERT_EQ(out.size(), 2u + 4u + 5u);
    EXPECT_EQ(static_cast<unsigned char>(out[0]), 0x81);
    EXPECT_EQ(static_cast<unsigned char>(out[1]), 0x80 | 5);  // MASK bit set
}

TEST(ClientSession, RefusedHandshakeReadsRetryAfter) {
    fixture f;
    f.drain();
    f.s.feed(bytes("HTTP/1.1 503 Service Unavailable\r\nretry-after:  7\r\nContent-Length: 0\r\n\r\n"), t0);
    ASSERT_TRUE(f.s.finished());
    EXPECT_FALSE(f.s.outcome().opened);
    EXPECT_EQ(f.s.outcome().http_status, 503);
    EXPECT_EQ(f.s.outcome().retry_after, 7s);
}

TEST(ClientSession, RetryAfterDateFormIsIgnored) {
    EXPECT_EQ(retry_after_of("HTTP/1.1 503 x\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n\r\n"), 0ms);
    EXPECT_EQ(retry_after_of("HTTP/1.1 503 x\r\nRetry-After: 120\r\n\r\n"), 120s);
}

TEST(ClientSession, HandshakeTimesOutAtItsDeadline) {
    fixture f;
    EXPECT_EQ(f.s.next_deadline(), t0 + 5s);
    f.s.tick(t0 + 5s - 1ms);
    EXPECT_FALSE(f.s.finished());
    f.s.tick(t0 + 5s);
    ASSERT_TRUE(f.s.finished());
    EXPECT_EQ(f.s.outcome().code, proto::close_code::abnormal);
}

TEST(ClientSession, ServerCloseIsEchoedThenClientWaitsForFin_7_1_1) {
    fixture f;
    f.open();
    f.s.feed(bytes(close_1000), t0);
    const std::string echo = f.drain();  // §5.5.1: our close, masked, code 1000
    ASSERT_EQ(echo.size(), 2u + 4u + 2u);
    EXPECT_EQ(static_cast<unsigned char>(echo[0]), 0x88);
    EXPECT_FALSE(f.s.finished()) << "a client lets the server end TCP first";
    EXPECT_EQ(f.s.next_deadline(), t0 + 2s);
    f.s.eof(t0 + 1s);
    ASSERT_TRUE(f.s.finished());
    EXPECT_TRUE(f.s.outcome().opened);
    EXPECT_EQ(f.s.outcome().code, proto::close_code::normal);
}

TEST(ClientSession, LingerIsBoundedByCloseTimeout_7_1_1) {
    fixture f;
    f.open();
    f.s.feed(bytes(close_1000), t0);
    f.s.tick(t0 + 2s);  // the server never ended TCP: we do
    ASSERT_TRUE(f.s.finished());
    EXPECT_EQ(f.s.outcome().code, proto::close_code::normal);
}

TEST(ClientSession, OurCloseUnansweredEndsAs1006) {
    fixture f;
    f.open();
    f.s.close(proto::close_code::normal, "bye", t0);
    EXPECT_FALSE(f.s.send(bytes("late"), true)) << "§5.5.1: nothing after our close";
    f.s.feed(bytes(hello_frame), t0 + 1s);  // §7.1.2: data may still arrive
    EXPECT_EQ(f.messages, std::vector<std::string>{"Hello"});
    f.s.tick(t0 + 2s);
    ASSERT_TRUE(f.s.finished());
    EXPECT_EQ(f.s.outcome().code, proto::close_code::abnormal);
}

TEST(ClientSession, PeerCodeAndReasonAreReported_7_1_5) {
    fixture f;
    f.open();
    f.s.feed(bytes(std::string("\x88\x05\x0f\xa1" "bye", 7)), t0);  // 4001 "bye"
    f.s.eof(t0);
    EXPECT_EQ(static_cast<unsigned>(f.s.outcome().code), 4001u);
    EXPECT_EQ(f.s.outcome().reason, "bye");
}

TEST(ClientSession, MaskedFrameFromServerFailsWith1002_5_1) {
    fixture f;
    f.open();
    f.s.feed(bytes(std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11)), t0);  // §5.7 masked
    ASSERT_TRUE(f.s.finished());
    EXPECT_EQ(f.s.outcome().code, proto::close_code::protocol_error);
    EXPECT_EQ(static_cast<unsigned char>(f.drain()[0]), 0x88) << "§7.1.7: our close goes out first";
}

TEST(ClientSession, IdleTimeoutAndPingInterval) {
    fixture f({.host = "h:1", .ping_interval = 1s, .idle_timeout = 3s});
    f.open();
    EXPECT_EQ(f.s.next_deadline(), t0 + 1s);
    f.s.tick(t0 + 1s);
    const std::string ping = f.drain();
    ASSERT_FALSE(ping.empty());
    EXPECT_EQ(static_cast<unsigned char>(ping[0]), 0x89);  // §5.5.2
    f.s.feed(bytes("\x8a\x00"), t0 + 2s);                  // the pong: something was read
    f.s.tick(t0 + 4s);
    EXPECT_FALSE(f.s.finished()) << "idle counts from the last read (2 s), not from the open";
    f.s.tick(t0 + 5s);
    ASSERT_TRUE(f.s.finished());
    EXPECT_EQ(f.s.outcome().code, proto::close_code::abnormal);
    EXPECT_EQ(f.s.outcome().reason, "idle timeout");
}

TEST(ClientSession, EofBeforeCloseIsLost) {
    fixture f;
    f.open();
    f.s.eof(t0);
    ASSERT_TRUE(f.s.finished());
    EXPECT_EQ(f.s.outcome().code, proto::close_code::abnormal);
}

// The bytes under the session failed (client_link: a certificate refused, a
// TLS alert): that reason is the outcome's; after both closes it is still
// the clean end (§7.1.1).
TEST(ClientSession, TransportFailureReasonIsReported) {
    fixture f;
    f.s.eof(t0, "certificate verify failed");
    ASSERT_TRUE(f.s.finished());
    EXPECT_FALSE(f.s.outcome().opened);
    EXPECT_EQ(f.s.outcome().reason, "certificate verify failed");

    fixture g;
    g.open();
    g.s.feed(bytes(close_1000), t0);
    g.s.eof(t0, "TLS record: protocol");
    ASSERT_TRUE(g.s.finished());
    EXPECT_EQ(g.s.outcome().code, proto::close_code::normal);
    EXPECT_EQ(g.s.outcome().reason, "");
}

}  // namespace
}  // namespace wsring::net
