// Waking a sleeping ring consumer, with a syscall only when it sleeps: the
// consumer announces "about to sleep" (a flag), re-checks the ring, and only
// then blocks on an eventfd; a producer, after publishing, writes the eventfd
// only if it sees the flag. Two seq_cst fences close the Dekker race.
//
// It owns the flag and the eventfd; it knows nothing of the ring (the caller
// does the re-check), nor of epoll/io_uring (register fd() with either).
// Protocol and proof: docs/broadcast-ring.md, "Wake-ups". Read next: the ring.
#pragma once
#include <atomic>
#include <cstdint>

#include "base/cache_line.hpp"

namespace wsring::core {

class consumer_wakeup {
public:
    // Creates the eventfd (non-blocking, close-on-exec); aborts with a message
    // if the kernel refuses (out of fds at start-up is not recoverable here).
    consumer_wakeup();
    ~consumer_wakeup();
    consumer_wakeup(const consumer_wakeup&) = delete;
    consumer_wakeup& operator=(const consumer_wakeup&) = delete;

    // Readable when a producer kicked us: register it with the reactor's poller.
    int fd() const noexcept { return fd_; }

    // ---- consumer side, in this order ----
    // 1. announce_sleep(), 2. re-check the ring (broadcast_ring::has_pending),
    // 3. if something is there: end_sleep() and poll; else block (epoll_wait
    //    on fd() among others), then end_sleep() whatever woke you, and
    //    drain() if fd() was readable.
    void announce_sleep() noexcept;
    void end_sleep() noexcept;
    void drain() noexcept;

    // Steps 3's blocking for a thread without a reactor (tests, benchmarks):
    // poll(2) on fd() for up to timeout_ms, then drain() and end_sleep().
    // Returns true if a kick arrived, false on timeout.
    bool wait(int timeout_ms) noexcept;

    // ---- producer side ----
    // After publishing (once per batch): writes the eventfd iff the consumer
    // announced sleep, and only one producer per sleep does it.
    void notify() noexcept;

    // eventfd writes made so far (stats and tests: proves "no syscall when awake").
    std::uint64_t kicks() const noexcept { return kicks_.load(std::memory_order_relaxed); }

private:
    void kick() noexcept;

    // Written by the consumer on every sleep and by producers that wake it:
    // its own line, away from fd_ (read-only) and the stats counter.
    alignas(base::cache_line) std::atomic<bool> sleeping_{false};
    alignas(base::cache_line) std::atomic<std::uint64_t> kicks_{0};
    int fd_ = -1;
};

}  // namespace wsring::core
