// The socket wrappers. Nothing here allocates on the data path (recv_some,
// send_iov are one syscall each, made with syscall(): see recv_some).
#include "net/socket.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wsring::net {

namespace {

int fail(std::string& why, const char* step, int err) {
    why = std::string(step) + ": " + std::strerror(err);
    return -err;
}

int set_int_option(int fd, int level, int name, int value) {
    return ::setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : -errno;
}

ssize_t syscall_result(long r) { return r >= 0 ? static_cast<ssize_t>(r) : -errno; }

ssize_t send_msg(int fd, const iovec* iov, int n, int flags) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = static_cast<std::size_t>(n);
    return syscall_result(::syscall(SYS_sendmsg, fd, &msg, flags));
}

}  // namespace

addrinfo_ptr resolve_passive(const std::string& host, std::uint16_t port, std::string& why) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
        why = "cannot resolve host '" + host + "': " + ::gai_strerror(rc);
        return nullptr;
    }
    return addrinfo_ptr(res);
}

int listen_tcp(const listen_options& opts, std::string& why) {
    addrinfo_ptr res = resolve_passive(opts.host, opts.port, why);
    if (!res) return -EINVAL;
    int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(why, "socket", errno);
    int rc = set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (rc == 0 && opts.reuse_port) rc = set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    // Linux copies TCP_NODELAY from the listener to each accepted socket:
    // set once here, it saves a setsockopt per connection.
    if (rc == 0 && opts.nodelay) rc = set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (rc < 0) {
        ::close(fd);
        return fail(why, "setsockopt(SO_REUSEADDR/SO_REUSEPORT/TCP_NODELAY)", -rc);
    }
    rc = ::bind(fd, res->ai_addr, res->ai_addrlen);
    int err = errno;
    if (rc < 0) {
        ::close(fd);
        return fail(why, ("bind " + format_address(opts.host, opts.port)).c_str(), err);
    }
    if (::listen(fd, opts.backlog) < 0) {
        err = errno;
        ::close(fd);
        return fail(why, "listen", err);
    }
    return fd;
}

int local_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return -errno;
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

int accept_nonblocking(int listen_fd) {
    for (;;) {
        int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) return fd;
        if (errno != EINTR) return -errno;
    }
}

int set_nodelay(int fd) { return set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1); }

// The data path's four calls go to the kernel through syscall(), not
// glibc's recv(), send() and sendmsg(). Those are cancellation points: in a
// process with more than one thread (ws-server's main thread waits for
// signals while the reactors run) each call switches asynchronous
// cancellation on and off around the syscall, 1.4 % of the server's time
// in the 16 B echo. We never cancel a thread, so we skip that dance.
ssize_t recv_some(int fd, void* buf, std::size_t len) {
    for (;;) {
        ssize_t n = syscall_result(::syscall(SYS_recvfrom, fd, buf, len, 0, nullptr, nullptr));
        if (n != -EINTR) return n;
    }
}

ssize_t recv_iov(int fd, const iovec* iov, int n) {
    for (;;) {
        ssize_t got = syscall_result(::syscall(SYS_readv, fd, iov, n));
        if (got != -EINTR) return got;
    }
}

ssize_t send_iov(int fd, const iovec* iov, int n, int flags) {
    flags |= MSG_NOSIGNAL;
    for (;;) {
        // One piece (a broadcast entry, most replies): send(), whose kernel
        // path imports one range instead of a message header and an iovec
        // array. Broadcast to 1,000: +2.5-3.5 % per server-CPU-second.
        ssize_t sent = n == 1 ? syscall_result(::syscall(SYS_sendto, fd, iov[0].iov_base, iov[0].iov_len,
                                                         flags, nullptr, 0))
                              : send_msg(fd, iov, n, flags);
        if (sent != -EINTR) return sent;
    }
}

std::string format_address(std::string_view host, int port) {
    std::string h(host);
    if (h.find(':') != std::string::npos) h = "[" + h + "]";
    return h + ":" + std::to_string(port);
}

}  // namespace wsring::net
