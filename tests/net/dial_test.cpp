// tests/net/dial_test.cpp: outbound connections on a reactor
// (reactor_base::dial), once per backend: a client reactor on the test
// thread dials an echo server reactor on another thread. The opening
// handshake, an echo, the close handshake ending with the server's FIN
// first (RFC 6455 §7.1.1: a clean end, well before close_timeout), a
// refused connect ending with a reason, and wss:// with the test CA.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/client_link.hpp"
#include "net/echo_handler.hpp"
#include "net/reactor.hpp"
#include "net/socket.hpp"
#include "tests/net/echo_server.hpp"
#include "tests/net/per_backend.hpp"
#include "tests/net/test_pki.hpp"

namespace wsring::net {
namespace {

using namespace test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// A non-blocking socket whose connect to 127.0.0.1:port is under way (or
// done); how the connect() returned goes to `connect_errno` (0: at once).
int connect_errno = 0;
int start_connect(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    connect_errno = rc == 0 ? 0 : errno;
    EXPECT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
    return fd;
}

// One client connection on a client reactor of `kind`, run on this thread
// until it ends: `on_open` and `on_message` act on the session.
struct dial_run {
    std::vector<std::string> got;
    std::function<void(client_session&)> on_open = [](client_session&) {};
    std::function<void(client_session&, const std::string&)> on_message = [](client_session&, const std::string&) {};

    client_outcome run(backend_kind kind, int port, const tls_context* tls = nullptr) {
        client_session* self = nullptr;
        client_session s({.host = "localhost:" + std::to_string(port), .close_timeout = 3s},
                         {.on_open = [&](const std::string&) { on_open(*self); },
                          .on_message =
                              [&](std::span<const std::byte> d, bool) {
                                  got.emplace_back(reinterpret_cast<const char*>(d.data()), d.size());
                                  on_message(*self, got.back());
                              }},
                         clock_type::now());
        self = &s;
        session_shared shared;
        reactor_options ro;
        ro.tick = 10ms;
        auto loop = make_reactor(kind, -1, ro, {}, shared, std::make_unique<echo_handler>());
        {
            client_link link(s, tls, "localhost", nullptr);
            bool ended = false;
            EXPECT_TRUE(loop->dial(start_connect(port), link, [&] {
                ended = true;
                loop->stop();
            }));
            loop->run();
            EXPECT_TRUE(ended);
            secured = link.secured();
        }
        EXPECT_TRUE(s.finished());
        return s.outcome();
    }
    bool secured = false;
};

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

class Dial : public per_backend {};

TEST_P(Dial, EchoThenCloseHandshakeServerEndsTcpFirst_7_1_1) {
    echo_server srv(GetParam());
    dial_run d;
    d.on_open = [](client_session& s) {
        s.send(bytes_of("hello"), true);
        s.send(bytes_of(std::string(200'000, 'x')), false);  // more than one send
    };
    d.on_message = [&](client_session& s, const std::string&) {
        if (d.got.size() == 2) s.close(proto::close_code::normal, "bye", clock_type::now());
    };
    const auto t0 = clock_type::now();
    const client_outcome how = d.run(GetParam(), srv.port());
    // Dialed with the connect still under way: the request's first send met
    // a socket not yet connected (epoll: EAGAIN, then the EPOLLOUT edge;
    // io_uring: the send waited for writable).
    EXPECT_EQ(connect_errno, EINPROGRESS);
    EXPECT_TRUE(how.opened);
    EXPECT_EQ(how.http_status, 101);
    ASSERT_EQ(d.got.size(), 2u);
    EXPECT_EQ(d.got[0], "hello");
    EXPECT_EQ(d.got[1].size(), 200'000u);
    // The clean end: the server's close frame, then its FIN, before our
    // close_timeout (3 s) would have ended it with a reason.
    EXPECT_EQ(how.code, proto::close_code::normal);
    EXPECT_EQ(how.reason, "");  // the echo server answers 1000 without one
    EXPECT_LT(clock_type::now() - t0, 2s);
}

TEST_P(Dial, RefusedConnectEndsWithAReason) {
    std::string why;
    const int lfd = listen_tcp({.host = "127.0.0.1", .port = 0}, why);
    ASSERT_GE(lfd, 0) << why;
    const int port = local_port(lfd);
    ::close(lfd);  // nobody listens there now
    dial_run d;
    const client_outcome how = d.run(GetParam(), port);
    EXPECT_EQ(connect_errno, EINPROGRESS);  // the refusal came on the socket, not from connect()
    EXPECT_FALSE(how.opened);
    EXPECT_EQ(how.code, proto::close_code::abnormal);
    EXPECT_NE(how.reason.find("refused"), std::string::npos) << how.reason;
}

TEST_P(Dial, TlsWithTheTestCa) {
    echo_server srv(GetParam(), &*pki().ctx);
    std::string why;
    auto client_ctx = tls_context::load_client(pki().ca_file.string(), false, why);
    ASSERT_TRUE(client_ctx) << why;
    dial_run d;
    d.on_open = [](client_session& s) { s.send(bytes_of("over tls"), true); };
    d.on_message = [](client_session& s, const std::string&) {
        s.close(proto::close_code::normal, "", clock_type::now());
    };
    const client_outcome how = d.run(GetParam(), srv.port(), &*client_ctx);
    EXPECT_TRUE(d.secured);
    EXPECT_TRUE(how.opened);
    ASSERT_EQ(d.got.size(), 1u);
    EXPECT_EQ(d.got[0], "over tls");
    EXPECT_EQ(how.code, proto::close_code::normal);
    EXPECT_EQ(how.reason, "");
}

TEST_P(Dial, TlsRefusedCertificateEndsWithTheCheck) {
    echo_server srv(GetParam(), &*pki().ctx);
    std::string why;
    auto client_ctx = tls_context::load_client(pki().other_ca_file.string(), false, why);
    ASSERT_TRUE(client_ctx) << why;
    dial_run d;
    const client_outcome how = d.run(GetParam(), srv.port(), &*client_ctx);
    EXPECT_FALSE(how.opened);
    EXPECT_NE(how.reason.find("--ca"), std::string::npos) << how.reason;
}

INSTANTIATE_TEST_SUITE_P(Backends, Dial, backend_kinds(), backend_label);

}  // namespace
}  // namespace wsring::net
