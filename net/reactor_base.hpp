// What every backend's loop has in common, written once: the loop itself
// (six phases, docs/reactors.md), the timer phase, the cross-thread wake-up
// (announce sleep, drain once per turn), the flush list, the shutdown walk,
// the connection slab, the stats, and outbound (client) connections
// (dial: the same slots and byte paths, their protocol a client_link's).
// A backend derives from it and supplies only the byte-moving: how to wait,
// how to read, how to send, how to close (epoll: net/epoll_reactor.cpp,
// io_uring: net/uring_reactor.cpp).
// Read next: net/epoll_reactor.hpp, then net/uring_reactor.hpp.
#pragma once
#include <sys/socket.h>  // MSG_MORE

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/consumer_wakeup.hpp"
#include "core/timer_wheel.hpp"
#include "net/connection.hpp"
#include "net/reactor.hpp"
#include "net/session.hpp"
#include "net/tls_layer.hpp"
#include "net/transport.hpp"
#include "net/write_queue.hpp"

namespace wsring::net {

class reactor_base : public reactor, protected transport {
public:
    reactor_base(int listen_fd, const reactor_options& ro, const session_options& so,
                 session_shared& shared, std::unique_ptr<message_handler> handler);

    // reactor
    void run() override;
    void stop() override;
    void wake() override;
    void set_wakeup_hook(wakeup_hook hook) override { hook_ = std::move(hook); }
    bool dial(int fd, client_link& link, std::function<void()> on_end) override;
    session& sessions() override { return session_; }
    reactor_stats stats() const override {
        return {accepted_, pool_.most_in_use(), session_.stats(), tls_.stats(), {}};  // uring: its own
    }

protected:
    // transport, the part every backend shares (the flush and read lists, the
    // clock, and TLS in front of the socket calls).
    void flush_soon(connection& c) override;
    void read_soon(connection& c) override;
    void shutdown_write(connection& c) final;
    void close(connection& c) final;
    core::timer_wheel& timers() override { return wheel_; }
    segment_pool& pool() override { return pool_; }
    std::size_t write_now(connection& c, const iovec* iov, int n) override;
    bool peer_address(const connection& c, ip_address& out) override;

    // ---- the backend's byte-moving, called by the loop ------------------------
    // 1 + 3: sleep_ok() before a sleep, after_wait() (phase 2) right after it.
    virtual void wait_and_dispatch(int timeout_ms) = 0;
    virtual void read_queued() = 0;                      // 3: the read_soon list
    virtual void flush(connection& c) = 0;               // 5: send c's queue
    // 3 (flush_own_replies): send c's queue now, from this call, where the
    // socket takes it; epoll's flush already is that.
    virtual void flush_now(connection& c) { flush(c); }
    virtual bool watch(connection& c) = 0;               // adopt(): start moving c's bytes
    virtual void close_listener() = 0;                   // drain: accept no more, for good
    virtual void mute_listener() = 0;                    // EMFILE: pause accepting
    virtual void resume_accepting() = 0;                 // ... the pause is over
    virtual void shutdown_socket(connection& c) = 0;     // SHUT_WR (shutdown_write, after TLS)
    virtual void close_socket(connection& c) = 0;        // close the fd (close, after TLS)
    // An operation still reads c's wire queue (io_uring: a send in flight).
    virtual bool send_in_flight(const connection&) const { return false; }

    // ---- shared pieces of the phases, for the backend ------------------------
    int wait_timeout() const;  // 1: ms phase 1 may sleep (0: work carried over, -1: forever)
    // 1: announces the sleep and re-checks cross-thread work; false: do not sleep.
    bool sleep_ok();
    // 2: right after the wait returns, whatever ended it, and before the
    // first event is dispatched: ends the announced sleep (slept: sleep_ok()
    // said yes), reads the clock and runs the timers due by now. Every timer
    // armed while dispatching this turn's events counts from this time.
    void after_wait(bool slept);
    void adopt(int fd);        // 3: a new connection (closes fd if watch() refuses)
    void pause_accepting();    // 3: out of descriptors

    // ---- the bytes of a connection, through TLS where it speaks it -----------
    // 3: bytes read from the socket, to the session (decrypted first for wss://).
    void deliver(connection& c, std::span<std::byte> in) {
        if (c.state == conn_state::outbound) outbound_deliver(c, in);
        else if (c.tls) tls_.deliver(c, in);
        else session_.on_data(c, in);
    }
    // 3: the peer's EOF (err 0) or a socket error (-errno).
    void deliver_eof(connection& c, int err) {
        if (c.state == conn_state::outbound) return outbound_eof(c, err);
        if (c.tls) tls_.deliver_eof(c);
        session_.on_peer_closed(c, err);
    }
    // 5: a send failed (EPIPE, ECONNRESET): the connection is gone.
    void send_failed(connection& c, int err) {
        if (c.state == conn_state::outbound) return outbound_eof(c, err);
        session_.on_peer_closed(c, err);
    }
    // 3: one recv of c into the reactor's receive buffer, handed over like
    // any read (then c's replies leave at once, flush_own_replies). Returns
    // the bytes read (> 0), 0 when none were waiting (EAGAIN), or -1 when
    // the read side ended (EOF or an error, delivered). epoll reads every
    // connection this way; io_uring one its provided-buffer ring ran dry for.
    // At most `most` bytes, and never more than the receive buffer's size.
    ssize_t read_once(connection& c, std::size_t most = SIZE_MAX);
    // 3, read_soon list: decrypted bytes a paused session left in the stream
    // (no new bytes, so no readiness edge or completion would bring them).
    void deliver_buffered(connection& c) {
        if (c.tls && c.tls->has_buffered_input()) tls_.deliver(c, {});
    }
    // 5: the queue whose bytes go on the wire: c.out, or for wss:// the
    // records sealed from it (wire() seals first; wire_queue() only looks).
    write_queue& wire(connection& c) {
        if (c.state == conn_state::outbound) return outbound_wire(c, true);
        return c.tls ? tls_.seal(c) : c.out;
    }
    // 5: MSG_MORE for a draining plaintext connection's sends: its FIN
    // (close or SHUT_WR) follows its last byte within the turn, and the
    // kernel then puts the FIN on the segment still holding those bytes
    // (tcp_send_fin) instead of sending a segment of its own. One packet,
    // one ACK and one wake-up of the peer fewer per close handshake. A
    // send cut short keeps at most a part-segment corked until the next
    // send or the FIN. (wss://: left out, its close_notify goes between.)
    static int send_flags(const connection& c) {
        return c.state == conn_state::draining && !c.tls ? MSG_MORE : 0;
    }
    write_queue& wire_queue(connection& c) {
        if (c.state == conn_state::outbound) return outbound_wire(c, false);
        return c.tls ? c.tls->wire() : c.out;
    }
    // 5: after a send from the wire queue (or when it was empty).
    void sent(connection& c);
    // 3, right after c's bytes were handled: when c's replies are the newest
    // entry on the flush list, send them now (flush_now) instead of in
    // phase 5. See reactor_base.cpp.
    void flush_own_replies(connection& c);
    // flush_own_replies' first half: whether c's replies are the newest entry
    // on the flush list (and may leave), which takes them off it.
    bool take_own_replies(connection& c);
    // A blocking-free gather write of c's wire queue, until it is drained
    // or the socket is full; `failed` was handed to the session already.
    flush_status send_queue(connection& c);

    reactor_options ro_;
    // The receive buffer (ro_.recv_buffer bytes): untouched pages cost no RSS.
    std::unique_ptr<std::byte[]> recv_buf_;
    core::consumer_wakeup wakeup_;  // eventfd + announce-sleep flag
    int listen_fd_ = -1;
    bool draining_ = false;  // stop() seen: listener closed, closes sent

    core::timer_wheel wheel_;
    segment_pool pool_;  // before conns_: queues give blocks back on destruction
    connection_pool conns_;
    std::unique_ptr<message_handler> handler_;
    session session_;
    tls_layer tls_;

    connection* reads_ = nullptr;      // to read next turn (through next_read)
    std::vector<connection*> closed_;  // to recycle at the end of the turn
    // io flags that keep a closed slot from recycling (epoll: io_read_queued;
    // io_uring adds its in-flight bits: a CQE may still name the slot).
    std::uint8_t io_busy_ = io_read_queued;

private:
    // ---- outbound connections (dial): a client_link per slot, few -----------
    struct outbound {
        connection* c;
        client_link* link;
        std::function<void()> on_end;
    };
    outbound* outbound_of(const connection& c);
    bool outbound_start(connection& c);  // dial's, or run()'s for one dialed before
    void outbound_deliver(connection& c, std::span<std::byte> in);
    void outbound_eof(connection& c, int err);
    write_queue& outbound_wire(connection& c, bool fill);
    void outbound_step(connection& c);   // after any input, timer or send
    void outbound_close(connection& c);  // finished (or the reactor stops)
    void outbound_all();                 // 4: commands the hook handed to sessions

    void run_timers();  // 2: read the clock, fire what is due
    void on_reactor_timer(core::timer_node& n);
    void run_cross_thread();  // 4
    void begin_drain();
    void flush_all();       // 5
    void recycle_closed();  // 6

    std::chrono::steady_clock::time_point now() const {
        return ro_.clock ? ro_.clock() : std::chrono::steady_clock::now();
    }
    std::chrono::steady_clock::time_point start_;  // tick 0 of the wheel
    std::chrono::steady_clock::duration last_pool_trim_{};  // since start_
    wakeup_hook hook_;
    std::atomic<bool> stop_requested_{false};
    // Set by wake(): "run the hook", seen even if we were not asleep yet.
    alignas(64) std::atomic<bool> woken_{false};
    bool drain_expired_ = false;  // shutdown_timeout passed: force-close the rest
    core::timer_node accept_timer_;  // retry accept after EMFILE
    core::timer_node drain_timer_;   // the shutdown deadline
    connection* dirty_ = nullptr;    // to flush this turn (through next_dirty)
    core::counter accepted_;  // written by the loop, read by stats() from anywhere
    bool accept_error_logged_ = false;
    std::vector<outbound> outbound_;  // the dialed connections (a client has one)
    bool running_ = false;            // inside run(): the backend can watch a socket
};

}  // namespace wsring::net
