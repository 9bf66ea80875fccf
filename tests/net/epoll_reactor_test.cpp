// Tests for the reactors (net/reactor_base with each backend: epoll,
// io_uring) and net/server over real sockets on 127.0.0.1: echo through
// several reactors, a large reply to a client that reads late (partial
// writes resumed when the socket has room), large frames arriving in
// pieces (read straight into their messages), resets, graceful stop with
// 1001, the shutdown deadline, and the cross-thread wake-up hook. Every
// test runs once per backend (the uring run is skipped where this kernel
// has no usable io_uring). The client: tests/net/test_client.hpp.
#include "net/epoll_reactor.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "net/echo_handler.hpp"
#include "net/server.hpp"
#include "net/socket.hpp"
#include "tests/net/per_backend.hpp"
#include "tests/net/test_client.hpp"
#ifdef WSRING_HAVE_URING
#include "net/uring_reactor.hpp"
#endif

namespace wsring::net {
namespace {

using namespace test;
using namespace std::chrono_literals;
using proto::opcode;

class Reactor : public per_backend {
protected:
    server_options test_server(unsigned threads = 2) { return test::test_server(GetParam(), threads); }
};

INSTANTIATE_TEST_SUITE_P(Backends, Reactor, backend_kinds(), backend_label);

// A client's frame (RFC 6455 §5.3: masked) as bytes to send in pieces.
std::string masked_frame(opcode op, std::string_view payload) {
    std::string out(proto::frame_size(payload.size(), true), '\0');
    out.resize(proto::encode_frame(std::as_writable_bytes(std::span(out.data(), out.size())), op,
                                   std::as_bytes(std::span(payload.data(), payload.size())),
                                   {.mask = 0x5a3c9e21}));
    return out;
}

TEST_P(Reactor, RunsTheBackendAskedFor) {
    server srv(test_server(1));
    srv.start();
    EXPECT_EQ(srv.backend_name(), GetParam() == backend_kind::uring ? "uring" : "epoll");
}

TEST_P(Reactor, EchoesAcrossReactors) {
    server srv(test_server(2));
    srv.start();
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 8; ++i) {
        clients.push_back(std::make_unique<client>(srv.port()));
        ASSERT_TRUE(clients.back()->handshake());
    }
    for (int round = 0; round < 20; ++round) {
        for (std::size_t i = 0; i < clients.size(); ++i) {
            std::string p = "client " + std::to_string(i) + " round " + std::to_string(round);
            if (round % 7 == 3) p.append(100000, 'x');  // some large ones
            ASSERT_TRUE(clients[i]->send_frame(round % 2 ? opcode::binary : opcode::text, p));
            message m = clients[i]->recv();
            ASSERT_EQ(m.payload, p);
        }
    }
    srv.stop();
    srv.wait();
    EXPECT_EQ(srv.stats().accepted, 8u);
    EXPECT_EQ(srv.stats().session.upgraded, 8u);
}

TEST_P(Reactor, LargeReplyToALateReaderResumesOnWritable) {
    server srv(test_server(1));
    srv.start();
    client c(srv.port(), true, 64 << 10);  // a small, fixed receive window
    ASSERT_TRUE(c.handshake());
    // The reply is more than can be in flight at once (the server socket's
    // send buffer at its largest, plus our receive buffer), so while we read
    // nothing its send is short and the rest must wait for room (an EPOLLOUT
    // edge; a send completion with io_uring).
    const std::size_t in_flight_max = kernel_send_buffer_max() + c.receive_buffer();
    std::string big(std::max<std::size_t>(8u << 20, in_flight_max + (1u << 20)), '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
    std::thread sender([&] { c.send_frame(opcode::binary, big); });
    // The late reader: nothing is read until the reply has begun to arrive
    // (the server has the whole message and sent what the socket took).
    ASSERT_TRUE(wait_until([&] { return c.bytes_waiting() > 0; })) << "no reply began";
    message m = c.recv();
    sender.join();
    EXPECT_EQ(m.kind, proto::event_kind::binary);
    EXPECT_TRUE(m.payload == big) << "the echo came back damaged or short: " << m.payload.size();
    srv.stop();
    srv.wait();
}

// Frames far larger than a read, arriving in pieces with pauses between
// them (each read then ends inside a frame, as from a slow peer): the rest
// of each is read straight into its message (session::receive_room: a
// readv on epoll, a read between batches on io_uring), and every echo must
// come back whole, with the frame sent right behind one in the same piece
// intact. Text cut inside its UTF-8 sequences is checked where it lands,
// and one bad byte near the end of a large text message still fails it
// with 1007 (RFC 6455 §8.1).
TEST_P(Reactor, LargeFramesArrivingInPiecesEchoWhole) {
    std::string big(3u << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
    std::string text;
    while (text.size() < (1u << 20)) text += "gr\xc3\xb6\xc3\x9f" "er \xcf\x80 \xe2\x89\xa0 ";
    std::string bad_text = text;
    bad_text[bad_text.size() - 1000] = '\xff';
    for (bool bad : {false, true}) {
        server srv(test_server(1));
        srv.start();
        auto cp = std::make_unique<client>(srv.port());
        client& c = *cp;
        ASSERT_TRUE(c.handshake());
        const std::string wire = bad ? masked_frame(opcode::text, bad_text)
                                     : masked_frame(opcode::binary, big) +
                                           masked_frame(opcode::text, "right behind") +
                                           masked_frame(opcode::text, text);
        // Pieces of 96 KiB + 3 (so cuts fall anywhere), each sent once the
        // server's socket took the last (TCP acknowledged it all), so reads
        // end inside frames; from a thread while this one reads the echoes.
        std::thread sender([&] {
            constexpr std::size_t piece = (96u << 10) + 3;
            for (std::size_t at = 0; at < wire.size(); at += piece) {
                if (!c.send_all(std::string_view(wire).substr(at, piece))) return;
                wait_until([&] { return c.bytes_unsent() == 0; });
            }
        });
        if (bad) {
            message m = c.recv();
            EXPECT_EQ(m.kind, proto::event_kind::close);
            EXPECT_EQ(m.code, 1007);
            c.send_frame(opcode::close, std::string("\x03\xef", 2));  // the close handshake, answered
            EXPECT_TRUE(c.wait_eof());
        } else {
            message m = c.recv();
            EXPECT_EQ(m.kind, proto::event_kind::binary);
            EXPECT_TRUE(m.payload == big) << "the binary echo came back damaged or short: " << m.payload.size();
            m = c.recv();
            EXPECT_EQ(m.kind, proto::event_kind::text);
            EXPECT_EQ(m.payload, "right behind");
            m = c.recv();
            EXPECT_EQ(m.kind, proto::event_kind::text);
            EXPECT_TRUE(m.payload == text) << "the text echo came back damaged or short: " << m.payload.size();
        }
        sender.join();
        cp.reset();  // gone before the stop: no 1001 handshake to wait for
        srv.stop();
        srv.wait();
    }
}

// A large frame's header alone, then, once the server has counted it read,
// the whole payload: the payload is read straight into the decoder's message
// (session::receive_room), all of it in one read, and its echo must come
// back intact (it once came back with its first bytes overwritten, the
// message freed before the reply left).
TEST_P(Reactor, AFrameWhosePayloadArrivesAloneEchoesWhole) {
    server srv(test_server(1));
    srv.start();
    auto cp = std::make_unique<client>(srv.port());
    client& c = *cp;
    ASSERT_TRUE(c.handshake());
    for (std::size_t size : {20000u, 60000u, 300000u}) {
        SCOPED_TRACE(size);
        std::string payload(size, '\0');
        for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i * 7 + i / 253);
        const std::string wire = masked_frame(opcode::binary, payload);
        const std::size_t header = wire.size() - size;
        // The header alone, and the payload only once the server has read
        // it (its byte count moves in the same call that decodes them).
        const std::uint64_t before = srv.stats().session.bytes_received;
        ASSERT_TRUE(c.send_all(std::string_view(wire).substr(0, header)));
        ASSERT_TRUE(wait_until([&] { return srv.stats().session.bytes_received >= before + header; }))
            << "the server never read the header";
        ASSERT_TRUE(c.send_all(std::string_view(wire).substr(header)));
        message m = c.recv();
        EXPECT_EQ(m.kind, proto::event_kind::binary);
        EXPECT_TRUE(m.payload == payload) << "the echo came back damaged or short: " << m.payload.size();
    }
    cp.reset();
    srv.stop();
    srv.wait();
}

TEST_P(Reactor, PeerResetDoesNotDisturbOthers) {
    server srv(test_server(1));
    srv.start();
    client good(srv.port());
    ASSERT_TRUE(good.handshake());
    for (int i = 0; i < 20; ++i) {
        client bad(srv.port());
        ASSERT_TRUE(bad.handshake());
        bad.send_frame(opcode::binary, std::string(50000, 'r'));
        linger lg{1, 0};  // close with RST
        ::setsockopt(bad.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    ASSERT_TRUE(good.send_frame(opcode::text, "still here"));
    EXPECT_EQ(good.recv().payload, "still here");
    srv.stop();
    srv.wait();
}

// Segments this socket has received (tcpi_segs_in). glibc's struct
// tcp_info stops before it, and linux/tcp.h clashes with netinet/tcp.h;
// the kernel's struct only ever grows, so its next fields follow glibc's.
std::uint32_t segments_received(int fd) {
    struct {
        tcp_info glibc;
        std::uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
        std::uint32_t segs_out, segs_in;
    } info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || len < sizeof info) return 0;
    return info.segs_in;
}

TEST_P(Reactor, CloseEchoAndFinShareASegment) {
    // Our close answer and the FIN that follows it (§7.1.1: the server
    // closes TCP first) leave in one segment: sent with MSG_MORE, the FIN
    // joins the bytes still queued (reactor_base::send_flags). Without it
    // they are two segments, every time. With it, one — unless the server
    // acknowledged our close frame on its own first (a quick ACK), so a
    // few connections are tried.
    server srv(test_server(1));
    srv.start();
    std::uint32_t fewest = ~0u;
    for (int i = 0; i < 5 && fewest > 1; ++i) {
        client c(srv.port());
        ASSERT_TRUE(c.handshake());
        ASSERT_TRUE(c.send_frame(opcode::text, "hello"));  // the handshake's exchange is over
        ASSERT_EQ(c.recv().payload, "hello");
        const std::uint32_t before = segments_received(c.fd());
        ASSERT_NE(before, 0u) << "no TCP_INFO";
        ASSERT_TRUE(c.send_frame(opcode::close, "\x03\xE8"));
        EXPECT_EQ(c.recv().code, 1000);
        ASSERT_TRUE(c.wait_eof());
        fewest = std::min(fewest, segments_received(c.fd()) - before);
    }
    EXPECT_EQ(fewest, 1u) << "the close frame and the FIN came in separate segments";
    srv.stop();
    srv.wait();
}

TEST_P(Reactor, HealthzOnTheSamePort) {
    server srv(test_server(1));
    srv.start();
    client c(srv.port());
    ASSERT_TRUE(c.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string got;
    char tmp[1024];
    for (ssize_t n; (n = ::recv(c.fd(), tmp, sizeof tmp, 0)) > 0;) got.append(tmp, static_cast<std::size_t>(n));
    EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
    EXPECT_EQ(got.substr(got.size() - 3), "ok\n");
    srv.stop();
    srv.wait();
}

TEST_P(Reactor, StopSends1001AndWaitsForTheAnswer) {
    server srv(test_server(2));
    srv.start();
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(std::make_unique<client>(srv.port()));
        ASSERT_TRUE(clients.back()->handshake());
    }
    auto t0 = std::chrono::steady_clock::now();
    srv.stop();
    for (auto& c : clients) {
        message m = c->recv();
        ASSERT_EQ(m.kind, proto::event_kind::close);
        EXPECT_EQ(m.code, 1001);
        std::string reply = "\x03\xE9";  // 1001
        c->send_frame(opcode::close, reply);
        EXPECT_TRUE(c->wait_eof());
    }
    srv.wait();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms) << "answered closes end the drain early";
    // The listeners are closed: nobody accepts any more.
    client late(srv.port());
    EXPECT_FALSE(late.connected() && late.handshake());
}

TEST_P(Reactor, ShutdownDeadlineEndsSilentPeers) {
    auto o = test_server(1);
    o.reactor.shutdown_timeout = 300ms;
    o.session.close_timeout = 10000ms;  // longer than the shutdown deadline
    server srv(o);
    srv.start();
    client half(srv.port());
    ASSERT_TRUE(half.send_all("GET / HTTP/1.1\r\n"));  // mid-handshake
    // One reactor accepts in backlog order: once `c` (connected after
    // `half`) has its 101, `half` was accepted too.
    client c(srv.port());
    ASSERT_TRUE(c.handshake());
    auto t0 = std::chrono::steady_clock::now();
    srv.stop();
    srv.wait();
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2000ms);
    EXPECT_EQ(c.recv().code, 1001);  // it was told, it just never answered
    EXPECT_TRUE(c.wait_eof());
    EXPECT_TRUE(half.wait_eof()) << "the half-made connection is closed too";
    EXPECT_EQ(srv.stats().accepted, 2u);
}

TEST_P(Reactor, ReadsOfOneTurnShareOneHotWriteBlock) {
    // 64 connections whose upgrade and first message all wait before the
    // loop runs: their reads land in the same turn or two. Each one's 101
    // and echo are sent right after its read (reactor_base::
    // flush_own_replies; io_uring too, synchronously), so the block goes
    // back to the pool before the next connection needs one. Sent in
    // phase 5 instead, every read of the turn would hold a block of its
    // own until then (io_uring: until its send completed).
    std::string why;
    int fd = listen_tcp({.host = "127.0.0.1", .port = 0}, why);
    ASSERT_GE(fd, 0) << why;
    const int port = local_port(fd);
    session_shared shared;
    auto r = make_reactor(GetParam(), fd, reactor_options{}, session_options{}, shared,
                          std::make_unique<echo_handler>());
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 64; ++i) {
        clients.push_back(std::make_unique<client>(port));
        ASSERT_TRUE(clients.back()->send_upgrade());
        ASSERT_TRUE(clients.back()->send_frame(opcode::text, "hello " + std::to_string(i)));
    }
    std::thread t([&] { r->run(); });
    for (int i = 0; i < 64; ++i) {
        ASSERT_TRUE(clients[i]->upgraded()) << i;
        EXPECT_EQ(clients[i]->recv().payload, "hello " + std::to_string(i));
    }
    EXPECT_EQ(r->stats().accepted, 64u);
    EXPECT_EQ(r->stats().write_blocks_peak, 1u) << "replies waited for the end of the turn";
    r->stop();  // (its 1001s are queued together: that is a turn of its own)
    for (auto& c : clients) {
        EXPECT_EQ(c->recv().code, 1001);
        c->send_frame(opcode::close, "\x03\xE9");
    }
    t.join();
}

TEST_P(Reactor, WakeRunsTheHookOnTheLoopThread) {
    std::string why;
    int fd = listen_tcp({.host = "127.0.0.1", .port = 0}, why);
    ASSERT_GE(fd, 0) << why;
    session_shared shared;
    auto rp = make_reactor(GetParam(), fd, reactor_options{}, session_options{}, shared,
                           std::make_unique<echo_handler>());
    reactor& r = *rp;
    std::atomic<int> posted{0}, drained{0};
    std::thread::id loop_thread;
    r.set_wakeup_hook({.pending = [&] { return posted.load() != drained.load(); },
                       .drain = [&] {
                           loop_thread = std::this_thread::get_id();
                           drained.store(posted.load());
                       }});
    std::thread t([&] { r.run(); });
    const std::thread::id runner = t.get_id();
    for (int i = 1; i <= 50; ++i) {
        posted.store(i);
        r.wake();
        ASSERT_TRUE(wait_until([&] { return drained.load() == i; })) << "wake-up " << i << " was lost";
    }
    r.stop();
    t.join();
    EXPECT_EQ(loop_thread, runner);
}

TEST_P(Reactor, ServerHandsEachReactorToSetupBeforeItRuns) {
    // Each reactor gets its own hook (marked with its index); every index's
    // hook must run, each on a thread of its own: one reactor running its
    // hook many times, or three setups of the same reactor, fail.
    constexpr unsigned n = 3;
    auto o = test_server(n);
    std::vector<unsigned> seen;
    std::vector<reactor*> reactors;
    std::atomic<bool> ran[n] = {};
    std::thread::id runner[n];  // written by reactor i's loop, read after wait()
    o.setup_reactor = [&](reactor& r, unsigned i) {
        seen.push_back(i);
        reactors.push_back(&r);
        r.set_wakeup_hook({.pending = nullptr, .drain = [&ran, &runner, i] {
                               if (ran[i].load(std::memory_order_relaxed)) return;
                               runner[i] = std::this_thread::get_id();
                               ran[i].store(true, std::memory_order_release);
                           }});
    };
    server srv(o);
    srv.start();
    EXPECT_EQ(seen, (std::vector<unsigned>{0, 1, 2}));
    EXPECT_EQ(std::set<reactor*>(reactors.begin(), reactors.end()).size(), n) << "one setup per reactor";
    for (auto* r : reactors) r->wake();
    for (unsigned i = 0; i < n; ++i)
        EXPECT_TRUE(wait_until([&] { return ran[i].load(std::memory_order_acquire); }))
            << "reactor " << i << " never ran the hook its setup installed";
    srv.stop();
    srv.wait();
    EXPECT_EQ(std::set<std::thread::id>(runner, runner + n).size(), n) << "each hook on its own loop";
}

}  // namespace
}  // namespace wsring::net
