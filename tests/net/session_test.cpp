// Tests for net/session: the connection state machine driven through a fake
// transport — bytes in, bytes queued out, timers advanced by hand. Names
// cite the RFC 6455 rule they check. The last tests are the fail loops: a
// scripted conversation where operation n fails (reset, EOF, or time runs
// out), looped over every n, so every error path is walked and must end in
// `closed` with nothing leaked.
#include "net/session.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "tests/net/session_harness.hpp"

namespace wsring::net {
namespace {

using namespace session_bench;
using proto::opcode;

// ---- the opening handshake (RFC 6455 §4.2) -------------------------------------

TEST(Session, UpgradeThenEcho_4_2_2) {
    harness x;
    x.open();
    EXPECT_NE(x.wire.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
              std::string::npos);  // RFC 6455 §1.3's example key
    EXPECT_EQ(x.c->http, nullptr) << "the request parser is freed after the handshake";
    x.feed(client_frame(opcode::text, "Hello"));
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].op, opcode::text);
    EXPECT_EQ(f[0].payload, "Hello");
    EXPECT_EQ(x.shared_.open.load(), 1u);
}

TEST(Session, FramesInTheSameReadAsTheRequestAreKept_4_2_1) {
    harness x;
    x.feed(upgrade_request() + client_frame(opcode::binary, "early") +
           client_frame(opcode::text, "bird"));
    x.flush();
    EXPECT_EQ(x.http_status(), 101);
    auto f = x.frames();
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].payload, "early");
    EXPECT_EQ(f[1].payload, "bird");
}

TEST(Session, RequestSplitAtEveryByte) {
    std::string req = upgrade_request() + client_frame(opcode::text, "split");
    harness x;
    for (char ch : req) x.feed(std::string(1, ch));
    x.flush();
    EXPECT_EQ(x.http_status(), 101);
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].payload, "split");
}

TEST(Session, HealthzAnswers200ThenLingers) {
    harness x;
    x.feed("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(x.c->state, conn_state::draining);
    x.flush();
    EXPECT_EQ(x.http_status(), 200);
    EXPECT_NE(x.wire.find("\r\n\r\nok\n"), std::string::npos);
    // FIN, then wait for the peer's EOF before closing (no RST over unread input).
    EXPECT_EQ(x.t.fins, 1);
    EXPECT_EQ(x.c->state, conn_state::lingering);
    x.feed("ignored");
    x.s.on_peer_closed(*x.c, 0);
    x.expect_clean_close();
}

TEST(Session, HalfClosedHttpClientStillGetsItsAnswer) {
    harness x;
    x.feed("GET /healthz HTTP/1.0\r\n\r\n");
    x.s.on_peer_closed(*x.c, 0);  // EOF right behind the request
    EXPECT_EQ(x.c->state, conn_state::draining);
    x.flush();
    EXPECT_EQ(x.http_status(), 200);
    x.expect_clean_close();
}

TEST(Session, PlainGetElsewhereIs426) {
    harness x;
    x.feed("GET /chat HTTP/1.1\r\nHost: x\r\n\r\n");
    x.flush();
    EXPECT_EQ(x.http_status(), 426);
    EXPECT_NE(x.wire.find("Upgrade: websocket\r\n"), std::string::npos);
}

TEST(Session, OtherMethodsAre405) {
    harness x;
    x.feed("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    x.flush();
    EXPECT_EQ(x.http_status(), 405);
}

TEST(Session, MissingUpgradeHeaderIs400_4_2_1) {
    harness x;
    std::string req = upgrade_request();
    auto at = req.find("Upgrade: websocket\r\n");
    ASSERT_NE(at, std::string::npos);
    req.erase(at, std::strlen("Upgrade: websocket\r\n"));
    x.feed(req);
    x.flush();
    EXPECT_EQ(x.http_status(), 400);
}

TEST(Session, GarbageIs400) {
    harness x;
    x.feed("\x16\x03\x01 not http at all\r\n\r\n");
    x.flush();
    EXPECT_EQ(x.http_status(), 400);
}

TEST(Session, OversizedHeaderIs431) {
    harness x;  // max_header = 1024
    x.feed("GET / HTTP/1.1\r\nX-Filler: " + std::string(2000, 'f') + "\r\n\r\n");
    x.flush();
    EXPECT_EQ(x.http_status(), 431);
}

TEST(Session, BeyondMaxConnectionsIs503) {
    auto o = test_options();
    o.max_connections = 1;
    harness first(o);
    first.open();
    harness second(o, &first.shared_);  // two reactors, one counter
    second.feed(upgrade_request());
    second.flush();
    EXPECT_EQ(second.http_status(), 503);
    EXPECT_EQ(first.shared_.open.load(), 1u);
    first.feed(client_close(1000));
    first.flush();
    EXPECT_EQ(first.shared_.open.load(), 0u);  // the slot is free again
}

TEST(Session, HandshakeDeadlineDropsSlowloris) {
    harness x;
    x.feed("GET / HTTP/1.1\r\n");
    x.advance(500ms);
    x.feed("X-Slow: 1\r\n");  // trickling does not extend the deadline
    EXPECT_EQ(x.c->state, conn_state::handshake);
    x.advance(600ms);
    x.expect_clean_close();
    EXPECT_TRUE(x.wire.empty());
}

// ---- frames (RFC 6455 §5) ------------------------------------------------------------

TEST(Session, PingGetsPongWithSamePayload_5_5_2) {
    harness x;
    x.open();
    x.feed(client_frame(opcode::ping, "are you there"));
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].op, opcode::pong);
    EXPECT_EQ(f[0].payload, "are you there");
}

TEST(Session, FragmentedMessageEchoedWhole_5_4) {
    harness x;
    x.open();
    x.feed(client_frame(opcode::text, "frag", false) + client_frame(opcode::ping, "p") +
           client_frame(opcode::continuation, "mented"));
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].op, opcode::pong);
    EXPECT_EQ(f[1].payload, "fragmented");
}

TEST(Session, LargeEchoGoesOutAsASharedSegment) {
    harness x;
    x.open();
    std::string big(40000, 'b');
    x.feed(client_frame(opcode::binary, big));
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].payload, big);
}

// A large frame with nothing queued ahead goes to the socket at once, from
// the receive buffer: nothing is copied into the queue when the socket
// takes it all.
TEST(Session, LargeEchoIsWrittenThroughWhenTheQueueIsEmpty) {
    harness x;
    x.open();
    x.t.write_now_room = SIZE_MAX;
    const std::string big = patterned(40000, 7);
    x.feed(client_frame(opcode::binary, big));
    EXPECT_EQ(x.t.write_nows, 1);
    EXPECT_TRUE(x.c->out.empty()) << "the socket took it all: nothing queued";
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].payload, big);
}

// Whatever the socket takes — none, part of the header, the header, part of
// the payload — the queue holds exactly the rest, and the wire the frame.
TEST(Session, PartlyWrittenThroughFrameQueuesExactlyTheRest) {
    const std::string big = patterned(20000, 13);
    const std::size_t header = proto::header_size(big.size(), false);  // 4
    for (std::size_t room : {std::size_t{1}, std::size_t{3}, header, header + 1, std::size_t{4096},
                             header + big.size() - 1}) {
        SCOPED_TRACE(room);
        harness x;
        x.open();
        x.t.write_now_room = room;
        x.feed(client_frame(opcode::binary, big));
        EXPECT_EQ(x.c->out.bytes(), header + big.size() - room);
        x.flush();
        auto f = x.frames();
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].payload, big);
    }
}

// Behind queued bytes a large frame waits its turn: writing it through
// would overtake them.
TEST(Session, LargeFrameBehindQueuedBytesIsNotWrittenThrough) {
    harness x;
    x.open();
    x.t.write_now_room = SIZE_MAX;
    std::string big(40000, 'q');
    x.feed(client_frame(opcode::text, "first") + client_frame(opcode::binary, big));
    EXPECT_EQ(x.t.write_nows, 0);
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].payload, "first");
    EXPECT_EQ(f[1].payload, big);
}

TEST(Session, ManySmallRepliesLeaveInOneFlush) {
    harness x;
    x.open();
    x.wire.clear();
    std::string in;
    for (int i = 0; i < 16; ++i) in += client_frame(opcode::text, "m" + std::to_string(i));
    x.feed(in);
    iovec iov[4];
    EXPECT_EQ(x.c->out.gather(iov, 4), 1u) << "sixteen replies, one contiguous block";
    x.flush();
    EXPECT_EQ(x.frames().size(), 16u);
}

TEST(Session, UnmaskedClientFrameFailsWith1002_5_1) {
    harness x;
    x.open();
    x.feed(client_frame(opcode::text, "naked", true, false));
    EXPECT_EQ(x.c->state, conn_state::draining);
    x.feed(client_frame(opcode::text, "after the error"));  // read and dropped
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].op, opcode::close);
    EXPECT_EQ(f[0].close_code(), 1002);
    EXPECT_EQ(x.c->state, conn_state::lingering);
    x.s.on_peer_closed(*x.c, 0);
    x.expect_clean_close();
    EXPECT_EQ(x.h.codes, std::vector<int>{1002}) << "the handler hears the code we failed with";
}

TEST(Session, InvalidUtf8FailsWith1007_8_1) {
    harness x;
    x.open();
    x.feed(client_frame(opcode::text, "\xC0\xAF"));
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].close_code(), 1007);
}

TEST(Session, TooBigMessageFailsWith1009_7_4_1) {
    harness x;  // max_message = 64 KiB
    x.open();
    x.feed(client_frame(opcode::binary, std::string(70000, 'x')));
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].close_code(), 1009);
}

// ---- closing (RFC 6455 §7) -------------------------------------------------------------

TEST(Session, ClientCloseIsEchoedThenServerClosesTcpFirst_7_1_1) {
    harness x;
    x.open();
    x.feed(client_close(4001, "bye"));
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].op, opcode::close);
    EXPECT_EQ(f[0].close_code(), 4001);
    EXPECT_EQ(x.t.fins, 0) << "a clean close needs no linger";
    x.expect_clean_close();
    EXPECT_EQ(x.h.codes, std::vector<int>{4001}) << "the code received (RFC 6455 §7.1.5)";
}

TEST(Session, EmptyCloseIsAnsweredWithEmptyClose_5_5_1) {
    harness x;
    x.open();
    x.feed(client_close(-1));
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].op, opcode::close);
    EXPECT_TRUE(f[0].payload.empty());
    x.expect_clean_close();
    EXPECT_EQ(x.h.codes, std::vector<int>{1005}) << "RFC 6455 §7.1.5: a close frame without a code";
}

TEST(Session, NothingIsSentAfterOurClose_5_5_1) {
    harness x;
    x.open();
    x.s.close(*x.c, proto::close_code::going_away, "bye");
    x.feed(client_frame(opcode::text, "late") + client_frame(opcode::ping, "late ping"));
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u) << "no echo, no pong after the close";
    EXPECT_EQ(f[0].close_code(), 1001);
    EXPECT_EQ(x.c->state, conn_state::closing);
    x.feed(client_close(4002));  // the peer's answer completes the handshake
    x.flush();
    EXPECT_EQ(x.frames().size(), 1u);
    x.expect_clean_close();
    EXPECT_EQ(x.h.codes, std::vector<int>{4002}) << "RFC 6455 §7.1.5: the code received, not ours";
}

TEST(Session, ServerCloseTimesOutWithoutAnAnswer_7_1_1) {
    harness x;
    x.open();
    x.s.close(*x.c, proto::close_code::normal, "");
    x.flush();
    x.advance(400ms);
    EXPECT_EQ(x.c->state, conn_state::closing);
    x.advance(200ms);  // close_timeout = 500 ms
    x.expect_clean_close();
    EXPECT_EQ(x.h.codes, std::vector<int>{1006}) << "RFC 6455 §7.1.5: no close frame received";
}

TEST(Session, ShutdownSends1001) {
    harness x;
    x.open();
    x.s.begin_shutdown(*x.c);
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].close_code(), 1001);
    EXPECT_EQ(f[0].payload.substr(2), "server shutting down");
}

TEST(Session, ShutdownDuringHandshakeJustCloses) {
    harness x;
    x.feed("GET / HT");
    x.s.begin_shutdown(*x.c);
    x.expect_clean_close();
}

TEST(Session, EofWithoutCloseFrameCloses_7_1_5) {
    // RFC 6455 §7.1.5: "If _The WebSocket Connection is Closed_ and no Close
    // control frame was received by the endpoint ..., _The WebSocket
    // Connection Close Code_ is considered to be 1006."
    harness x;
    x.open();
    x.s.on_peer_closed(*x.c, 0);
    x.expect_clean_close();
    EXPECT_EQ(x.h.codes, std::vector<int>{1006});
}

TEST(Session, ResetWithoutCloseFrameIs1006_7_1_5) {
    harness x;
    x.open();
    x.feed(client_frame(opcode::text, "half a mess", false));  // mid-message
    x.s.on_peer_closed(*x.c, -ECONNRESET);
    x.expect_clean_close();
    EXPECT_EQ(x.h.codes, std::vector<int>{1006});
}

// ---- keep-alive and idle ---------------------------------------------------------------------

TEST(Session, SilencePingsThenClosesAtTheIdleTimeout) {
    harness x;  // ping 1 s, idle 3 s
    x.open();
    x.advance(900ms);
    x.flush();
    EXPECT_TRUE(x.frames().empty());
    x.advance(200ms);
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].op, opcode::ping);
    x.advance(1700ms);  // 2.8 s of silence: the pong may still come
    x.flush();
    EXPECT_EQ(x.frames().size(), 1u);
    EXPECT_EQ(x.c->state, conn_state::open);
    x.advance(300ms);  // past --idle-timeout
    x.flush();
    f = x.frames();
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[1].close_code(), 1001);
    EXPECT_EQ(f[1].payload.substr(2), "idle timeout");
    EXPECT_EQ(x.c->state, conn_state::closing);
}

// A timer's ping and a shutdown's close go to the socket at once
// (session::send_unprompted). Whatever part the socket takes — none, part
// of the header, all but a byte — the queue holds exactly the rest, and the
// wire carries the frame whole, once.
TEST(Session, UnpromptedFramesWrittenInPartQueueExactlyTheRest) {
    const std::vector<std::function<void(harness&)>> unprompted = {
        [](harness& x) { x.advance(1100ms); },                // the keep-alive ping
        [](harness& x) { x.s.begin_shutdown(*x.c); },         // the 1001 close
    };
    for (std::size_t which = 0; which < unprompted.size(); ++which) {
        harness whole;  // how long the frame is, when the socket takes it all
        whole.open();
        whole.wire.clear();
        whole.t.write_now_room = SIZE_MAX;
        unprompted[which](whole);
        const std::size_t size = whole.wire.size();
        ASSERT_GE(size, 2u);  // a ping with no payload is its 2-byte header
        EXPECT_TRUE(whole.c->out.empty()) << "the socket took it all: nothing queued";
        for (std::size_t room : std::set<std::size_t>{0, 1, size / 2, size - 1}) {
            SCOPED_TRACE(testing::Message() << "frame " << which << ", room " << room);
            harness x;
            x.open();
            x.t.write_now_room = room;
            int before = x.t.write_nows;
            unprompted[which](x);
            EXPECT_EQ(x.t.write_nows, before + 1);
            EXPECT_EQ(x.c->out.bytes(), size - room);
            x.flush();
            auto f = x.frames();
            ASSERT_EQ(f.size(), 1u);
            EXPECT_EQ(f[0].op, which == 0 ? opcode::ping : opcode::close);
            EXPECT_TRUE(x.c->out.empty());
        }
    }
}

// Behind queued replies a ping waits its turn: sent at once, it would
// overtake them (and cut a frame in two on the wire).
TEST(Session, UnpromptedFrameBehindQueuedBytesIsQueuedAfterThem) {
    harness x;
    x.open();
    x.t.write_now_room = SIZE_MAX;
    x.feed(client_frame(opcode::text, "reply first"));  // its echo waits for the flush
    ASSERT_FALSE(x.c->out.empty());
    int before = x.t.write_nows;
    x.advance(1100ms);  // the ping is due
    EXPECT_EQ(x.t.write_nows, before) << "the ping was written ahead of the queued reply";
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].payload, "reply first");
    EXPECT_EQ(f[1].op, opcode::ping);
}

TEST(Session, WithoutIdleTimeoutAMissingPongCloses) {
    auto o = test_options();
    o.idle_timeout = 0ms;
    harness x(o);
    x.open();
    x.advance(1100ms);
    x.flush();
    ASSERT_EQ(x.frames().size(), 1u);  // the ping
    x.advance(800ms);
    EXPECT_EQ(x.c->state, conn_state::open);
    x.advance(300ms);  // a whole further interval without a byte
    x.flush();
    auto f = x.frames();
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[1].payload.substr(2), "no pong");
}

TEST(Session, PongKeepsTheConnectionOpen) {
    harness x;
    x.open();
    for (int i = 0; i < 5; ++i) {
        x.advance(1100ms);
        x.flush();
        x.feed(client_frame(opcode::pong, ""));
    }
    EXPECT_EQ(x.c->state, conn_state::open);
    int pings = 0;
    for (auto& f : x.frames()) pings += f.op == opcode::ping;
    EXPECT_EQ(pings, 5);
}

TEST(Session, IdleTimeoutWithoutPings) {
    auto o = test_options();
    o.ping_interval = 0ms;
    harness x(o);
    x.open();
    x.advance(2900ms);
    x.feed(client_frame(opcode::text, "x"));  // traffic resets the idle clock
    x.advance(2900ms);
    EXPECT_EQ(x.c->state, conn_state::open);
    x.advance(200ms);
    x.flush();
    auto f = x.frames();
    ASSERT_FALSE(f.empty());
    EXPECT_EQ(f.back().close_code(), 1001);
    EXPECT_EQ(f.back().payload.substr(2), "idle timeout");
}

// ---- backpressure ----------------------------------------------------------------------------

TEST(Session, StopsReadingAboveHighWaterResumesBelowLow) {
    harness x;  // high 64 KiB, low 16 KiB
    x.open();
    std::string msg = client_frame(opcode::binary, std::string(1000, 'm'));
    int fed = 0;
    while (x.s.wants_read(*x.c) && fed < 1000) {
        x.feed(msg);
        ++fed;
    }
    EXPECT_FALSE(x.s.wants_read(*x.c)) << "a peer that does not read stops being read";
    EXPECT_LT(fed, 80);
    x.flush(30000);  // partial: still above low water
    EXPECT_FALSE(x.s.wants_read(*x.c));
    EXPECT_EQ(x.t.read_soons, 0);
    x.flush();
    EXPECT_TRUE(x.s.wants_read(*x.c));
    EXPECT_EQ(x.t.read_soons, 1) << "resume must read: edge-triggered input may be waiting";
}

// ---- fail loops: operation n fails, for every n --------------------------------------------

// A conversation exercising every phase; each step is one operation.
std::vector<std::function<void(harness&)>> conversation() {
    std::string req = upgrade_request();
    return {
        [req](harness& x) { x.feed(req.substr(0, 20)); },
        [req](harness& x) { x.feed(req.substr(20) + client_frame(opcode::text, "one")); },
        [](harness& x) { x.flush(); },
        [](harness& x) { x.feed(client_frame(opcode::binary, std::string(30000, 'b'))); },
        [](harness& x) { x.flush(1000); },  // a partial write
        [](harness& x) { x.feed(client_frame(opcode::ping, "p")); },
        [](harness& x) { x.flush(); },
        [](harness& x) { x.advance(1100ms); },  // a keep-alive ping goes out
        [](harness& x) { x.flush(); },
        [](harness& x) { x.feed(client_frame(opcode::text, "frag", false)); },
        [](harness& x) { x.feed(client_frame(opcode::continuation, "ment")); },
        [](harness& x) { x.s.close(*x.c, proto::close_code::normal, "done"); },
        [](harness& x) { x.flush(); },
        [](harness& x) { x.feed(client_close(1000)); },
        [](harness& x) { x.flush(); },
    };
}

TEST(SessionFailLoop, ResetAtEveryStepClosesCleanly) {
    auto steps = conversation();
    for (std::size_t n = 0; n <= steps.size(); ++n) {
        SCOPED_TRACE("reset at step " + std::to_string(n));
        harness x;
        for (std::size_t i = 0; i < steps.size() && x.c->state != conn_state::closed; ++i) {
            if (i == n) {
                x.s.on_peer_closed(*x.c, -ECONNRESET);
                break;
            }
            steps[i](x);
        }
        x.expect_clean_close();  // the full conversation ends closed too (n == size)
        // RFC 6455 §7.1.5: 1006 unless the peer's close frame (step 13) arrived first.
        if (!x.h.codes.empty()) {
            EXPECT_EQ(x.h.codes.front(), n > 13 ? 1000 : 1006);
        }
    }
}

TEST(SessionFailLoop, SendFailsAtEveryStep) {
    auto steps = conversation();
    for (std::size_t n = 0; n < steps.size(); ++n) {
        SCOPED_TRACE("EPIPE at step " + std::to_string(n));
        harness x;
        for (std::size_t i = 0; i < steps.size() && x.c->state != conn_state::closed; ++i) {
            if (i == n) {
                if (!x.c->out.empty()) x.flush(SIZE_MAX, EPIPE);
                else x.s.on_peer_closed(*x.c, -EPIPE);
                break;
            }
            steps[i](x);
        }
        x.expect_clean_close();
    }
}

TEST(SessionFailLoop, EofAtEveryStepEndsAfterTheFlush) {
    auto steps = conversation();
    for (std::size_t n = 0; n < steps.size(); ++n) {
        SCOPED_TRACE("EOF at step " + std::to_string(n));
        harness x;
        for (std::size_t i = 0; i < n && x.c->state != conn_state::closed; ++i) steps[i](x);
        if (x.c->state != conn_state::closed) x.s.on_peer_closed(*x.c, 0);
        x.flush();  // a draining connection still sends its last words
        x.expect_clean_close();
    }
}

TEST(SessionFailLoop, SilenceAtEveryStepEndsByTimers) {
    // The peer stops talking and stops reading at step n: every state must
    // have a deadline that ends it.
    auto steps = conversation();
    for (std::size_t n = 0; n < steps.size(); ++n) {
        SCOPED_TRACE("silence from step " + std::to_string(n));
        harness x;
        for (std::size_t i = 0; i < n && x.c->state != conn_state::closed; ++i) steps[i](x);
        for (int round = 0; round < 4 && x.c->state != conn_state::closed; ++round) {
            x.advance(5000ms);
            x.flush(0);  // the socket stays full
        }
        x.expect_clean_close();
    }
}

}  // namespace
}  // namespace wsring::net
