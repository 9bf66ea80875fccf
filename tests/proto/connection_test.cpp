// Tests for proto/connection: byte literals in, events and answer bytes out,
// for both roles, with every stream fed at every split point (the state and
// the bytes written must not depend on how reads cut it). The golden frames
// are RFC 6455 §5.7's; the rules are §5.1/§5.3 (masking by role), §5.5.1
// (close echo, nothing after our close), §5.5.3 (pong), §7.1.5 (close code)
// and §7.1.7 (fail with a close).
#include "proto/connection.hpp"

#include <gtest/gtest.h>

#include <set>

#include "test_util.hpp"

namespace wsring::proto {
namespace {

using test::bytes;
using test::hex;
using test::recorded;
using test::operator+;

// What a connection did with a stream: its events, every answer() it wrote
// (a client's with the §5.7 key), and where it ended.
struct transcript {
    std::vector<recorded> events;
    bytes written;
    ws_state state = ws_state::open;
    close_code code = close_code::abnormal;
    bool operator==(const transcript&) const = default;
};

void PrintTo(const transcript& t, std::ostream* os) {
    *os << "{events=" << t.events.size() << " written=" << t.written.size()
        << " state=" << static_cast<int>(t.state) << " code=" << static_cast<int>(t.code) << "}";
}

// Feeds `stream` cut at `cuts` into `c`, answering every event, until the
// input is used up or the connection is finished.
transcript run(connection& c, const bytes& stream, const std::vector<std::size_t>& cuts = {}) {
    transcript t;
    std::size_t from = 0;
    for (std::size_t i = 0; i <= cuts.size() && !c.finished(); ++i) {
        std::size_t to = i < cuts.size() ? cuts[i] : stream.size();
        bytes chunk(stream.begin() + static_cast<std::ptrdiff_t>(from),
                    stream.begin() + static_cast<std::ptrdiff_t>(to));
        from = to;
        std::span<std::byte> in(chunk);
        while (!c.finished()) {
            event ev = c.next(in);
            if (ev.kind == event_kind::need_more) break;
            t.events.push_back(test::record(ev));
            bytes out(max_answer_size);
            out.resize(c.answer(ev, out, test::rfc_key()));
            t.written = t.written + out;
        }
    }
    t.state = c.state();
    t.code = c.code();
    return t;
}

// The transcript of a fresh connection of role `self` fed `stream` whole,
// checked to be the same at every single cut and one byte at a time.
transcript run_every_split(role self, const bytes& stream) {
    connection whole_conn(self);
    transcript whole = run(whole_conn, stream);
    for (std::size_t i = 0; i <= stream.size(); ++i) {
        connection c(self);
        EXPECT_EQ(run(c, stream, {i}), whole) << "cut at " << i;
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
    connection c(self);
    EXPECT_EQ(run(c, stream, every), whole) << "byte at a time";
    return whole;
}

const bytes masked_hello = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");  // §5.7, client → server
const bytes unmasked_hello = hex("81 05 48 65 6c 6c 6f");            // §5.7, server → client

TEST(Connection, Rfc_5_7_GoldenTextBothRoles) {
    transcript s = run_every_split(role::server, masked_hello);
    ASSERT_EQ(s.events.size(), 1u);
    EXPECT_EQ(s.events[0].kind, event_kind::text);
    EXPECT_EQ(s.events[0].payload, test::text_bytes("Hello"));
    EXPECT_TRUE(s.written.empty()) << "a message needs no answer";
    EXPECT_EQ(s.state, ws_state::open);

    transcript c = run_every_split(role::client, unmasked_hello);
    ASSERT_EQ(c.events.size(), 1u);
    EXPECT_EQ(c.events[0].payload, test::text_bytes("Hello"));
}

// write_header: a server's only (a client's frames are masked, §5.1), and
// none after our close (§5.5.1), like write_message.
TEST(Connection, WriteHeaderIsAServersAndEndsWithOurClose_5_5_1) {
    bytes out(max_answer_size);
    connection client(role::client);
    EXPECT_EQ(client.write_header(out, opcode::binary, 1000), 0u);
    connection server(role::server);
    EXPECT_EQ(server.write_header(out, opcode::binary, 1000), 4u);  // 2 + 16-bit length
    server.write_close(out, close_code::normal);
    EXPECT_EQ(server.write_header(out, opcode::binary, 1000), 0u);
}

TEST(Connection, ServerAnswersPingWithPongOfSamePayload_5_5_3) {
    transcript t = run_every_split(role::server, hex("89 85 37 fa 21 3d 7f 9f 4d 51 58"));
    ASSERT_EQ(t.events.size(), 1u);
    EXPECT_EQ(t.events[0].kind, event_kind::ping);
    EXPECT_EQ(t.written, hex("8a 05 48 65 6c 6c 6f")) << "§5.7's unmasked pong";
}

TEST(Connection, ClientAnswersPingWithMaskedPong_5_3) {
    transcript t = run_every_split(role::client, hex("89 05 48 65 6c 6c 6f"));
    EXPECT_EQ(t.written, hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58")) << "§5.7's masked pong";
}

TEST(Connection, PingBetweenFragmentsIsAnswered_5_4) {
    // §5.7's fragmented "Hel" + "lo" with a ping in between.
    transcript t = run_every_split(role::client, hex("01 03 48 65 6c 89 00 80 02 6c 6f"));
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(t.events[0].kind, event_kind::ping);
    EXPECT_EQ(t.events[1].payload, test::text_bytes("Hello"));
    EXPECT_EQ(t.written, hex("8a 80 37 fa 21 3d"));
}

TEST(Connection, ServerEchoesCloseCode_5_5_1) {
    // Client close 1000 (03 e8 masked with 37 fa 21 3d), then bytes never read.
    transcript t = run_every_split(role::server, hex("88 82 37 fa 21 3d 34 12") + masked_hello);
    ASSERT_EQ(t.events.size(), 1u) << "nothing after a close frame is data";
    EXPECT_EQ(t.events[0].kind, event_kind::close);
    EXPECT_EQ(t.written, hex("88 02 03 e8"));
    EXPECT_EQ(t.state, ws_state::closed);
    EXPECT_EQ(t.code, close_code::normal);
}

TEST(Connection, ClientEchoesEmptyCloseEmpty_7_1_5) {
    transcript t = run_every_split(role::client, hex("88 00"));
    EXPECT_EQ(t.written, hex("88 80 37 fa 21 3d")) << "no code in, no code out";
    EXPECT_EQ(t.state, ws_state::closed);
    EXPECT_EQ(t.code, close_code::no_status) << "§7.1.5: 1005 when the close had no code";
}

TEST(Connection, TheirCloseAfterOursCompletesWithoutSecondClose_7_1_4) {
    for (std::size_t cut = 0; cut <= 8; ++cut) {
        connection c(role::server);
        bytes ours(max_answer_size);
        ours.resize(c.write_close(ours, close_code::going_away, "bye"));
        EXPECT_EQ(ours, hex("88 05 03 e9") + test::text_bytes("bye"));
        EXPECT_EQ(c.state(), ws_state::close_sent);
        EXPECT_TRUE(c.close_sent());
        // A ping and their close 1000 cross ours: neither is answered.
        transcript t = run(c, hex("89 80 37 fa 21 3d 88 82 37 fa 21 3d 34 12"), {cut});
        ASSERT_EQ(t.events.size(), 2u);
        EXPECT_TRUE(t.written.empty()) << "no pong, no second close after ours";
        EXPECT_EQ(t.state, ws_state::closed);
        EXPECT_TRUE(c.finished());
        EXPECT_EQ(t.code, close_code::normal) << "§7.1.5: the code of the close received";
    }
}

TEST(Connection, ProtocolErrorFailsWithCloseCarryingItsCode_7_1_7) {
    // A server receiving an unmasked frame (§5.1), a client a masked one.
    for (auto [self, stream] : {std::pair{role::server, unmasked_hello}, std::pair{role::client, masked_hello}}) {
        transcript t = run_every_split(self, stream);
        ASSERT_EQ(t.events.size(), 1u);
        EXPECT_EQ(t.events[0].kind, event_kind::protocol_error);
        EXPECT_EQ(t.state, ws_state::failed);
        EXPECT_EQ(t.code, close_code::protocol_error);
        std::size_t head = self == role::server ? 2 : 6;
        ASSERT_GE(t.written.size(), head + 2);
        EXPECT_EQ(t.written[0], std::byte{0x88});
        EXPECT_EQ(static_cast<std::size_t>(t.written[1] & std::byte{0x7f}), t.written.size() - head);
        if (self == role::server) {
            EXPECT_EQ(bytes(t.written.begin() + 2, t.written.begin() + 4), hex("03 ea"));
        }
    }
}

TEST(Connection, NothingWrittenAfterOurClose_5_5_1) {
    for (role self : test::both_roles) {
        connection c(self);
        bytes out(64 + max_answer_size);
        std::byte payload[3]{};
        EXPECT_GT(c.write_message(out, opcode::binary, payload), 0u);
        EXPECT_GT(c.write_close(out, close_code::normal), 0u);
        EXPECT_EQ(c.write_message(out, opcode::binary, payload), 0u);
        EXPECT_EQ(c.write_ping(out), 0u);
        EXPECT_EQ(c.write_close(out, close_code::normal), 0u) << "one close per side";
        EXPECT_FALSE(c.can_send());
        EXPECT_FALSE(c.finished()) << "their close is still awaited";
    }
}

TEST(Connection, ErrorAfterOurCloseSendsNoSecondClose_7_1_7) {
    connection c(role::server);
    bytes out(max_answer_size);
    ASSERT_GT(c.write_close(out, close_code::normal), 0u);
    transcript t = run(c, unmasked_hello);
    ASSERT_EQ(t.events.size(), 1u);
    EXPECT_EQ(t.state, ws_state::failed);
    EXPECT_TRUE(t.written.empty());
    EXPECT_EQ(t.code, close_code::protocol_error);
}

TEST(Connection, CodeIs1006WithoutCloseReceived_7_1_5) {
    connection c(role::server);
    EXPECT_EQ(c.code(), close_code::abnormal);
    transcript t = run(c, masked_hello);
    EXPECT_EQ(t.code, close_code::abnormal);
    bytes out(max_answer_size);
    c.write_close(out, close_code::going_away);
    EXPECT_EQ(c.code(), close_code::abnormal) << "our own close is not the connection's code";
}

TEST(Connection, FailAboveTheDecoderReportsItsCode_7_1_7) {
    connection c(role::client);
    transcript t = run(c, unmasked_hello);
    ASSERT_EQ(t.events.size(), 1u);
    c.fail(close_code::message_too_big);  // say, the message inflated past the limit
    EXPECT_EQ(c.state(), ws_state::failed);
    EXPECT_TRUE(c.finished());
    EXPECT_EQ(c.code(), close_code::message_too_big);
    bytes out(max_answer_size);
    EXPECT_GT(c.write_close(out, close_code::message_too_big), 0u) << "our failing close is still owed";
    EXPECT_EQ(c.write_message(out, opcode::text, {}), 0u);
    EXPECT_EQ(c.code(), close_code::message_too_big);
}

TEST(Connection, FailAfterTheirCloseKeepsTheirCode_7_1_5) {
    connection c(role::client);
    run(c, hex("88 02 03 e8"));  // their close 1000
    c.fail(close_code::protocol_error);
    EXPECT_EQ(c.code(), close_code::normal);
}

TEST(Connection, TerminalEventReplaysWithoutMovingState) {
    connection c(role::client);
    run(c, hex("88 02 03 e9"));
    ASSERT_EQ(c.state(), ws_state::closed);
    bytes more = unmasked_hello;
    std::span<std::byte> in(more);
    event ev = c.next(in);
    EXPECT_EQ(ev.kind, event_kind::close);
    EXPECT_EQ(in.size(), more.size()) << "consumes nothing";
    EXPECT_EQ(c.code(), close_code::going_away);
    bytes out(max_answer_size);
    EXPECT_EQ(c.answer(ev, out), 0u) << "the replay owes nothing";
}

TEST(Connection, ClientFramesAreMaskedAndDecodeOnServer_5_3) {
    connection client(role::client);
    bytes out(client.frame_size(5));
    auto hello = test::text_bytes("Hello");
    out.resize(client.write_message(out, opcode::text, hello, {.mask = test::rfc_key()}));
    EXPECT_EQ(out, masked_hello) << "§5.7's masked frame with §5.7's key";

    bytes wire;
    for (int i = 0; i < 3; ++i) {  // fresh keys
        bytes f(client.frame_size(5));
        f.resize(client.write_message(f, opcode::text, hello));
        EXPECT_TRUE(static_cast<bool>(f[1] & std::byte{0x80})) << "masked";
        wire = wire + f;
    }
    bytes close(max_answer_size);
    close.resize(client.write_close(close, close_code::normal, "done"));
    transcript t = run_every_split(role::server, wire + close);
    ASSERT_EQ(t.events.size(), 4u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(t.events[static_cast<std::size_t>(i)].payload, hello);
    EXPECT_EQ(t.events[3].payload, test::text_bytes("done"));
    EXPECT_EQ(t.written, hex("88 02 03 e8"));
}

TEST(Connection, ServerFramesAreNeverMasked_5_1) {
    connection server(role::server);
    bytes out(server.frame_size(5));
    out.resize(server.write_message(out, opcode::text, test::text_bytes("Hello"), {.mask = 0x12345678}));
    EXPECT_EQ(out, unmasked_hello);
}

TEST(Connection, ReadsOwnEchoForRawBenchmarks) {
    connection c(role::client, {}, true);
    bytes wire(c.frame_size(5) + max_answer_size);
    std::size_t n = c.write_message(wire, opcode::text, test::text_bytes("Hello"));
    n += c.write_close(std::span(wire).subspan(n), close_code::normal);
    wire.resize(n);
    transcript t = run(c, wire);
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(t.events[0].payload, test::text_bytes("Hello"));
    EXPECT_EQ(t.state, ws_state::closed) << "our close coming back completes the handshake";
    EXPECT_TRUE(t.written.empty());
}

TEST(Connection, FreshMaskKeysVary_5_3) {
    std::set<mask_key> keys;
    for (int i = 0; i < 1000; ++i) keys.insert(fresh_mask_key());  // four batches
    EXPECT_GE(keys.size(), 995u) << "32-bit keys from a CSPRNG almost never repeat";
}

}  // namespace
}  // namespace wsring::proto
