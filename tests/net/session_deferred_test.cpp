// Tests for net/session's deferred HTTP answer (http_answer::deferred,
// session::answer_deferred; issue 13: a multi-node publish is answered once
// Redis gave it a position). While an answer is deferred nothing is sent
// and nothing more is read; a pipelined request that came in the same read
// is held and read after the answer, so answers keep their order
// (RFC 9112 §9.3.2); a connection that ends first (EOF, reset, deadline,
// abort, shutdown) is reported once through on_http_abandoned, and a late
// answer_deferred is then a no-op. Driven through the session bench.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "net/session.hpp"
#include "tests/net/session_harness.hpp"

namespace wsring::net {
namespace {

using namespace session_bench;

// POST /pub: the body is remembered and its answer deferred (from the
// `defer_from`th request on; earlier ones are answered at once).
struct deferring_handler final : message_handler {
    int defer_from = 1;
    int heads = 0, bodies = 0, abandoned = 0;
    std::vector<std::string> seen;
    connection* waiting = nullptr;

    bool on_http_head(session&, connection&, const proto::http_request& req, http_answer&) override {
        if (req.path != "/pub") return false;
        ++heads;
        return true;
    }
    void on_http_body(session&, connection& c, const proto::http_request&, std::span<const std::byte> body,
                      http_answer& a) override {
        ++bodies;
        seen.emplace_back(reinterpret_cast<const char*>(body.data()), body.size());
        if (bodies >= defer_from) {
            EXPECT_EQ(waiting, nullptr) << "one deferred answer at a time per connection";
            waiting = &c;
            a.deferred = true;
            return;
        }
        a.status = 200;
        a.body = "now:" + seen.back();
    }
    void on_message(session&, connection&, proto::opcode, std::span<const std::byte>) override {}
    void on_http_abandoned(session&, connection& c) override {
        ++abandoned;
        EXPECT_EQ(&c, waiting);
        waiting = nullptr;
    }
};

struct bench {
    explicit bench(session_options o = test_options()) : x(o, nullptr, &h) {}
    deferring_handler h;  // before x: the session holds a reference to it
    harness x;

    // The handler's late answer, as a broker's outcome would give it.
    void answer(std::string body, bool close = false) {
        http_answer a;
        a.status = 200;
        a.body = std::move(body);
        a.close = close;
        connection* c = h.waiting;
        h.waiting = nullptr;
        x.s.answer_deferred(c ? *c : *x.c, std::move(a));
    }
};

std::string post(std::string_view body, std::string_view target = "/pub") {
    return "POST " + std::string(target) + " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// The answers' status and body, in order.
std::vector<std::string> answers(const std::string& wire) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (wire.compare(pos, 9, "HTTP/1.1 ") == 0) {
        const std::size_t blank = wire.find("\r\n\r\n", pos);
        if (blank == std::string::npos) break;
        const std::string head = wire.substr(pos, blank + 4 - pos);
        pos = blank + 4;
        std::size_t n = 0;
        if (auto cl = head.find("Content-Length: "); cl != std::string::npos)
            n = std::stoul(head.substr(cl + 16));
        out.push_back(head.substr(9, 3) + " " + wire.substr(pos, n));
        pos += n;
    }
    return out;
}

// ---- the answer waits ------------------------------------------------------------------

TEST(SessionDeferred, NothingIsSentUntilTheAnswerThenItIs) {
    bench b;
    b.x.feed(post("a"));
    EXPECT_EQ(b.h.bodies, 1);
    b.x.flush();
    EXPECT_TRUE(b.x.wire.empty());
    EXPECT_EQ(b.x.c->state, conn_state::handshake);
    b.answer("A");
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire), std::vector<std::string>{"200 A"});
    EXPECT_EQ(b.x.c->state, conn_state::handshake) << "keep-alive";
    EXPECT_EQ(b.x.c->http, nullptr) << "nothing of the answered request stays";
    EXPECT_TRUE(b.x.c->armed()) << "the next request has a deadline";
    EXPECT_EQ(b.h.abandoned, 0);
}

TEST(SessionDeferred, ReadingIsPausedWhileDeferredAndResumesAfter) {
    bench b;
    b.x.feed(post("a"));
    EXPECT_FALSE(b.x.s.wants_read(*b.x.c));
    b.x.flush();  // an empty queue drained: still paused, the answer is not given
    EXPECT_FALSE(b.x.s.wants_read(*b.x.c));
    EXPECT_EQ(b.x.t.read_soons, 0);
    b.answer("A");
    EXPECT_TRUE(b.x.s.wants_read(*b.x.c));
    EXPECT_EQ(b.x.t.read_soons, 1) << "resume must read: input may be waiting in the socket";
}

TEST(SessionDeferred, PipelinedRequestInTheSameReadIsAnsweredAfterIt_9112_9_3_2) {
    bench b;
    b.h.defer_from = 1;
    b.x.feed(post("a") + post("bb"));
    EXPECT_EQ(b.h.seen, std::vector<std::string>{"a"}) << "the second is held, not read";
    b.h.defer_from = 99;  // the second is answered at once
    b.answer("A");
    EXPECT_EQ(b.h.seen, (std::vector<std::string>{"a", "bb"}));
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire), (std::vector<std::string>{"200 A", "200 now:bb"}));
    EXPECT_TRUE(b.x.s.wants_read(*b.x.c));
}

TEST(SessionDeferred, TwoDeferredPipelinedRequestsAreAnsweredInOrder) {
    bench b;
    b.x.feed(post("a") + post("bb") + post("ccc"));
    EXPECT_EQ(b.h.bodies, 1);
    b.answer("A");
    EXPECT_EQ(b.h.bodies, 2) << "the held second request is read and deferred in turn";
    EXPECT_FALSE(b.x.s.wants_read(*b.x.c));
    b.answer("B");
    b.answer("C");
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire), (std::vector<std::string>{"200 A", "200 B", "200 C"}));
    EXPECT_EQ(b.h.seen, (std::vector<std::string>{"a", "bb", "ccc"}));
}

TEST(SessionDeferred, HalfAPipelinedRequestIsHeldAndCompletedByTheNextRead) {
    bench b;
    const std::string second = post("second");
    b.x.feed(post("a") + second.substr(0, 20));
    b.answer("A");
    EXPECT_EQ(b.h.bodies, 1);
    b.x.feed(second.substr(20));
    EXPECT_EQ(b.h.seen, (std::vector<std::string>{"a", "second"}));
    b.answer("B");
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire), (std::vector<std::string>{"200 A", "200 B"}));
}

TEST(SessionDeferred, DeferredBodyThatCameInSeveralReads) {
    bench b;
    const std::string p = post("0123456789");
    b.x.feed(p.substr(0, p.size() - 4));
    b.x.feed(p.substr(p.size() - 4) + post("x"));
    EXPECT_EQ(b.h.seen, std::vector<std::string>{"0123456789"});
    b.answer("A");
    EXPECT_EQ(b.h.seen, (std::vector<std::string>{"0123456789", "x"}));
}

TEST(SessionDeferred, EmptyBodyDeferredHoldsTheNextRequestToo) {
    bench b;
    b.x.feed(post("") + post("b"));
    EXPECT_EQ(b.h.seen, std::vector<std::string>{""});
    b.answer("A");
    EXPECT_EQ(b.h.seen, (std::vector<std::string>{"", "b"}));
    b.answer("B");
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire), (std::vector<std::string>{"200 A", "200 B"}));
}

// A read the backend had under way when reading paused (io_uring delivers
// what a multishot recv already read, net/uring_reactor.cpp) may still
// arrive while the answer is deferred: it must wait, not be parsed as part
// of the request that is waiting.
TEST(SessionDeferred, BytesArrivingWhileDeferredWaitForTheAnswer) {
    bench b;
    b.x.feed(post("a"));
    b.x.feed(post("bb"));
    EXPECT_EQ(b.h.seen, std::vector<std::string>{"a"}) << "nothing is read while the answer is deferred";
    EXPECT_EQ(b.h.heads, 1) << "the waiting request is not parsed again";
    b.answer("A");
    EXPECT_EQ(b.h.seen, (std::vector<std::string>{"a", "bb"}));
    b.answer("B");
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire), (std::vector<std::string>{"200 A", "200 B"}));
}

TEST(SessionDeferred, SplitRequestArrivingWhileDeferredIsKeptWhole) {
    bench b;
    const std::string second = post("second");
    b.x.feed(post("a") + second.substr(0, 20));  // held: the second's first 20 bytes
    b.x.feed(second.substr(20));                 // a read already under way: the rest
    b.answer("A");
    EXPECT_EQ(b.h.seen, (std::vector<std::string>{"a", "second"}));
    b.answer("B");
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire), (std::vector<std::string>{"200 A", "200 B"}));
}

TEST(SessionDeferred, KeepAliveGoesOnAfterADeferredAnswer) {
    bench b;
    b.x.feed(post("a"));
    b.answer("A");
    b.h.defer_from = 99;
    b.x.feed(post("b"));
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire), (std::vector<std::string>{"200 A", "200 now:b"}));
    EXPECT_EQ(b.x.c->state, conn_state::handshake);
    b.x.advance(1100ms);  // the idle deadline still holds after it
    EXPECT_EQ(b.x.c->state, conn_state::closed);
    EXPECT_EQ(b.h.abandoned, 0) << "nothing was waiting";
}

TEST(SessionDeferred, AnswerThatAsksToCloseEndsTheConnection) {
    bench b;
    b.x.feed(post("a") + post("b"));
    b.answer("A", true);
    EXPECT_EQ(b.x.c->state, conn_state::draining);
    EXPECT_EQ(b.h.bodies, 1) << "the held request is not read after a closing answer";
    b.x.flush();
    const auto a = answers(b.x.wire);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_NE(b.x.wire.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(b.h.abandoned, 0);
}

TEST(SessionDeferred, AnswerWithoutADeferralIsANoOp) {
    bench b;
    b.answer("nobody asked");
    b.x.flush();
    EXPECT_TRUE(b.x.wire.empty());
    b.h.defer_from = 99;
    b.x.feed(post("a"));
    b.answer("twice?");
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire), std::vector<std::string>{"200 now:a"});
}

// ---- the connection ends first: on_http_abandoned, once -------------------------------------

TEST(SessionDeferred, PeerEofWhileDeferredIsAbandonedOnce) {
    bench b;
    b.x.feed(post("a"));
    connection* waiting = b.h.waiting;
    b.x.s.on_peer_closed(*b.x.c, 0);
    EXPECT_EQ(b.h.abandoned, 1);
    EXPECT_EQ(b.x.c->state, conn_state::closed);
    http_answer late;
    late.status = 200;
    b.x.s.answer_deferred(*waiting, late);  // too late: a no-op
    b.x.flush();
    EXPECT_TRUE(b.x.wire.empty());
    EXPECT_EQ(b.h.abandoned, 1);
}

TEST(SessionDeferred, ResetWhileDeferredIsAbandonedOnce) {
    bench b;
    b.x.feed(post("a"));
    b.x.s.on_peer_closed(*b.x.c, -ECONNRESET);
    EXPECT_EQ(b.h.abandoned, 1);
    EXPECT_EQ(b.x.c->state, conn_state::closed);
    EXPECT_EQ(b.x.c->http, nullptr);
}

TEST(SessionDeferred, DeadlineWhileDeferredIsAbandonedOnce) {
    bench b;  // handshake_timeout = 1000 ms, from the request's first byte
    b.x.feed(post("a"));
    b.x.advance(900ms);
    EXPECT_EQ(b.h.abandoned, 0);
    b.x.advance(200ms);
    EXPECT_EQ(b.h.abandoned, 1);
    EXPECT_EQ(b.x.c->state, conn_state::closed);
    b.x.advance(5000ms);
    EXPECT_EQ(b.h.abandoned, 1);
}

TEST(SessionDeferred, AbortWhileDeferredIsAbandonedOnce) {
    bench b;
    b.x.feed(post("a") + post("b"));
    connection* waiting = b.h.waiting;
    b.x.s.abort(*b.x.c);
    EXPECT_EQ(b.h.abandoned, 1);
    b.x.s.abort(*b.x.c);
    http_answer late;
    late.status = 200;
    b.x.s.answer_deferred(*waiting, late);
    EXPECT_EQ(b.h.abandoned, 1);
    EXPECT_EQ(b.h.bodies, 1) << "the held request died with the connection";
    EXPECT_TRUE(b.x.wire.empty());
}

TEST(SessionDeferred, ShutdownWhileDeferredIsAbandonedOnce) {
    bench b;
    b.x.feed(post("a"));
    b.x.s.begin_shutdown(*b.x.c);
    b.x.flush();
    EXPECT_EQ(b.h.abandoned, 1);
    EXPECT_EQ(b.x.c->state, conn_state::closed);
}

TEST(SessionDeferred, EofWithEarlierAnswersQueuedSendsThemThenAbandons) {
    bench b;
    b.h.defer_from = 2;
    b.x.feed(post("a") + post("b"));  // a answered (queued), b deferred
    b.x.s.on_peer_closed(*b.x.c, 0);
    b.x.flush();
    EXPECT_EQ(answers(b.x.wire), std::vector<std::string>{"200 now:a"});
    EXPECT_EQ(b.x.c->state, conn_state::closed);
    EXPECT_EQ(b.h.abandoned, 1);
}

TEST(SessionDeferred, AnsweredThenClosedIsNotAbandoned) {
    bench b;
    b.x.feed(post("a"));
    b.answer("A");
    b.x.flush();
    b.x.s.on_peer_closed(*b.x.c, 0);
    EXPECT_EQ(b.x.c->state, conn_state::closed);
    EXPECT_EQ(b.h.abandoned, 0);
}

}  // namespace
}  // namespace wsring::net
