// Tests for net/session's plain HTTP: a handler's API on the WebSocket port
// (message_handler::on_http_head / on_http_body) with request bodies
// (RFC 9112 §6), keep-alive and pipelining (RFC 9112 §9.3), each request
// bounded by the handshake deadline. Driven through the session bench
// (tests/net/session_harness.hpp) with a handler serving POST /things.
// The fail loops at the end walk a keep-alive conversation that ends in an
// upgrade, breaking it at every step.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "net/session.hpp"
#include "tests/net/session_harness.hpp"

namespace wsring::net {
namespace {

using namespace session_bench;
using proto::opcode;

// POST /things: 401 on the head alone without Authorization; else the body
// is read and answered with its length. The query picks a behaviour:
// "big" a 40 KB answer, "silent" no answer at all, "abort" ends the
// connection from inside the hook. X-Close asks to close after the answer.
// Upgrades echo, so a keep-alive connection can become a WebSocket.
struct things_handler final : message_handler {
    int heads = 0, bodies = 0, opens = 0, closes = 0;
    std::vector<std::string> seen;  // every body served, in order
    const std::byte* last_body = nullptr;

    bool on_http_head(session&, connection&, const proto::http_request& req,
                      http_answer& a) override {
        if (req.path != "/things") return false;
        ++heads;
        if (req.header("Authorization").empty()) {
            a.status = 401;
            a.body = "who are you?\n";
            a.extra_headers = "WWW-Authenticate: Bearer\r\n";
        }
        return true;
    }
    void on_http_body(session& s, connection& c, const proto::http_request& req,
                      std::span<const std::byte> body, http_answer& a) override {
        ++bodies;
        last_body = body.data();
        seen.emplace_back(reinterpret_cast<const char*>(body.data()), body.size());
        if (req.query == "silent") return;
        if (req.query == "abort") return s.abort(c);
        a.status = 200;
        a.body = req.query == "big" ? std::string(40000, 'x')
                                    : std::to_string(body.size()) + " bytes\n";
        a.close = !req.header("X-Close").empty();
    }
    void on_open(session&, connection&) override { ++opens; }
    void on_message(session& s, connection& c, opcode op, std::span<const std::byte> p) override {
        s.send_message(c, op, p);
    }
    void on_close(session&, connection&, proto::close_code) override { ++closes; }
};

struct bench {
    explicit bench(session_options o = test_options()) : x(o, nullptr, &h) {}
    things_handler h;  // before x: the session holds a reference to it
    harness x;
};

std::string post(std::string_view body, std::string_view extra = "Authorization: yes\r\n",
                 std::string_view target = "/things", std::string_view version = "HTTP/1.1") {
    std::string r = "POST " + std::string(target) + " " + std::string(version) + "\r\nHost: x\r\n";
    r += std::string(extra) + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    return r + std::string(body);
}

// The HTTP answers on the wire, in order; stops after a 101 (frames follow).
struct answer {
    int status = 0;
    std::string head, body;
    bool has(std::string_view line) const { return head.find(line) != std::string::npos; }
};
std::vector<answer> answers(const std::string& wire, std::size_t* end = nullptr) {
    std::vector<answer> out;
    std::size_t pos = 0;
    while (wire.compare(pos, 9, "HTTP/1.1 ") == 0) {
        std::size_t blank = wire.find("\r\n\r\n", pos);
        if (blank == std::string::npos) break;
        answer a{std::stoi(wire.substr(pos + 9, 3)), wire.substr(pos, blank + 4 - pos), {}};
        pos = blank + 4;
        if (auto cl = a.head.find("Content-Length: "); cl != std::string::npos) {
            std::size_t n = std::stoul(a.head.substr(cl + 16));
            a.body = wire.substr(pos, n);
            pos += n;
        }
        out.push_back(std::move(a));
        if (out.back().status == 101) break;
    }
    if (end) *end = pos;
    return out;
}

void expect_kept_alive(const harness& x) {
    EXPECT_EQ(x.c->state, conn_state::handshake);
    EXPECT_EQ(x.c->http, nullptr) << "nothing of a served request stays";
    EXPECT_TRUE(x.c->armed()) << "the next request has a deadline";
    EXPECT_EQ(x.shared_.open.load(), 0u) << "keep-alive HTTP never counts as a WebSocket";
}

// ---- a request and its body ------------------------------------------------------------

TEST(SessionHttp, HeadOnlyAnswerClosesWithoutReadingTheBody) {
    bench b;
    b.x.feed(post("0123456789", ""));  // no Authorization
    EXPECT_EQ(b.x.c->state, conn_state::draining);
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].status, 401);
    EXPECT_TRUE(a[0].has("WWW-Authenticate: Bearer\r\n"));
    EXPECT_TRUE(a[0].has("Connection: close\r\n"));
    EXPECT_EQ(b.h.bodies, 0);
    EXPECT_EQ(b.x.t.fins, 1) << "FIN and linger: the unread body must not turn into a reset";
    b.x.s.on_peer_closed(*b.x.c, 0);
    b.x.expect_clean_close();
}

TEST(SessionHttp, BodyInOneReadIsNotCopied_9112_6_2) {
    bench b;
    std::string in = post("hello");
    b.x.s.on_data(*b.x.c, std::as_writable_bytes(std::span(in.data(), in.size())));
    ASSERT_EQ(b.h.seen, std::vector<std::string>{"hello"});
    EXPECT_EQ(b.h.last_body, reinterpret_cast<const std::byte*>(in.data() + in.size() - 5))
        << "a body whole in one read is handed over in place";
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].status, 200);
    EXPECT_EQ(a[0].body, "5 bytes\n");
    EXPECT_TRUE(a[0].has("Connection: keep-alive\r\n")) << "HTTP/1.1 persists by default (§9.3)";
    expect_kept_alive(b.x);
}

TEST(SessionHttp, RequestSplitAtEveryByte) {
    bench b;
    std::string body(300, 'q');
    for (char ch : post(body)) b.x.feed(std::string(1, ch));
    ASSERT_EQ(b.h.seen, std::vector<std::string>{body});
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].body, "300 bytes\n");
    expect_kept_alive(b.x);
}

TEST(SessionHttp, ZeroLengthBodyAndNoBody) {
    bench b;
    b.x.feed(post(""));
    b.x.feed("POST /things HTTP/1.1\r\nAuthorization: yes\r\n\r\n");  // RFC 9112 §6.3 rule 7
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].body, "0 bytes\n");
    EXPECT_EQ(a[1].body, "0 bytes\n");
    EXPECT_EQ(b.h.bodies, 2);
    expect_kept_alive(b.x);
}

// ---- pipelining and keep-alive (RFC 9112 §9.3) ---------------------------------------------

TEST(SessionHttp, ThreePipelinedRequestsGetThreeAnswersInOrder_9112_9_3_2) {
    bench b;
    b.x.feed(post("a") + post("bb") + post("ccc"));
    b.x.flush();  // one flush: the three answers leave together
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a[0].body, "1 bytes\n");
    EXPECT_EQ(a[1].body, "2 bytes\n");
    EXPECT_EQ(a[2].body, "3 bytes\n");
    expect_kept_alive(b.x);
}

TEST(SessionHttp, BodyAndTheNextRequestShareReads) {
    bench b;
    std::string one = post("hello"), two = one + post("world!");
    // Inside the first head, inside its body, right after it, inside the
    // second head, inside the second body.
    for (std::size_t cut : {std::size_t{5}, one.size() - 2, one.size(), one.size() + 10,
                            two.size() - 2}) {
        SCOPED_TRACE("cut at " + std::to_string(cut));
        b.h.seen.clear();
        b.x.feed(two.substr(0, cut));
        b.x.feed(two.substr(cut));
        EXPECT_EQ(b.h.seen, (std::vector<std::string>{"hello", "world!"}));
        expect_kept_alive(b.x);
    }
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire).size(), 10u);
}

TEST(SessionHttp, ConnectionCloseEndsAfterTheAnswer) {
    bench b;
    b.x.feed(post("a", "Authorization: yes\r\nConnection: close\r\n") + post("not read"));
    EXPECT_EQ(b.x.c->state, conn_state::draining);
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 1u) << "nothing is answered after a close";
    EXPECT_TRUE(a[0].has("Connection: close\r\n"));
    EXPECT_EQ(b.h.bodies, 1);
    b.x.s.on_peer_closed(*b.x.c, 0);
    b.x.expect_clean_close();
}

TEST(SessionHttp, HandlerMayAskToClose) {
    bench b;
    b.x.feed(post("a", "Authorization: yes\r\nX-Close: 1\r\n"));
    EXPECT_EQ(b.x.c->state, conn_state::draining);
    b.x.flush();
    EXPECT_TRUE(answers(b.x.wire).at(0).has("Connection: close\r\n"));
}

TEST(SessionHttp, Http10ClosesUnlessItAsksForKeepAlive_9112_9_3) {
    bench b;
    b.x.feed(post("a", "Authorization: yes\r\nConnection: keep-alive\r\n", "/things", "HTTP/1.0"));
    expect_kept_alive(b.x);
    b.x.feed(post("b", "Authorization: yes\r\n", "/things", "HTTP/1.0"));
    EXPECT_EQ(b.x.c->state, conn_state::draining);
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_TRUE(a[0].has("Connection: keep-alive\r\n"));
    EXPECT_TRUE(a[1].has("Connection: close\r\n"));
}

TEST(SessionHttp, MalformedNextRequestIs400) {
    bench b;
    b.x.feed(post("a") + "\x16\x03\x01 not http\r\n\r\n");
    EXPECT_EQ(b.x.c->state, conn_state::draining);
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].status, 200);
    EXPECT_EQ(a[1].status, 400);
}

// ---- body framing refused (RFC 9112 §6) ------------------------------------------------------

TEST(SessionHttp, BodyOverMaxMessageIs413BeforeItIsRead) {
    bench b;  // max_message = 64 KiB
    b.x.feed("POST /things HTTP/1.1\r\nAuthorization: yes\r\nContent-Length: 100000\r\n\r\nxxxx");
    EXPECT_EQ(b.x.c->state, conn_state::draining);
    EXPECT_EQ(b.x.c->http, nullptr) << "the request is gone, no body buffer with it";
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].status, 413);
    EXPECT_EQ(b.h.bodies, 0);
}

TEST(SessionHttp, TransferEncodingIs501_9112_6_1) {
    bench b;
    b.x.feed("POST /things HTTP/1.1\r\nAuthorization: yes\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n0\r\n\r\n");
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].status, 501);
    EXPECT_EQ(b.h.bodies, 0);
    EXPECT_EQ(b.x.c->state, conn_state::lingering);
}

TEST(SessionHttp, BadContentLengthIs400_9112_6_3) {
    for (std::string_view cl : {"abc", "5, 6", "-1", "99999999999999999999999"}) {
        SCOPED_TRACE(cl);
        bench b;
        b.x.feed("POST /things HTTP/1.1\r\nAuthorization: yes\r\nContent-Length: " +
                 std::string(cl) + "\r\n\r\nhello");
        b.x.flush();
        auto a = answers(b.x.wire);
        ASSERT_EQ(a.size(), 1u);
        EXPECT_EQ(a[0].status, 400);
        EXPECT_EQ(b.h.bodies, 0);
    }
}

TEST(SessionHttp, ExpectContinueGets100BeforeTheBody_9110_10_1_1) {
    bench b;
    std::string req = post("hello", "Authorization: yes\r\nExpect: 100-continue\r\n");
    b.x.feed(req.substr(0, req.size() - 5));
    b.x.flush();
    EXPECT_EQ(b.x.wire, "HTTP/1.1 100 Continue\r\n\r\n");
    b.x.feed("hello");
    b.x.flush();
    EXPECT_NE(b.x.wire.find("5 bytes\n"), std::string::npos);
    // Not when the body is already here, nor for HTTP/1.0 (§10.1.1 "MUST ignore").
    b.x.wire.clear();
    b.x.feed(req);
    std::string req10 = post("hello", "Connection: keep-alive\r\nAuthorization: yes\r\n"
                                      "Expect: 100-continue\r\n", "/things", "HTTP/1.0");
    b.x.feed(req10.substr(0, req10.size() - 5));
    b.x.feed("hello");
    b.x.flush();
    EXPECT_EQ(b.x.wire.find("100 Continue"), std::string::npos);
    EXPECT_EQ(answers(b.x.wire).size(), 2u);
}

TEST(SessionHttp, HandlerWithoutAnAnswerIs500AndCloses) {
    bench b;
    b.x.feed(post("a", "Authorization: yes\r\n", "/things?silent"));
    EXPECT_EQ(b.x.c->state, conn_state::draining);
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].status, 500);
}

TEST(SessionHttp, HandlerMayEndTheConnectionInsideTheHook) {
    bench b;
    b.x.feed(post("a", "Authorization: yes\r\n", "/things?abort") + post("b"));
    b.x.expect_clean_close();
    EXPECT_EQ(b.h.bodies, 1);
    EXPECT_TRUE(b.x.wire.empty());
}

// ---- what the handler does not claim: today's answers -------------------------------------

TEST(SessionHttp, UnclaimedRequestsKeepTheBuiltInAnswers) {
    struct want {
        std::string request;
        int status;
    };
    for (const want& w : {want{"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200},
                          want{post("x", "", "/elsewhere"), 405},
                          want{"GET /chat HTTP/1.1\r\nHost: x\r\n\r\n", 426}}) {
        SCOPED_TRACE(w.request);
        bench b;
        b.x.feed(w.request);
        EXPECT_EQ(b.x.c->state, conn_state::draining) << "every built-in answer closes";
        b.x.flush();
        auto a = answers(b.x.wire);
        ASSERT_EQ(a.size(), 1u);
        EXPECT_EQ(a[0].status, w.status);
        EXPECT_TRUE(a[0].has("Connection: close\r\n"));
        EXPECT_EQ(b.h.heads, 0);
        EXPECT_EQ(b.x.t.fins, 1);
    }
}

TEST(SessionHttp, HealthzAfterAKeepAliveRequestStillCloses) {
    bench b;
    b.x.feed(post("a") + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[1].status, 200);
    EXPECT_EQ(a[1].body, "ok\n");
    EXPECT_EQ(b.x.c->state, conn_state::lingering);
}

// ---- deadlines (the handshake timeout, per request) --------------------------------------

TEST(SessionHttp, IdleKeepAliveConnectionIsClosedByTheDeadline) {
    bench b;  // handshake_timeout = 1000 ms
    b.x.advance(900ms);
    b.x.feed(post("a"));
    b.x.flush();
    b.x.advance(900ms);  // past the first deadline: the answer gave a new one
    expect_kept_alive(b.x);
    b.x.advance(200ms);
    b.x.expect_clean_close();
    EXPECT_EQ(answers(b.x.wire).size(), 1u);
}

TEST(SessionHttp, TricklingBodyIsBoundedByTheSameDeadline) {
    bench b;
    b.x.feed(post(std::string(100, 'z')).substr(0, 80));  // the head and a little body
    int bytes = 0;
    while (b.x.c->state != conn_state::closed && bytes < 100) {
        b.x.advance(100ms);
        if (b.x.c->state != conn_state::closed) b.x.feed("z");
        ++bytes;
    }
    b.x.expect_clean_close();
    EXPECT_LT(bytes, 20) << "one byte per 100 ms must not keep a request alive";
    EXPECT_EQ(b.h.bodies, 0);
    EXPECT_TRUE(b.x.wire.empty());
}

// ---- half-close, shutdown, backpressure ----------------------------------------------------

TEST(SessionHttp, HalfClosedClientStillGetsItsKeepAliveAnswer) {
    bench b;
    b.x.feed(post("a") + "POST /th");  // an answer queued, the next request half read
    b.x.s.on_peer_closed(*b.x.c, 0);
    EXPECT_EQ(b.x.c->state, conn_state::draining);
    b.x.flush();
    ASSERT_EQ(answers(b.x.wire).size(), 1u);
    EXPECT_EQ(b.x.t.fins, 0) << "the peer already closed its side";
    b.x.expect_clean_close();
}

TEST(SessionHttp, EofBetweenRequestsCloses) {
    bench b;
    b.x.feed(post("a"));
    b.x.flush();
    b.x.s.on_peer_closed(*b.x.c, 0);
    b.x.expect_clean_close();
}

TEST(SessionHttp, ShutdownSendsQueuedAnswersFirst) {
    bench b;
    b.x.feed(post("a"));
    b.x.s.begin_shutdown(*b.x.c);
    EXPECT_EQ(b.x.c->state, conn_state::draining);
    b.x.flush();
    ASSERT_EQ(answers(b.x.wire).size(), 1u);
    b.x.s.on_peer_closed(*b.x.c, 0);
    b.x.expect_clean_close();
}

TEST(SessionHttp, PipeliningFasterThanReadingPausesThenResumes) {
    bench b;  // high water 64 KiB, low 16 KiB
    std::string big = post("", "Authorization: yes\r\n", "/things?big");
    b.x.feed(big + big + big);  // 120 KB of answers queued
    EXPECT_FALSE(b.x.s.wants_read(*b.x.c)) << "a client that does not read stops being read";
    EXPECT_EQ(b.x.c->state, conn_state::handshake);
    b.x.flush(60000);  // partial: still above low water
    EXPECT_FALSE(b.x.s.wants_read(*b.x.c));
    EXPECT_EQ(b.x.t.read_soons, 0);
    b.x.flush();
    EXPECT_TRUE(b.x.s.wants_read(*b.x.c));
    EXPECT_EQ(b.x.t.read_soons, 1) << "resume must read: input may be waiting";
    b.x.feed(post("after"));
    b.x.flush();
    auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 4u);
    EXPECT_EQ(a[2].body.size(), 40000u);
    EXPECT_EQ(a[3].body, "5 bytes\n");
    expect_kept_alive(b.x);
}

// ---- an upgrade on a keep-alive connection ----------------------------------------------

TEST(SessionHttp, UpgradeAfterKeepAliveRequestsInTheSameRead_4_2_1) {
    bench b;
    b.x.feed(post("a") + post("bb") + upgrade_request() + client_frame(opcode::text, "hi"));
    b.x.flush();
    std::size_t end = 0;
    auto a = answers(b.x.wire, &end);
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a[1].body, "2 bytes\n");
    EXPECT_EQ(a[2].status, 101);
    EXPECT_EQ(b.x.c->state, conn_state::open);
    EXPECT_EQ(b.h.opens, 1);
    EXPECT_EQ(b.x.shared_.open.load(), 1u) << "a WebSocket counts, from its 101";
    b.x.wire.erase(0, end - a[2].head.size());  // the bench's frames() wants the 101 first
    auto f = b.x.frames();
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].payload, "hi");
}

TEST(SessionHttp, UpgradeOnALaterReadOfAKeepAliveConnection) {
    bench b;
    b.x.feed(post("a"));
    b.x.flush();
    b.x.advance(500ms);
    b.x.wire.clear();
    b.x.open();
    b.x.advance(2000ms);  // past the handshake deadline: the idle timer rules now
    EXPECT_EQ(b.x.c->state, conn_state::open);
    b.x.feed(client_close(1000));
    b.x.flush();
    b.x.expect_clean_close();
    EXPECT_EQ(b.h.closes, 1);
}

// ---- fail loops: a keep-alive conversation broken at step n, for every n -------------------

std::vector<std::function<void(harness&)>> conversation() {
    std::string first = post(std::string(200, 'p')), second = post("two");
    return {
        [first](harness& x) { x.feed(first.substr(0, 30)); },
        [first](harness& x) { x.feed(first.substr(30, 100)); },  // the head and part of the body
        [first, second](harness& x) { x.feed(first.substr(130) + second); },
        [](harness& x) { x.flush(100); },  // a partial write
        [](harness& x) { x.flush(); },
        [](harness& x) { x.advance(500ms); },
        [](harness& x) { x.feed(upgrade_request() + client_frame(opcode::text, "ws")); },
        [](harness& x) { x.flush(); },
        [](harness& x) { x.feed(client_close(1000)); },
        [](harness& x) { x.flush(); },
    };
}

TEST(SessionHttpFailLoop, ResetAtEveryStepClosesCleanly) {
    auto steps = conversation();
    for (std::size_t n = 0; n <= steps.size(); ++n) {
        SCOPED_TRACE("reset at step " + std::to_string(n));
        bench b;
        for (std::size_t i = 0; i < steps.size() && b.x.c->state != conn_state::closed; ++i) {
            if (i == n) {
                b.x.s.on_peer_closed(*b.x.c, -ECONNRESET);
                break;
            }
            steps[i](b.x);
        }
        b.x.expect_clean_close();  // the whole conversation ends closed too (n == size)
        EXPECT_EQ(b.h.opens, b.h.closes);
    }
}

TEST(SessionHttpFailLoop, EofAtEveryStepEndsAfterTheFlush) {
    auto steps = conversation();
    for (std::size_t n = 0; n < steps.size(); ++n) {
        SCOPED_TRACE("EOF at step " + std::to_string(n));
        bench b;
        for (std::size_t i = 0; i < n && b.x.c->state != conn_state::closed; ++i) steps[i](b.x);
        if (b.x.c->state != conn_state::closed) b.x.s.on_peer_closed(*b.x.c, 0);
        b.x.flush();  // answers already queued still go out
        b.x.expect_clean_close();
        EXPECT_EQ(b.h.opens, b.h.closes);
        if (n >= 3) {
            EXPECT_GE(answers(b.x.wire).size(), 2u) << "both answers were sent";
        }
    }
}

TEST(SessionHttpFailLoop, SilenceAtEveryStepEndsByTimers) {
    auto steps = conversation();
    for (std::size_t n = 0; n < steps.size(); ++n) {
        SCOPED_TRACE("silence from step " + std::to_string(n));
        bench b;
        for (std::size_t i = 0; i < n && b.x.c->state != conn_state::closed; ++i) steps[i](b.x);
        for (int round = 0; round < 4 && b.x.c->state != conn_state::closed; ++round) {
            b.x.advance(5000ms);
            b.x.flush(0);  // the socket stays full
        }
        b.x.expect_clean_close();
        EXPECT_EQ(b.h.opens, b.h.closes);
    }
}

}  // namespace
}  // namespace wsring::net
