// The reactor interface: one event loop per thread, owning its listener,
// connections, timers and buffers. A backend (epoll or io_uring, both on
// net/reactor_base.hpp) implements these few members and the transport seam (net/transport.hpp);
// the connection logic itself is net/session.cpp, shared by all backends.
// Loop phases and the readiness/completion seam: docs/reactors.md.
// Read next: net/reactor_base.hpp.
#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "net/message_handler.hpp"
#include "net/session.hpp"
#include "net/tls_stream.hpp"

namespace wsring::net {

class client_link;

// Where a reactor reads the time: once per loop turn, right after the wait,
// so every timer armed while handling the turn's events counts from when
// those events happened (not from before a sleep of unknown length).
// Tests inject a clock they move by hand; empty means steady_clock::now.
using clock_source = std::function<std::chrono::steady_clock::time_point()>;

struct reactor_options {
    clock_source clock;                 // empty: std::chrono::steady_clock::now
    // wss://: every accepted connection speaks TLS with this context (owned
    // by the server, shared by its reactors); null: plain ws://.
    const tls_context* tls = nullptr;
    milliseconds tick{50};              // timer wheel resolution
    std::size_t wheel_slots = 1024;     // one revolution = slots × tick (51 s)
    // The reactor's receive buffer: epoll reads every connection into it,
    // io_uring a connection its provided-buffer ring ran dry for. 512 KiB,
    // not 128: a 64 KiB echo on epoll then needs a third of the recv calls
    // (and the window updates they trigger), +40 % messages per
    // server-CPU-second (docs/performance.md); pages untouched by small
    // reads never become resident.
    std::size_t recv_buffer = 512u << 10;
    int accept_batch = 64;              // accepts per loop turn before serving others
    int max_events = 256;               // epoll: the epoll_wait batch
    milliseconds shutdown_timeout{5000};  // stop() → force-close stragglers
};

// Cross-thread work (the broadcast ring, modes/broadcast_hub.hpp): `pending`
// is asked, from the loop thread, right before the reactor would sleep (the
// announce-sleep re-check); `drain` runs once per loop turn in phase 4.
// Producers call reactor::wake() after publishing.
struct wakeup_hook {
    std::function<bool()> pending;
    std::function<void()> drain;
};

// One counter per tls_error value (resources is the last one).
inline constexpr std::size_t tls_error_count = static_cast<std::size_t>(tls_error::resources) + 1;

// TLS, counted per reactor (all zero for ws://). Counters (core/counter.hpp):
// the reactor writes, GET /metrics reads from any thread. Nothing is logged per
// connection: a scan of the port is a counter, not a flood of lines.
struct tls_stats {
    core::counter handshakes = 0;  // completed
    core::counter resumed = 0;     // ... of which from a session ticket
    std::array<core::counter, tls_error_count> failed{};  // by tls_error

    tls_stats& operator+=(const tls_stats& o);
};

// io_uring's own (all zero on epoll), counted by its reactor: what
// docs/performance.md measures, where an operator can see it.
struct uring_stats {
    core::counter replies_batched = 0;  // sends of a connection's replies queued as a busy turn's SQEs
    core::counter ring_dry = 0;         // recvs ended by -ENOBUFS: read with a syscall instead

    uring_stats& operator+=(const uring_stats& o);
};

struct reactor_stats {
    core::counter accepted = 0;  // TCP connections accepted
    // Output blocks (16 KiB, net/write_queue.hpp) in use at once, at the
    // most since the start: a figure per reactor, summed over reactors.
    core::counter write_blocks_peak = 0;
    session_stats session;
    tls_stats tls;
    uring_stats uring;
};

enum class backend_kind : std::uint8_t { epoll, uring };

class reactor {
public:
    virtual ~reactor() = default;
    // The loop, on the calling thread, until stop() and the drain are done.
    virtual void run() = 0;
    // Any thread: stop accepting, close 1001 every connection, wait for them
    // up to shutdown_timeout, then return from run().
    virtual void stop() = 0;
    // Any thread: make the loop run its wakeup hook soon (a syscall only if it sleeps).
    virtual void wake() = 0;
    // Before run() (server_options::setup_reactor is the place).
    virtual void set_wakeup_hook(wakeup_hook hook) = 0;
    // An outbound (client) connection on this loop: `fd` a non-blocking
    // socket, connected or with its connect() under way (EINPROGRESS), which
    // the reactor owns from here; `link` its bytes and protocol (borrowed
    // until on_end, started here with the reactor's pool). Its bytes move
    // through the backend's code for server connections; client_session's
    // deadlines go on the wheel; once it finished and drained, the socket is
    // closed and on_end runs (loop thread). Loop thread, or before run().
    // False (fd closed) if the backend refuses it.
    virtual bool dial(int fd, client_link& link, std::function<void()> on_end) = 0;
    virtual session& sessions() = 0;
    virtual std::string_view backend_name() const = 0;
    // Counters, from any thread: a snapshot of relaxed loads (never a lock,
    // never a wait on the loop); exact once run() has returned.
    virtual reactor_stats stats() const = 0;
};

// A reactor serving `listen_fd` (it takes ownership). kind == uring falls
// back to epoll where io_uring is unavailable, with one log line per process.
std::unique_ptr<reactor> make_reactor(backend_kind kind, int listen_fd, const reactor_options& ro,
                                      const session_options& so, session_shared& shared,
                                      std::unique_ptr<message_handler> handler);

}  // namespace wsring::net
