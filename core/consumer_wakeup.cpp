// consumer_wakeup: the announce-sleep flag and its eventfd. Every memory
// order below is paired; the argument for the two fences is in
// docs/broadcast-ring.md, "Wake-ups" (store-buffering / Dekker).
#include "core/consumer_wakeup.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace wsring::core {
namespace {

// The two fences of the protocol. g++'s TSan does not model fences and warns
// (-Wtsan); that is harmless here: they order only atomic flag and sequence
// accesses, never plain data, so TSan cannot report a false race from them.
// The no-lost-wake-up property itself is tested functionally.
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
void seq_cst_fence() noexcept
{
    std::atomic_thread_fence(std::memory_order_seq_cst);
}
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace

consumer_wakeup::consumer_wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
{
    if (fd_ < 0) {
        std::fprintf(stderr, "wsring: eventfd: %s\n", std::strerror(errno));
        std::abort();
    }
}

consumer_wakeup::~consumer_wakeup()
{
    ::close(fd_);
}

void consumer_wakeup::announce_sleep() noexcept
{
    // relaxed store + seq_cst fence, partner: the fence in notify(). Either
    // our re-check (after this fence) sees the producer's publish, or the
    // producer's load (after its fence) sees this `true`. Never neither.
    sleeping_.store(true, std::memory_order_relaxed);
    seq_cst_fence();
}

void consumer_wakeup::end_sleep() noexcept
{
    // relaxed: a stale `true` seen by a producer costs one spare eventfd write,
    // never a lost wake-up; the next sleep re-announces with its own fence.
    sleeping_.store(false, std::memory_order_relaxed);
}

void consumer_wakeup::drain() noexcept
{
    // Reads the eventfd counter back to 0 (EAGAIN when it already was).
    std::uint64_t count = 0;
    while (::read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
    }
}

bool consumer_wakeup::wait(int timeout_ms) noexcept
{
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    int n = 0;
    while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (n > 0)
        drain();
    end_sleep();
    return n > 0;
}

void consumer_wakeup::notify() noexcept
{
    // seq_cst fence, partner: the fence in announce_sleep(). It orders our
    // slot publish (a release store made before this call) before the load.
    seq_cst_fence();
    // relaxed load: the fence gives the guarantee; the load is a cheap filter
    // that keeps the awake case free of any write to the shared line.
    if (!sleeping_.load(std::memory_order_relaxed))
        return;
    // relaxed exchange: picks one producer per announced sleep to kick; it
    // orders no data (the eventfd write/read pair in the kernel does that).
    if (sleeping_.exchange(false, std::memory_order_relaxed))
        kick();
}

void consumer_wakeup::kick() noexcept
{
    // relaxed: a statistic.
    kicks_.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t one = 1;
    while (::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

}  // namespace wsring::core
