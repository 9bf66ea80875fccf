// Thin, non-throwing wrappers over the socket calls the backends share.
// Every function returns a result or -errno (never sets errno for the
// caller to read later), retries EINTR itself, and never raises SIGPIPE.
// Read next: net/epoll_reactor.cpp.
#pragma once
#include <netdb.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace wsring::net {

struct listen_options {
    std::string host = "0.0.0.0";  // numeric address or a name; "::" for IPv6
    std::uint16_t port = 0;        // 0: the kernel picks one (read it with local_port)
    bool reuse_port = true;        // SO_REUSEPORT: one listener per reactor on one port
    bool nodelay = true;           // TCP_NODELAY, inherited by every accepted socket
    int backlog = 4096;
};

// getaddrinfo's answer for a socket to bind (AI_PASSIVE) on host:port, or
// null with `why` ("cannot resolve host 'x': ..."). Freed on scope exit.
struct addrinfo_deleter {
    void operator()(addrinfo* a) const { ::freeaddrinfo(a); }
};
using addrinfo_ptr = std::unique_ptr<addrinfo, addrinfo_deleter>;
addrinfo_ptr resolve_passive(const std::string& host, std::uint16_t port, std::string& why);

// A non-blocking, close-on-exec listening TCP socket, or -errno. On failure
// `why` says which step failed, for a message a user can act on.
int listen_tcp(const listen_options& opts, std::string& why);

// The port a bound socket got (for --port 0), or -errno.
int local_port(int fd);

// Accepts one connection as a non-blocking, close-on-exec socket, or -errno
// (-EAGAIN when there is none left).
int accept_nonblocking(int listen_fd);

// TCP_NODELAY: frames are corked by the write queue, so Nagle only adds delay.
int set_nodelay(int fd);

// recv() into `buf`: bytes read, 0 on EOF, or -errno.
ssize_t recv_some(int fd, void* buf, std::size_t len);

// readv() into `n` iovecs, filled in order: bytes read, 0 on EOF, or -errno.
ssize_t recv_iov(int fd, const iovec* iov, int n);

// sendmsg() of `n` iovecs (send() when n is 1) with MSG_NOSIGNAL (EPIPE
// instead of SIGPIPE) and `flags` (MSG_MORE): bytes sent, or -errno.
ssize_t send_iov(int fd, const iovec* iov, int n, int flags = 0);

// "0.0.0.0:9001", "[::1]:9001" for logs.
std::string format_address(std::string_view host, int port);

}  // namespace wsring::net
