// Tests for net/epoll_reactor and net/server over real sockets on
// 127.0.0.1: echo through several reactors, a large reply to a client that
// reads late (partial writes resumed on EPOLLOUT), resets, graceful stop
// with 1001, the shutdown deadline, and the cross-thread wake-up hook.
// Every blocking call has a timeout (SO_RCVTIMEO), so a bug fails, not hangs.
#include "net/epoll_reactor.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/echo_handler.hpp"
#include "net/server.hpp"
#include "net/socket.hpp"
#include "proto/client_handshake.hpp"
#include "proto/decoder.hpp"
#include "proto/encoder.hpp"

namespace wsring::net {
namespace {

using namespace std::chrono_literals;
using proto::opcode;

struct message {
    proto::event_kind kind = proto::event_kind::need_more;
    std::string payload;
    int code = 0;
};

// A small blocking WebSocket client built from the proto/ client side.
class client {
public:
    explicit client(int port, bool nodelay = true) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = nodelay ? 1 : 0;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~client() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool connected() const { return connected_; }
    int fd() const { return fd_; }

    bool send_all(std::string_view s) {
        while (!s.empty()) {
            ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            s.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    // Reads some bytes into the buffer; false on EOF, error or timeout.
    bool fill() {
        char tmp[65536];
        ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) return false;
        buf_.append(tmp, static_cast<std::size_t>(n));
        return true;
    }
    bool handshake(std::string_view path = "/") {
        std::string key = proto::make_client_key();
        if (!send_all(proto::make_client_request({.host = "127.0.0.1", .path = std::string(path)}, key)))
            return false;
        proto::response_checker rc(key);
        for (;;) {
            std::size_t used = 0;
            auto st = rc.feed(std::as_bytes(std::span(buf_.data(), buf_.size())), used);
            if (st != proto::response_checker::status::need_more) {
                buf_.erase(0, used);
                return st == proto::response_checker::status::accepted;
            }
            buf_.clear();  // the checker keeps what it consumed
            if (!fill()) return false;
        }
    }
    bool send_frame(opcode op, std::string_view payload) {
        std::string out(proto::frame_size(payload.size(), true), '\0');
        std::size_t n = proto::encode_frame(std::as_writable_bytes(std::span(out.data(), out.size())),
                                            op, std::as_bytes(std::span(payload.data(), payload.size())),
                                            {.mask = 0x01020304});
        out.resize(n);
        return send_all(out);
    }
    // The next message or control frame; kind need_more on EOF/timeout.
    message recv() {
        for (;;) {
            std::span<std::byte> in = std::as_writable_bytes(std::span(buf_.data(), buf_.size()));
            std::size_t before = in.size();
            proto::event ev = dec_.next(in);
            std::size_t used = before - in.size();
            if (ev.kind != proto::event_kind::need_more) {
                message m{ev.kind, std::string(ev.text()), static_cast<int>(ev.code)};
                buf_.erase(0, used);
                return m;
            }
            buf_.erase(0, used);
            if (!fill()) return {};
        }
    }
    // True when the server closed TCP (EOF or reset) within the timeout.
    bool wait_eof() {
        char tmp[4096];
        for (;;) {
            ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
            if (n == 0) return true;
            if (n < 0) return errno == ECONNRESET;
        }
    }

private:
    int fd_ = -1;
    bool connected_ = false;
    std::string buf_;
    proto::decoder dec_{proto::role::client, {.max_message = 64u << 20}};
};

server_options test_server(unsigned threads = 2) {
    server_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = threads;
    o.reactor.shutdown_timeout = 2000ms;
    o.session.close_timeout = 1000ms;
    return o;
}

TEST(EpollReactor, EchoesAcrossReactors) {
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

TEST(EpollReactor, LargeReplyToALateReaderResumesOnWritable) {
    server srv(test_server(1));
    srv.start();
    client c(srv.port());
    ASSERT_TRUE(c.handshake());
    // 8 MiB is more than a socket send buffer holds (tcp_wmem max 4 MiB),
    // so the reply's first send is short and the rest waits for EPOLLOUT.
    std::string big(8u << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
    std::thread sender([&] { c.send_frame(opcode::binary, big); });
    std::this_thread::sleep_for(300ms);  // read nothing for a while
    message m = c.recv();
    sender.join();
    EXPECT_EQ(m.kind, proto::event_kind::binary);
    EXPECT_TRUE(m.payload == big) << "the echo came back damaged or short: " << m.payload.size();
    srv.stop();
    srv.wait();
}

TEST(EpollReactor, PeerResetDoesNotDisturbOthers) {
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

TEST(EpollReactor, HealthzOnTheSamePort) {
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

TEST(EpollReactor, StopSends1001AndWaitsForTheAnswer) {
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

TEST(EpollReactor, ShutdownDeadlineEndsSilentPeers) {
    auto o = test_server(1);
    o.reactor.shutdown_timeout = 300ms;
    o.session.close_timeout = 10000ms;  // longer than the shutdown deadline
    server srv(o);
    srv.start();
    client c(srv.port());
    ASSERT_TRUE(c.handshake());
    client half(srv.port());
    ASSERT_TRUE(half.send_all("GET / HTTP/1.1\r\n"));  // mid-handshake
    std::this_thread::sleep_for(50ms);
    auto t0 = std::chrono::steady_clock::now();
    srv.stop();
    srv.wait();
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2000ms);
    EXPECT_EQ(c.recv().code, 1001);  // it was told, it just never answered
    EXPECT_TRUE(c.wait_eof());
}

TEST(EpollReactor, WakeRunsTheHookOnTheLoopThread) {
    std::string why;
    int fd = listen_tcp({.host = "127.0.0.1", .port = 0}, why);
    ASSERT_GE(fd, 0) << why;
    session_shared shared;
    epoll_reactor r(fd, reactor_options{}, session_options{}, shared,
                    std::make_unique<echo_handler>());
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
        for (int spin = 0; spin < 2000 && drained.load() != i; ++spin) std::this_thread::sleep_for(1ms);
        ASSERT_EQ(drained.load(), i) << "a wake-up was lost";
    }
    r.stop();
    t.join();
    EXPECT_EQ(loop_thread, runner);
}

TEST(EpollReactor, ServerHandsEachReactorToSetupBeforeItRuns) {
    auto o = test_server(3);
    std::atomic<int> drains{0};
    std::vector<unsigned> seen;
    std::vector<reactor*> reactors;
    o.setup_reactor = [&](reactor& r, unsigned i) {
        seen.push_back(i);
        reactors.push_back(&r);
        r.set_wakeup_hook({.pending = nullptr, .drain = [&] { drains.fetch_add(1); }});
    };
    server srv(o);
    srv.start();
    EXPECT_EQ(seen, (std::vector<unsigned>{0, 1, 2}));
    for (auto* r : reactors) r->wake();
    for (int i = 0; i < 2000 && drains.load() < 3; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_GE(drains.load(), 3) << "every reactor runs its hook";
    srv.stop();
    srv.wait();
}

}  // namespace
}  // namespace wsring::net
