// Tests for permessage-deflate in net/session and net/deflate_contexts
// (RFC 7692), through the fake transport of session_harness.hpp: the offer
// answered in the 101 (or not), compressed messages inflated and echoed
// compressed, the bounds (1009 on the inflated size, 1007 for data that does
// not inflate or is not UTF-8 once inflated, 1002 for RSV1 where it does not
// belong), and per-connection contexts that exist only in takeover mode and
// go with the connection.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/deflate_contexts.hpp"
#include "net/session.hpp"
#include "proto/deflater.hpp"
#include "proto/inflater.hpp"
#include "tests/net/session_harness.hpp"

namespace wsring::net {
namespace {

using namespace session_bench;
using proto::opcode;

session_options deflate_options_for_test(bool takeover = false, std::size_t threshold = 0) {
    session_options o = test_options();
    o.deflate = {.enabled = true, .takeover = takeover, .threshold = threshold};
    return o;
}

std::string offer_request(std::string_view offer) {
    return proto::make_client_request(
        {.host = "127.0.0.1:9001", .extra_headers = {"Sec-WebSocket-Extensions: " + std::string(offer)}},
        "dGhlIHNhbXBsZSBub25jZQ==");
}

std::span<const std::byte> as_bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

// The payload of a compressed message, as a client without context takeover sends it.
std::string deflate(std::string_view message, bool takeover = false) {
    proto::deflater d({.context_takeover = takeover});
    std::vector<std::byte> out;
    d.compress(as_bytes(message), out);
    return {reinterpret_cast<const char*>(out.data()), out.size()};
}

std::string inflate(std::string_view payload) {
    proto::inflater i;
    std::vector<std::byte> out;
    EXPECT_EQ(i.decompress(as_bytes(payload), 64u << 20, out), proto::inflater::status::ok);
    return {reinterpret_cast<const char*>(out.data()), out.size()};
}

// A masked client frame with RSV1 as asked (RFC 7692 §6.1: on the first frame only).
std::string client_frame_rsv1(opcode op, std::string_view payload, bool rsv1, bool fin = true) {
    std::string out(proto::frame_size(payload.size(), true), '\0');
    proto::frame_options fo{.fin = fin, .rsv1 = rsv1, .mask = 0x9a3c51e7};
    out.resize(proto::encode_frame(std::as_writable_bytes(std::span(out.data(), out.size())), op,
                                   as_bytes(payload), fo));
    return out;
}

// The server's frames after the 101, with their RSV1 bits.
struct wire_frame {
    opcode op;
    bool rsv1;
    std::string payload;
};
std::vector<wire_frame> frames_with_rsv1(const std::string& wire) {
    std::vector<wire_frame> out;
    std::size_t pos = wire.find("\r\n\r\n");
    pos = pos == std::string::npos ? 0 : pos + 4;
    while (pos < wire.size()) {
        proto::frame_header fh;
        auto r = proto::decode_header(as_bytes(std::string_view(wire).substr(pos)), fh);
        if (r.size == 0 || wire.size() - pos - r.size < fh.length) break;
        out.push_back({fh.op(), fh.rsv1, wire.substr(pos + r.size, fh.length)});
        pos += r.size + fh.length;
    }
    return out;
}

void open_with(harness& x, std::string_view offer) {
    x.feed(offer_request(offer));
    x.flush();
    ASSERT_EQ(x.c->state, conn_state::open);
    ASSERT_EQ(x.http_status(), 101);
}

// ---- negotiation in the handshake (RFC 7692 §5, §7.1) ---------------------------

TEST(SessionDeflate, AnswersAnOfferWithNoContextTakeoverByDefault_7_1_1) {
    harness x(deflate_options_for_test());
    open_with(x, "permessage-deflate; client_max_window_bits");
    EXPECT_NE(x.wire.find("Sec-WebSocket-Extensions: permessage-deflate"), std::string::npos);
    EXPECT_NE(x.wire.find("server_no_context_takeover"), std::string::npos);
    EXPECT_NE(x.wire.find("client_no_context_takeover"), std::string::npos);
    EXPECT_TRUE(deflate_contexts::agreed(*x.c));
    EXPECT_TRUE(x.s.deflate().shares(*x.c));
}

TEST(SessionDeflate, OffIgnoresTheOffer) {
    harness x;  // --deflate not given
    open_with(x, "permessage-deflate");
    EXPECT_EQ(x.wire.find("Sec-WebSocket-Extensions"), std::string::npos);
    EXPECT_FALSE(deflate_contexts::agreed(*x.c));
    x.feed(client_frame_rsv1(opcode::text, deflate("Hello"), true));  // RSV1 is nobody's: 1002
    x.flush();
    auto f = frames_with_rsv1(x.wire);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].op, opcode::close);
    EXPECT_EQ((frame{f[0].op, f[0].payload}.close_code()), 1002);
}

TEST(SessionDeflate, AnInvalidOfferIsDeclinedAndTheHandshakeSucceeds_7_1) {
    harness x(deflate_options_for_test());
    open_with(x, "permessage-deflate; no_such_parameter");
    EXPECT_EQ(x.wire.find("Sec-WebSocket-Extensions"), std::string::npos);
    EXPECT_FALSE(deflate_contexts::agreed(*x.c));
}

// ---- messages (RFC 7692 §6, §7.2) -------------------------------------------------

TEST(SessionDeflate, InflatesTheRfcHelloAndEchoesItCompressed_7_2_3_1) {
    harness x(deflate_options_for_test());
    open_with(x, "permessage-deflate");
    x.wire.clear();
    const std::string hello("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
    x.feed(client_frame_rsv1(opcode::text, hello, true));
    x.flush();
    auto f = frames_with_rsv1(x.wire);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].op, opcode::text);
    EXPECT_TRUE(f[0].rsv1);
    EXPECT_EQ(f[0].payload, hello) << "RFC 7692 §7.2.3.1's bytes";
    EXPECT_EQ(x.s.stats().inflated, 1u);
    EXPECT_EQ(x.s.stats().deflated, 1u);
}

TEST(SessionDeflate, ShortMessagesGoOutUncompressed) {
    harness x(deflate_options_for_test(false, 64));
    open_with(x, "permessage-deflate");
    x.wire.clear();
    x.feed(client_frame_rsv1(opcode::text, deflate("short"), true));
    std::string json(200, 'x');
    x.feed(client_frame_rsv1(opcode::binary, json, false));  // uncompressed inside a deflate session: fine
    x.flush();
    auto f = frames_with_rsv1(x.wire);
    ASSERT_EQ(f.size(), 2u);
    EXPECT_FALSE(f[0].rsv1);
    EXPECT_EQ(f[0].payload, "short");
    EXPECT_TRUE(f[1].rsv1) << "200 bytes pass the threshold";
    EXPECT_EQ(f[1].op, opcode::binary);
    EXPECT_EQ(inflate(f[1].payload), json);
}

TEST(SessionDeflate, FragmentedCompressedMessageHasRsv1OnTheFirstFrameOnly_6_1) {
    harness x(deflate_options_for_test());
    open_with(x, "permessage-deflate");
    x.wire.clear();
    std::string text(3000, 'a');
    for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>('a' + i % 7);
    std::string z = deflate(text);
    std::size_t third = z.size() / 3;
    x.feed(client_frame_rsv1(opcode::text, z.substr(0, third), true, false));
    x.feed(client_frame_rsv1(opcode::continuation, z.substr(third, third), false, false));
    x.feed(client_frame_rsv1(opcode::continuation, z.substr(2 * third), false, true));
    x.flush();
    auto f = frames_with_rsv1(x.wire);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_TRUE(f[0].rsv1);
    EXPECT_EQ(inflate(f[0].payload), text);
}

TEST(SessionDeflate, EmptyCompressedMessage_7_2_3_6) {
    harness x(deflate_options_for_test());
    open_with(x, "permessage-deflate");
    x.wire.clear();
    x.feed(client_frame_rsv1(opcode::binary, std::string("\x00", 1), true));
    x.flush();
    auto f = frames_with_rsv1(x.wire);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(inflate(f[0].payload), "");
}

struct failing_case {
    const char* name;
    std::string frames;
    int code;
};

// Each case: a deflate session, one offending message, the close code back.
TEST(SessionDeflate, BadCompressedMessagesFailWithTheirCode) {
    std::string bomb = deflate(std::string(4u << 20, '\0'));  // 4 MiB of zeros in a few KiB
    std::string bad_utf8 = deflate("\xc3\x28 not UTF-8 once inflated");
    std::vector<failing_case> cases = {
        {"zip bomb: the inflated size is what counts (RFC 7692 §8)",
         client_frame_rsv1(opcode::binary, bomb, true), 1009},
        {"not DEFLATE data", client_frame_rsv1(opcode::binary, "\xff\xff\xff\xff\xff", true), 1007},
        {"invalid UTF-8 after inflating (RFC 6455 §8.1)", client_frame_rsv1(opcode::text, bad_utf8, true),
         1007},
        {"RSV1 on a ping (RFC 7692 §6.1)", client_frame_rsv1(opcode::ping, "", true), 1002},
        {"RSV1 on a continuation (RFC 7692 §6.1)",
         client_frame_rsv1(opcode::text, deflate("abc"), true, false) +
             client_frame_rsv1(opcode::continuation, "", true, true),
         1002},
    };
    ASSERT_LT(bomb.size(), 8000u);
    for (const auto& k : cases) {
        harness x(deflate_options_for_test());
        open_with(x, "permessage-deflate");
        x.wire.clear();
        x.feed(k.frames);
        x.flush();
        auto f = frames_with_rsv1(x.wire);
        ASSERT_EQ(f.size(), 1u) << k.name;
        EXPECT_EQ(f[0].op, opcode::close) << k.name;
        EXPECT_EQ((frame{f[0].op, f[0].payload}.close_code()), k.code) << k.name;
        EXPECT_EQ(x.h.messages, 0) << k.name;
        EXPECT_LT(x.s.deflate().memory(), 1u << 20) << k.name << ": zlib holds no inflated bytes";
    }
}

// ---- memory: shared by default, per connection with takeover --------------------

TEST(SessionDeflate, SharedModeKeepsNoContextPerConnection) {
    harness x(deflate_options_for_test());
    open_with(x, "permessage-deflate");
    for (int i = 0; i < 3; ++i) x.feed(client_frame_rsv1(opcode::text, deflate(std::string(500, 'q')), true));
    x.flush();
    EXPECT_EQ(x.s.deflate().connections_with_contexts(), 0u);
    EXPECT_EQ(frames_with_rsv1(x.wire).size(), 3u);
}

TEST(SessionDeflate, TakeoverKeepsContextsPerConnectionUntilItCloses_7_2_1) {
    harness x(deflate_options_for_test(true));
    open_with(x, "permessage-deflate; client_max_window_bits");
    EXPECT_EQ(x.wire.find("no_context_takeover"), std::string::npos) << "takeover answered as offered";
    x.wire.clear();
    // The client keeps its window too: the second message refers back to the first.
    proto::deflater client({.context_takeover = true});
    std::string msg(600, 'z');
    for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<char>('a' + (i * 7) % 26);
    for (int i = 0; i < 2; ++i) {
        std::vector<std::byte> z;
        client.compress(as_bytes(msg), z);
        x.feed(client_frame_rsv1(opcode::text, {reinterpret_cast<const char*>(z.data()), z.size()}, true));
    }
    x.flush();
    EXPECT_EQ(x.s.deflate().connections_with_contexts(), 1u);
    auto f = frames_with_rsv1(x.wire);
    ASSERT_EQ(f.size(), 2u);
    EXPECT_LT(f[1].payload.size(), f[0].payload.size()) << "the server's window carried over";
    proto::inflater reader({.context_takeover = true});
    for (const auto& fr : f) {
        std::vector<std::byte> out;
        ASSERT_EQ(reader.decompress(as_bytes(fr.payload), 1u << 20, out), proto::inflater::status::ok);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data()), out.size()), msg);
    }
    x.feed(client_close(1000));
    x.flush();
    EXPECT_EQ(x.s.deflate().connections_with_contexts(), 0u) << "contexts go with the connection";
}

}  // namespace
}  // namespace wsring::net
