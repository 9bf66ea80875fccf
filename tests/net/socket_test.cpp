// Tests for net/socket: listeners on an ephemeral port, SO_REUSEPORT
// siblings, a useful bind error, non-blocking accept, EOF, and EPIPE (not
// SIGPIPE) when sending to a closed peer. 127.0.0.1 only.
#include "net/socket.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cerrno>

#include "tests/net/wait_until.hpp"

namespace wsring::net {
namespace {

int connect_to(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
        ::close(fd);
        return -errno;
    }
    return fd;
}

TEST(Socket, EphemeralPortAndReusePortSiblings) {
    std::string why;
    int a = listen_tcp({.host = "127.0.0.1", .port = 0}, why);
    ASSERT_GE(a, 0) << why;
    int port = local_port(a);
    ASSERT_GT(port, 0);
    int b = listen_tcp({.host = "127.0.0.1", .port = static_cast<std::uint16_t>(port)}, why);
    ASSERT_GE(b, 0) << why;  // SO_REUSEPORT: a second listener on the same port
    EXPECT_EQ(local_port(b), port);
    ::close(a);
    ::close(b);
}

TEST(Socket, BindConflictSaysWhy) {
    std::string why;
    int a = listen_tcp({.host = "127.0.0.1", .port = 0, .reuse_port = false}, why);
    ASSERT_GE(a, 0) << why;
    int port = local_port(a);
    int b = listen_tcp({.host = "127.0.0.1", .port = static_cast<std::uint16_t>(port),
                        .reuse_port = false}, why);
    EXPECT_EQ(b, -EADDRINUSE);
    EXPECT_NE(why.find("bind 127.0.0.1:"), std::string::npos) << why;
    ::close(a);
}

TEST(Socket, BadHostIsAnError) {
    std::string why;
    EXPECT_LT(listen_tcp({.host = "no.such.host.invalid", .port = 0}, why), 0);
    EXPECT_FALSE(why.empty());
}

TEST(Socket, AcceptIsNonBlocking) {
    std::string why;
    int l = listen_tcp({.host = "127.0.0.1", .port = 0}, why);
    ASSERT_GE(l, 0);
    EXPECT_EQ(accept_nonblocking(l), -EAGAIN);
    int c = connect_to(local_port(l));
    ASSERT_GE(c, 0);
    int s = -EAGAIN;
    ASSERT_TRUE(net::test::wait_until([&] { return (s = accept_nonblocking(l)) != -EAGAIN; }));
    ASSERT_GE(s, 0);
    // The reactor relies on this: no setsockopt per accepted connection.
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    ASSERT_EQ(::getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    EXPECT_EQ(nodelay, 1) << "TCP_NODELAY not inherited from the listener";
    EXPECT_EQ(set_nodelay(s), 0);
    char buf[8];
    EXPECT_EQ(recv_some(s, buf, sizeof buf), -EAGAIN);  // non-blocking: nothing yet
    ::close(c);
    ssize_t n = -EAGAIN;
    EXPECT_TRUE(net::test::wait_until([&] { return (n = recv_some(s, buf, sizeof buf)) != -EAGAIN; }));
    EXPECT_EQ(n, 0);  // EOF
    ::close(s);
    ::close(l);
}

TEST(Socket, SendToAClosedPeerIsEpipeNotSigpipe) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ::close(sv[1]);
    char data[4] = {'d', 'a', 't', 'a'};
    iovec iov{data, sizeof data};
    EXPECT_EQ(send_iov(sv[0], &iov, 1), -EPIPE);  // and the test process is still alive
    ::close(sv[0]);
}

// One iovec takes send()'s path (socket.cpp), several sendmsg()'s (a
// gather): both deliver every byte, in order, and both fail with -EPIPE,
// not SIGPIPE (one piece: SendToAClosedPeerIsEpipeNotSigpipe).
TEST(Socket, SendIovOfOnePieceAndOfSeveralBothArriveInOrder) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    char one[] = "single";
    iovec iov1{one, 6};
    EXPECT_EQ(send_iov(sv[0], &iov1, 1), 6);
    char a[] = "x", b[] = "yz";
    iovec iov2[2] = {{a, 1}, {b, 2}};
    EXPECT_EQ(send_iov(sv[0], iov2, 2), 3);
    char got[16] = {};
    EXPECT_EQ(recv_some(sv[1], got, sizeof got), 9);
    EXPECT_STREQ(got, "singlexyz");
    ::close(sv[1]);
    EXPECT_EQ(send_iov(sv[0], iov2, 2), -EPIPE);
    ::close(sv[0]);
}

TEST(Socket, FormatAddress) {
    EXPECT_EQ(format_address("0.0.0.0", 9001), "0.0.0.0:9001");
    EXPECT_EQ(format_address("::1", 80), "[::1]:80");
}

}  // namespace
}  // namespace wsring::net
