// The backend choice, made at run time: io_uring when asked for and this
// kernel (its sysctls, its seccomp filter) gives us what that backend needs,
// else epoll — with one line on stderr saying why, once per process.
// WSRING_DISABLE_URING=1 forces the fallback (tests, and users whose kernel
// misbehaves). Without liburing at build time, uring is never available.
#include "net/reactor.hpp"

#include <atomic>
#include <string>

#include "net/epoll_reactor.hpp"
#include "net/log.hpp"
#ifdef WSRING_HAVE_URING
#include "net/uring_reactor.hpp"
#endif

namespace wsring::net {

namespace {

bool uring_usable() {
    std::string why = "this build has no liburing";
#ifdef WSRING_HAVE_URING
    if (uring_reactor::available(why)) return true;
#endif
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true))
        log(log_level::warn, "backend_fallback", "io_uring unavailable (%s): using the epoll backend",
            why.c_str());
    return false;
}

}  // namespace

tls_stats& tls_stats::operator+=(const tls_stats& o) {
    handshakes += o.handshakes;
    resumed += o.resumed;
    for (std::size_t i = 0; i < failed.size(); ++i) failed[i] += o.failed[i];
    return *this;
}

uring_stats& uring_stats::operator+=(const uring_stats& o) {
    replies_batched += o.replies_batched;
    ring_dry += o.ring_dry;
    return *this;
}

std::unique_ptr<reactor> make_reactor(backend_kind kind, int listen_fd,
                                      const reactor_options& ro, const session_options& so,
                                      session_shared& shared,
                                      std::unique_ptr<message_handler> handler) {
#ifdef WSRING_HAVE_URING
    if (kind == backend_kind::uring && uring_usable())
        return std::make_unique<uring_reactor>(listen_fd, ro, so, shared, std::move(handler));
#else
    if (kind == backend_kind::uring) uring_usable();
#endif
    return std::make_unique<epoll_reactor>(listen_fd, ro, so, shared, std::move(handler));
}

}  // namespace wsring::net
