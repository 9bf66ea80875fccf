// The seam between the session logic and a backend, in the session's
// direction: what a session may ask of whatever moves its bytes. The other
// direction is session's on_* functions (on_data, on_flushed, on_peer_closed,
// on_timer), which a backend calls. Readiness (epoll) and completion
// (io_uring) backends both sit behind this: neither side ever sees an fd
// event or a completion. docs/reactors.md draws the two directions.
// Read next: net/session.hpp.
#pragma once
#include <sys/uio.h>

#include <cstddef>

#include "core/timer_wheel.hpp"
#include "net/write_queue.hpp"

namespace wsring::net {

struct connection;
struct ip_address;

class transport {
public:
    // `c` has queued output: send it at this turn's flush (idempotent; a
    // backend marks the connection io_dirty so the session can skip the call).
    virtual void flush_soon(connection& c) = 0;
    // Reading `c` was paused and may resume: there may be unread input
    // already (no new readiness edge will come), so read it soon.
    virtual void read_soon(connection& c) = 0;
    // Send `iov` at once, ahead of this turn's flush, for a connection with
    // nothing queued (so nothing can be overtaken): how many bytes the socket
    // took, 0 when it took none or the backend cannot (wss://, a send in
    // flight). An error is left for the flush to find. The caller queues
    // what is left. (A large frame's payload then goes from the receive
    // buffer to the socket without being copied into the queue.)
    virtual std::size_t write_now(connection&, const iovec*, int) { return 0; }
    // Send FIN after the queue (already empty) — SHUT_WR; keep reading.
    virtual void shutdown_write(connection& c) = 0;
    // Close the socket now. The session has released its state first; the
    // backend recycles the slot at the end of the loop turn.
    virtual void close(connection& c) = 0;

    // The reactor's timer wheel (its clock: now() is this turn's tick) and
    // output block pool.
    virtual core::timer_wheel& timers() = 0;
    virtual segment_pool& pool() = 0;

    // The address `c`'s socket is connected from (getpeername), for
    // per-address limits; false when unknown. Asked once per handshake, and
    // only when those limits are on.
    virtual bool peer_address(const connection&, ip_address&) { return false; }

protected:
    ~transport() = default;
};

}  // namespace wsring::net
