// Tests for what only the io_uring backend (net/uring_reactor) has: a
// provided-buffer ring that runs dry (-ENOBUFS ends the multishot recv; the
// bytes wait in the socket until it is re-armed), backpressure that cancels
// and re-arms the recv, connections closed with a recv and a send in flight
// (ASan/UBSan builds check nothing completes into freed memory), and the
// forced fallback to epoll. The tests both backends share are in
// tests/net/epoll_reactor_test.cpp, run once per backend.
#ifdef WSRING_HAVE_URING
#include "net/uring_reactor.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/echo_handler.hpp"
#include "net/socket.hpp"
#include "proto/encoder.hpp"
#include "tests/net/test_client.hpp"

namespace wsring::net {
namespace {

using namespace test;
using namespace std::chrono_literals;
using proto::opcode;

// A uring reactor on its own thread with a chosen number of provided
// buffers of 64 KiB (smaller than the server's, so a few megabytes run it dry).
class tiny_ring {
public:
    static constexpr unsigned buffer_size = 64u << 10;
    explicit tiny_ring(unsigned buffers, session_options so = {},
                       std::unique_ptr<message_handler> handler = std::make_unique<echo_handler>(),
                       bool whole_buffers = false, reactor_options ro = {}) {
        std::string why;
        int fd = listen_tcp({.host = "127.0.0.1", .port = 0}, why);
        EXPECT_GE(fd, 0) << why;
        port_ = local_port(fd);
        r_ = std::make_unique<uring_reactor>(fd, ro, so, shared_,
                                             std::move(handler),
                                             uring_buffers{.count = buffers, .size = buffer_size,
                                                           .whole = whole_buffers});
        t_ = std::thread([this] { r_->run(); });
    }
    ~tiny_ring() { stop(); }
    // Stops the loop and joins it: after this, stats() are exact and
    // race-free (they are plain counters of the loop thread).
    void stop() {
        if (!t_.joinable()) return;
        r_->stop();
        t_.join();
    }
    int port() const { return port_; }
    uring_reactor& get() { return *r_; }

private:
    session_shared shared_;
    std::unique_ptr<uring_reactor> r_;
    std::thread t_;
    int port_ = 0;
};

class UringReactor : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        if (!uring_reactor::available(why)) GTEST_SKIP() << "io_uring unavailable: " << why;
    }
};

std::string pattern(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) % 251);
    return s;
}

// Rounds of ~300 KiB messages from 4 clients at once through the ring's
// echo, each checked whole: far more than a small ring holds, so the recv
// ends with -ENOBUFS over and over and must resume where it was. The
// clients close before returning (no 1001 handshake to wait for at stop).
void echo_rounds_through(tiny_ring& r, int rounds) {
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 4; ++i) {
        clients.push_back(std::make_unique<client>(r.port()));
        ASSERT_TRUE(clients.back()->handshake());
    }
    for (int round = 0; round < rounds; ++round) {
        std::vector<std::string> sent;
        std::vector<std::thread> senders;
        for (std::size_t i = 0; i < clients.size(); ++i)
            sent.push_back(pattern(300000 + i * 777, static_cast<unsigned>(round * 10 + i)));
        for (std::size_t i = 0; i < clients.size(); ++i)
            senders.emplace_back([&, i] { clients[i]->send_frame(opcode::binary, sent[i]); });
        for (std::size_t i = 0; i < clients.size(); ++i) {
            message m = clients[i]->recv();
            ASSERT_EQ(m.kind, proto::event_kind::binary) << "client " << i << " read error " << clients[i]->last_error;
            EXPECT_TRUE(m.payload == sent[i]) << "client " << i << " got " << m.payload.size()
                                              << " (read error " << clients[i]->last_error << ")";
        }
        for (auto& t : senders) t.join();
    }
}

// 1 or 2 buffers for 300 KiB messages from 4 clients at once. Incrementally
// consumed 64 KiB buffers where the kernel has them (6.12+), and whole
// 4 KiB ones (32 of the same memory), as on older kernels.
void run_dry_without_losing_bytes(unsigned buffers, bool whole_buffers) {
    tiny_ring r(buffers, {}, std::make_unique<echo_handler>(), whole_buffers);
    echo_rounds_through(r, 3);
    r.stop();
    EXPECT_EQ(r.get().stats().session.failed, 0u);
    EXPECT_GT(r.get().stats().uring.ring_dry, 0u);  // it did run dry, and counted it
    // Whole buffers: 16 of 4 KiB for each 64 KiB one.
    unsigned per_buffer = whole_buffers ? tiny_ring::buffer_size / uring_reactor::whole_buffer_size : 1;
    EXPECT_EQ(r.get().provided_buffers(), buffers * per_buffer);
}

TEST_F(UringReactor, TwoBuffersRunDryWithoutLosingBytes) { run_dry_without_losing_bytes(2, false); }
TEST_F(UringReactor, WholeBuffersOfOlderKernelsRunDryWithoutLosingBytes) {
    run_dry_without_losing_bytes(2, true);
}
// The server's shape: a single buffer, given back and taken again each turn.
TEST_F(UringReactor, OneBufferRunsDryWithoutLosingBytes) { run_dry_without_losing_bytes(1, false); }
TEST_F(UringReactor, OneBufferOfWholeOnesRunsDryWithoutLosingBytes) { run_dry_without_losing_bytes(1, true); }

// One turn reads at most the receive buffer's size of one connection,
// ring and plain reads together: the connection whose recv got the ring's
// buffer does not also get a plain read as large when its recv ends with
// -ENOBUFS (it did, and one connection of ten was served exactly twice as
// often as the others). A 64 KiB ring and a 64 KiB receive buffer, four
// clients each sending 300 KiB messages: before, a turn read up to 128 KiB
// of one connection.
TEST_F(UringReactor, OneTurnReadsAtMostTheReceiveBufferOfAConnection) {
    reactor_options ro;
    ro.recv_buffer = tiny_ring::buffer_size;
    tiny_ring r(1, {}, std::make_unique<echo_handler>(), false, ro);
    echo_rounds_through(r, 4);
    r.stop();
    const unsigned share = tiny_ring::buffer_size / 4096;  // 16 units of 4 KiB
    EXPECT_GT(r.get().most_read_in_a_turn_4k(), 0u);
    // Each read rounds up to whole units, so a turn of several ring
    // completions may count a unit or two over; twice the share may not.
    EXPECT_LE(r.get().most_read_in_a_turn_4k(), share + 2);
}

// Peers that reset their connection while the ring is dry (2 buffers for
// 300 KiB messages): their bytes are read by on_recv_cqe's read_once, the
// reset is met by it or by the recv re-armed after it, and the others are
// served throughout. (A probe saw 20-40 such reads per run, all with bytes;
// the read that meets the end itself is read_once's, tested through epoll.)
TEST_F(UringReactor, PeersResetWhileTheRingIsDryDoNotDisturbOthers) {
    tiny_ring r(2);
    auto good = std::make_unique<client>(r.port());
    ASSERT_TRUE(good->handshake());
    constexpr int resetting = 20;
    for (int i = 0; i < resetting; ++i) {
        client bad(r.port());
        ASSERT_TRUE(bad.handshake());
        bad.send_frame(opcode::binary, pattern(300000, static_cast<unsigned>(i)));
        linger lg{1, 0};  // close with RST
        ::setsockopt(bad.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    const std::string big = pattern(300000, 99);
    ASSERT_TRUE(good->send_frame(opcode::binary, big));
    message m = good->recv();
    EXPECT_EQ(m.kind, proto::event_kind::binary);
    EXPECT_TRUE(m.payload == big) << "got " << m.payload.size() << " bytes back";
    good.reset();  // its FIN, so the stop below has no close handshake to wait out
    r.stop();
    EXPECT_EQ(r.get().stats().session.upgraded, static_cast<std::uint64_t>(resetting + 1));
    EXPECT_EQ(r.get().stats().session.failed, 0u);
}

// Echo that watches the backpressure rule from inside the loop (its
// members are the loop thread's; read them once the loop has stopped, but
// `passed_high_water`, which the test waits for).
struct watching_echo final : message_handler {
    explicit watching_echo(std::size_t mark) : high_water(mark) {}
    void on_message(session& s, connection& c, opcode op, std::span<const std::byte> p) override {
        most_queued_on_arrival = std::max(most_queued_on_arrival, c.out.bytes());
        s.send_message(c, op, p);
        if (c.out.bytes() > high_water) passed_high_water.store(true, std::memory_order_release);
    }
    const std::size_t high_water;
    std::atomic<bool> passed_high_water{false};  // a pause is due
    std::size_t most_queued_on_arrival = 0;      // output queued when a message came in
};

TEST_F(UringReactor, BackpressureCancelsAndRearmsTheRecv) {
    // A low high-water mark: the client sends without reading, more than
    // the kernel can hold towards it, so the server's queue passes high
    // water and it must stop reading (cancel its recv), then resume (re-arm)
    // as we read. Paused, it still sees what the 8 buffers held when the
    // cancel landed, and not a byte more: no message may arrive with more
    // output queued than high water + those buffers + the message cut across.
    session_options so;
    so.high_water = 16u << 10;
    so.low_water = 4u << 10;
    auto handler = std::make_unique<watching_echo>(so.high_water);
    watching_echo& h = *handler;
    tiny_ring r(8, so, std::move(handler));
    client c(r.port(), true, 64 << 10);
    int sndbuf = 256 << 10;  // fixed (the kernel doubles it): see the wait below
    ::setsockopt(c.fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    ASSERT_TRUE(c.handshake());
    const std::size_t in_flight_max = kernel_send_buffer_max() + c.receive_buffer();
    std::vector<std::string> sent;
    for (std::size_t total = 0; total < in_flight_max + (1u << 20);) {
        sent.push_back(pattern(3000 + sent.size() % 512, static_cast<unsigned>(sent.size())));
        total += sent.back().size();
    }
    std::atomic<bool> sent_all{true}, sender_done{false};
    std::thread sender([&] {
        for (auto& p : sent)
            if (!c.send_frame(opcode::binary, p)) sent_all = false;
        sender_done = true;
    });
    // Read nothing until the server, over its high-water mark, stopped
    // reading (its receive window closed: our unsent bytes pile up to half
    // our send buffer, more than a server merely lagging behind leaves), or
    // took everything we sent (a server that never stops reading does that).
    ASSERT_TRUE(wait_until([&] {
        return sender_done || (h.passed_high_water.load(std::memory_order_acquire) &&
                               c.bytes_unsent() >= static_cast<std::size_t>(sndbuf));
    })) << "the server neither paused nor read on";
    EXPECT_TRUE(h.passed_high_water) << "the queue never passed high water: the test sends too little";
    for (std::size_t i = 0; i < sent.size(); ++i) {
        message m = c.recv();
        ASSERT_TRUE(m.payload == sent[i]) << "message " << i << " came back wrong or not at all";
    }
    sender.join();
    EXPECT_TRUE(sent_all);
    ASSERT_TRUE(c.send_frame(opcode::close, "\x03\xE8"));  // 1000: no shutdown wait for us
    EXPECT_EQ(c.recv().code, 1000);
    EXPECT_TRUE(c.wait_eof());
    r.stop();
    const std::size_t paused_max = so.high_water + 8 * tiny_ring::buffer_size + 2 * (3000 + 512 + 8);
    EXPECT_LE(h.most_queued_on_arrival, paused_max)
        << "messages kept arriving above high water: the recv was not paused";
}

TEST_F(UringReactor, ResetsWithRecvAndSendInFlight) {
    // Each bad client asks for an echo larger than can be in flight (a few
    // MiB) and resets without reading it: its close cancels a send in
    // flight and the armed recv. A good client is served throughout.
    tiny_ring r(16);
    client good(r.port());
    ASSERT_TRUE(good.handshake());
    std::string big = pattern(kernel_send_buffer_max() + (1u << 20), 7);
    for (int i = 0; i < 10; ++i) {
        client bad(r.port(), true, 4096);
        ASSERT_TRUE(bad.handshake());
        ASSERT_TRUE(bad.send_frame(opcode::binary, big));
        // The echo has begun, and more of it than can be in flight (`big`
        // was sized for that): a send is in flight when we reset.
        ASSERT_TRUE(wait_until([&] { return bad.bytes_waiting() > 0; })) << "no echo began";
        linger lg{1, 0};  // close with RST
        ::setsockopt(bad.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    ASSERT_TRUE(good.send_frame(opcode::text, "still here"));
    EXPECT_EQ(good.recv().payload, "still here");
}

// A connection the server closes (here: its idle timeout, then the close
// timeout) while a gather send to a peer that does not read is in flight:
// the close cancels that send by its exact user_data (its msghdr slot
// included), so the socket really closes and the peer is reset without
// reading a byte. A cancel that missed would leave the send holding the
// socket open for as long as the peer does not read.
TEST_F(UringReactor, CloseCancelsAGatherSendInFlight) {
    session_options so;
    so.idle_timeout = 300ms;
    so.ping_interval = 0ms;
    so.close_timeout = 300ms;
    so.max_message = 64u << 20;
    tiny_ring r(16, so);
    client stalled(r.port(), true, 4096);
    ASSERT_TRUE(stalled.handshake());
    // A large message and a small one in one write: the server reads the
    // end of the first with the second, so the large echo goes out at once
    // (write_now) until the socket is full and the small one queues behind
    // its rest — two segments, so the send in flight is a sendmsg with a
    // slot of its own. Then the server stops reading (backpressure): the
    // client's write has completed by then, so it cannot fail on the close.
    auto frame = [](std::string_view payload) {
        std::string out(proto::frame_size(payload.size(), true), '\0');
        out.resize(proto::encode_frame(std::as_writable_bytes(std::span(out.data(), out.size())),
                                       opcode::binary, std::as_bytes(std::span(payload)),
                                       {.mask = 0x0a0b0c0d}));
        return out;
    };
    std::string big = pattern(kernel_send_buffer_max() + (1u << 20), 3);
    ASSERT_TRUE(stalled.send_all(frame(big) + frame("small")));
    ASSERT_TRUE(wait_until([&] { return stalled.bytes_waiting() > 0; })) << "no echo began";
    // Bytes the paused server will not read: its close then resets the
    // connection at once (a FIN would wait behind the unsent echo, which
    // this peer never reads) — but only if the send in flight let go of
    // the socket.
    ASSERT_TRUE(stalled.send_all(frame("unread")));
    pollfd p{stalled.fd(), POLLRDHUP, 0};
    EXPECT_TRUE(wait_until([&] { return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)); },
                           5s))
        << "the server's close never reached the peer: the send kept the socket open";
}

// Echo that holds the loop inside on_message on a "stall" message until the
// test opens it: whatever the clients send meanwhile is ready at once when
// the next turn starts, which makes that turn busy (busy_turn_cqes) without
// depending on how fast this machine is. The test sees the loop held
// (`stalled`) before it sends; the hold ends at 5 s if the test never opens.
struct stalling_echo final : message_handler {
    std::atomic<bool> stalled{false};
    std::atomic<bool> open{false};
    void on_message(session& s, connection& c, opcode op, std::span<const std::byte> p) override {
        if (std::string_view(reinterpret_cast<const char*>(p.data()), p.size()) == "stall") {
            stalled = true;
            wait_until([&] { return open.load(); });
        }
        s.send_message(c, op, p);
    }
};

// A busy turn's WebSocket replies leave as send SQEs, replies_per_submit to
// a submit (queue_own_replies): 31 clients each send 20 numbered messages
// (in two writes, so a connection may have a send in flight when its second
// read comes) while the loop stalls; every echo comes back whole and in order.
TEST_F(UringReactor, BusyTurnBatchesItsRepliesInOrder) {
    auto handler = std::make_unique<stalling_echo>();
    stalling_echo& stall = *handler;
    tiny_ring r(4, {}, std::move(handler));
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 32; ++i) {
        clients.push_back(std::make_unique<client>(r.port()));
        ASSERT_TRUE(clients.back()->handshake());
    }
    constexpr int per_client = 20;
    auto text = [](std::size_t i, int k) { return "client " + std::to_string(i) + " message " + std::to_string(k); };
    ASSERT_TRUE(clients[0]->send_frame(opcode::text, "stall"));
    ASSERT_TRUE(wait_until([&] { return stall.stalled.load(); })) << "the loop never took the stall";
    for (int half = 0; half < 2; ++half)
        for (std::size_t i = 1; i < clients.size(); ++i)
            for (int k = half * per_client / 2; k < (half + 1) * per_client / 2; ++k)
                ASSERT_TRUE(clients[i]->send_frame(opcode::text, text(i, k)));
    stall.open = true;
    EXPECT_EQ(clients[0]->recv().payload, "stall");
    for (std::size_t i = 1; i < clients.size(); ++i)
        for (int k = 0; k < per_client; ++k) {
            message m = clients[i]->recv();
            ASSERT_EQ(m.kind, proto::event_kind::text) << "client " << i << " read error " << clients[i]->last_error;
            ASSERT_EQ(m.payload, text(i, k));
        }
    clients.clear();
    r.stop();
    EXPECT_GE(r.get().stats().uring.replies_batched, uring_reactor::replies_per_submit);
    EXPECT_EQ(r.get().stats().session.failed, 0u);
}

// A quiet turn (a lone request) is answered at once, by a send syscall:
// nothing waits for a batch. And a busy turn of upgrades answers its 101s
// that way too: a batched reply holds its write block until its CQE, and
// for a burst of handshakes that left pages resident per idle connection.
TEST_F(UringReactor, LoneRequestsAndUpgradesAreNotBatched) {
    auto handler = std::make_unique<stalling_echo>();
    stalling_echo& stall = *handler;
    tiny_ring r(4, {}, std::move(handler));
    auto lone_owner = std::make_unique<client>(r.port());
    client& lone = *lone_owner;
    ASSERT_TRUE(lone.handshake());
    for (int k = 0; k < 20; ++k) {
        ASSERT_TRUE(lone.send_frame(opcode::binary, pattern(16, static_cast<unsigned>(k))));
        EXPECT_EQ(lone.recv().payload, pattern(16, static_cast<unsigned>(k)));
    }
    ASSERT_TRUE(lone.send_frame(opcode::text, "stall"));
    ASSERT_TRUE(wait_until([&] { return stall.stalled.load(); })) << "the loop never took the stall";
    std::vector<std::unique_ptr<client>> burst;
    for (int i = 0; i < 24; ++i) {
        burst.push_back(std::make_unique<client>(r.port()));
        ASSERT_TRUE(burst.back()->send_upgrade());
    }
    stall.open = true;
    EXPECT_EQ(lone.recv().payload, "stall");
    for (auto& c : burst) EXPECT_TRUE(c->upgraded());
    burst.clear();
    lone_owner.reset();  // closed by us: no close handshake to wait out at stop
    r.stop();
    EXPECT_EQ(r.get().stats().uring.replies_batched, 0u);
    EXPECT_EQ(r.get().stats().session.upgraded, 25u);
}

TEST_F(UringReactor, EnvVarForcesTheEpollFallback) {
    std::string why;
    ::setenv("WSRING_DISABLE_URING", "1", 1);
    EXPECT_FALSE(uring_reactor::available(why));
    EXPECT_NE(why.find("WSRING_DISABLE_URING"), std::string::npos) << why;
    int fd = listen_tcp({.host = "127.0.0.1", .port = 0}, why);
    ASSERT_GE(fd, 0);
    session_shared shared;
    auto r = make_reactor(backend_kind::uring, fd, reactor_options{}, session_options{}, shared,
                          std::make_unique<echo_handler>());
    ::unsetenv("WSRING_DISABLE_URING");
    EXPECT_EQ(r->backend_name(), "epoll");
    EXPECT_TRUE(uring_reactor::available(why)) << why;
}

}  // namespace
}  // namespace wsring::net
#endif  // WSRING_HAVE_URING
