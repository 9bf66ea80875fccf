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

#include "proto/deflater.hpp"
#include "proto/encoder.hpp"
#include "proto/handshake.hpp"
#include "proto/inflater.hpp"

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
    // `extensions`: a Sec-WebSocket-Extensions value to answer with, or none.
    std::string answer_101(std::string_view extensions = {}) {
        request = drain();
        const auto at = request.find("Sec-WebSocket-Key: ") + 19;
        const std::string key = request.substr(at, request.find("\r\n", at) - at);
        std::string ext = extensions.empty() ? "" : "Sec-WebSocket-Extensions: " + std::string(extensions) + "\r\n";
        return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: " + proto::accept_key(key) + "\r\n" + ext + "\r\n";
    }
    void open(std::string_view extensions = {}) {
        s.feed(bytes(answer_101(extensions)), t0);
        ASSERT_TRUE(s.is_open());
    }
    std::string request;
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

// ---- permessage-deflate (RFC 7692) ------------------------------------------

const client_session_options deflate_opts{.host = "h:1", .max_message = 1000, .deflate = true};

// A server frame with RSV1 carrying `payload` (already compressed), unmasked.
std::string compressed_frame(std::span<const std::byte> payload) {
    std::string f(proto::frame_size(payload.size(), false), '\0');
    auto out = std::as_writable_bytes(std::span(f.data(), f.size()));
    f.resize(proto::encode_frame(out, proto::opcode::text, payload, {.rsv1 = true}));
    return f;
}

// The close code of the close frame at the start of a masked client frame run.
unsigned masked_close_code(const std::string& wire) {
    if (wire.size() < 8 || static_cast<unsigned char>(wire[0]) != 0x88) return 0;
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(wire[i] ^ wire[2 + (i - 6) % 4]); };
    return b(6) << 8 | b(7);
}

TEST(ClientSessionDeflate, OfferIsInTheRequest_7692_5) {
    fixture f(deflate_opts);
    f.open("permessage-deflate");
    EXPECT_NE(f.request.find("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"),
              std::string::npos) << f.request;
    ASSERT_NE(f.s.deflate_agreed(), nullptr);
}

TEST(ClientSessionDeflate, DeclinedMeansPlainFrames_7692_5) {
    fixture f(deflate_opts);
    f.open();
    EXPECT_EQ(f.s.deflate_agreed(), nullptr);
    f.s.send(bytes("abc"), true);
    EXPECT_EQ(static_cast<unsigned char>(f.drain()[0]), 0x81);  // no RSV1
}

// RFC 7692 §7.2.3.1: "Hello" compressed is c1 07 f2 48 cd c9 c9 07 00.
TEST(ClientSessionDeflate, CompressedHelloIsInflated_7692_7_2_3_1) {
    fixture f(deflate_opts);
    f.open("permessage-deflate");
    f.s.feed(bytes(std::string("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9)), t0);
    EXPECT_EQ(f.messages, std::vector<std::string>{"Hello"});
    EXPECT_EQ(f.s.deflate_counts().received_payload, 5u);
}

TEST(ClientSessionDeflate, OurMessagesAreCompressedWithRsv1_7692_6_1) {
    fixture f(deflate_opts);
    f.open("permessage-deflate");
    const std::string msg(600, 'a');
    f.s.send(bytes(msg), true);
    std::string wire = f.drain();
    ASSERT_GE(wire.size(), 6u);
    EXPECT_EQ(static_cast<unsigned char>(wire[0]), 0xc1);  // FIN, RSV1, text
    const std::size_t len = static_cast<unsigned char>(wire[1]) & 0x7f;
    ASSERT_LT(len, 126u);
    ASSERT_EQ(wire.size(), 6 + len);
    for (std::size_t i = 0; i < len; ++i) wire[6 + i] ^= wire[2 + i % 4];  // §5.3 unmask
    proto::inflater inf;
    std::vector<std::byte> plain;
    ASSERT_EQ(inf.decompress(bytes(std::string_view(wire).substr(6)), 1000, plain), proto::inflater::status::ok);
    EXPECT_EQ(text(plain), msg);
}

TEST(ClientSessionDeflate, Rsv1WithoutAgreementFailsWith1002_5_2) {
    fixture f;
    f.open();
    f.s.feed(bytes(std::string("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9)), t0);
    ASSERT_TRUE(f.s.finished());
    EXPECT_TRUE(f.messages.empty());
    EXPECT_EQ(f.s.outcome().code, proto::close_code::protocol_error);
    EXPECT_EQ(masked_close_code(f.drain()), 1002u);
}

// RFC 7692 §8: a message that inflates past max_message stops there → 1009.
TEST(ClientSessionDeflate, InflatedSizeBoundedByMaxMessage_7692_8) {
    fixture f(deflate_opts);
    f.open("permessage-deflate");
    proto::deflater d;
    std::vector<std::byte> bomb;
    d.compress(bytes(std::string(1 << 20, 'z')), bomb);  // 1 MiB → about 1 KB
    ASSERT_LT(bomb.size(), 1100u);
    f.s.feed(bytes(compressed_frame(bomb)), t0);
    ASSERT_TRUE(f.s.finished());
    EXPECT_TRUE(f.messages.empty());
    EXPECT_EQ(f.s.outcome().code, proto::close_code::message_too_big);
    EXPECT_EQ(masked_close_code(f.drain()), 1009u);
}

TEST(ClientSessionDeflate, CorruptCompressedDataFails) {
    fixture f(deflate_opts);
    f.open("permessage-deflate");
    f.s.feed(bytes(std::string("\xc1\x03\xff\xff\xff", 5)), t0);
    ASSERT_TRUE(f.s.finished());
    EXPECT_EQ(f.s.outcome().code, proto::to_close_code(proto::error::deflate_corrupt));
}

TEST(ClientSessionDeflate, UnusableWindowIsRefused_7692_7_1_2_2) {
    fixture f(deflate_opts);
    f.s.feed(bytes(f.answer_101("permessage-deflate; client_max_window_bits=8")), t0);
    ASSERT_TRUE(f.s.finished());
    EXPECT_FALSE(f.s.outcome().opened);
}

}  // namespace
}  // namespace wsring::net
