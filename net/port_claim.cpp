// The start-up lock and the probe of net/port_claim.hpp. The lock is an
// abstract Unix socket address ("\0wsring-port-9001"): bound by one socket
// at a time in a network namespace (which is also the scope of a TCP port),
// gone when its process exits, however it exits — no file to clean up.
#include "net/port_claim.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace wsring::net {

namespace {

// Calls `attempt` (>= 0: done; -errno: failed) again every 5 ms while it
// fails with EADDRINUSE, for up to `patience`: something that holds the
// name or the port is expected to let go soon. Nothing announces that, so
// this polls: the next try after it lets go, at most 5 ms later, succeeds.
template <class Attempt>
int retry_while_in_use(Attempt attempt, std::chrono::milliseconds patience) {
    auto give_up = std::chrono::steady_clock::now() + patience;
    for (;;) {
        int rc = attempt();
        if (rc != -EADDRINUSE || std::chrono::steady_clock::now() > give_up) return rc;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

// Binds the lock's name, waiting out another server's start-up (a few ms).
int take_startup_lock(std::uint16_t port) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::string name = "wsring-port-" + std::to_string(port);
    std::memcpy(a.sun_path + 1, name.data(), name.size());  // sun_path[0] = 0: abstract
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    return retry_while_in_use(
        [&] {
            int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) return -errno;
            if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0) return fd;
            int err = errno;
            ::close(fd);
            return -err;
        },
        std::chrono::seconds(2));
}

// Binds a plain (no SO_REUSEPORT) socket to host:port and lets it go:
// 0 if nobody listens there, else -errno with `why` set. SO_REUSEADDR
// keeps connections in TIME_WAIT from counting as "in use" (as in listen_tcp).
int probe_bind(const listen_options& opts, std::string& why) {
    addrinfo_ptr res = resolve_passive(opts.host, opts.port, why);
    if (!res) return -EINVAL;
    int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0) {
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, res->ai_addr, res->ai_addrlen) < 0) err = errno;
        ::close(fd);
    }
    if (err) why = "bind " + format_address(opts.host, opts.port) + ": " + std::strerror(err);
    return -err;
}

}  // namespace

bool port_claim::take(const listen_options& opts, std::string& why) {
    int fd = take_startup_lock(opts.port);
    if (fd < 0) {
        why = "another server is starting on port " + std::to_string(opts.port) + ": " +
              std::strerror(-fd);
        return false;
    }
    lock_fd_ = fd;
    // A listener that is going away still holds the port for a moment: after
    // SIGKILL (a crash, the OOM killer) an io_uring server's ring is torn down
    // by a kernel worker once the process is gone, and the listening socket
    // its multishot accept holds closes only then — 7–9 ms later with 50
    // connections, ~40 ms with 5,000 (measured). A restart right away (a
    // supervisor's) waits that out rather than failing; a live listener
    // still fails, a second later.
    if (retry_while_in_use([&] { return probe_bind(opts, why); }, std::chrono::seconds(1)) == 0)
        return true;
    release();
    return false;
}

void port_claim::release() {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
}

}  // namespace wsring::net
