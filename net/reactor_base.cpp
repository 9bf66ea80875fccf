// The loop and its backend-independent phases. The order of a turn:
//   1 wait  2 clock + timers  3 reads (and accepts)  4 cross-thread work
//   5 flush writes  6 recycle slots
// Phases 1 and 3 (wait_and_dispatch, read_queued) and the send of phase 5
// (flush) are the backend's; everything else is here, so both backends run
// the same timers, the same wake-up protocol and the same shutdown.
//
// Why the clock is read after the wait and not before it: a wait can last
// any time (forever when no timer is armed). A timer armed while handling
// what woke us must count from when we woke; counted from before the sleep,
// a 10 s handshake deadline armed after 12 s of quiet was already overdue,
// and every connection accepted after a quiet spell was dropped.
#include "net/reactor_base.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "net/address_limits.hpp"
#include "net/client_link.hpp"
#include "net/log.hpp"
#include "net/socket.hpp"

namespace wsring::net {

namespace {

core::tick_t to_ticks(milliseconds d, milliseconds tick) {
    return static_cast<core::tick_t>(std::max<std::int64_t>(d.count(), 0) / tick.count()) + 1;
}

}  // namespace

reactor_base::reactor_base(int listen_fd, const reactor_options& ro, const session_options& so,
                           session_shared& shared, std::unique_ptr<message_handler> handler)
    : ro_(ro),
      recv_buf_(std::make_unique_for_overwrite<std::byte[]>(ro.recv_buffer)),
      listen_fd_(listen_fd),
      wheel_(ro.wheel_slots),
      conns_(proto::decoder_limits{.max_message = so.max_message}),
      handler_(std::move(handler)),
      session_(so, ro.tick, *this, *handler_, shared),
      tls_(ro.tls, session_, *this),
      start_(now()) {}

// The rest of a large frame already begun is read to its place in the
// decoder's message and what follows it into the receive buffer, in one
// readv (session::receive_room): the frame's bytes are then not copied out
// of the receive buffer into the message. 10 conns × 2 × 1 MiB echo on
// epoll: +12 % messages per server-CPU-second (median of 7 paired rounds).
ssize_t reactor_base::read_once(connection& c, std::size_t most) {
    // At most recv_buffer bytes either way: a connection's read is no
    // longer, and the others no later, than without the direct part (with
    // the room uncapped, that echo's p99 rose from 23-28 to 30-37 ms).
    const std::size_t limit = std::min(most, ro_.recv_buffer);
    std::span<std::byte> room = session_.receive_room(c);
    room = room.first(std::min(room.size(), limit));
    ssize_t n;
    if (room.empty()) {
        n = recv_some(c.fd, recv_buf_.get(), limit);
    } else {
        const iovec iov[2] = {{room.data(), room.size()}, {recv_buf_.get(), limit - room.size()}};
        n = recv_iov(c.fd, iov, iov[1].iov_len > 0 ? 2 : 1);
    }
    if (n > 0) {
        auto got = static_cast<std::size_t>(n);
        std::size_t direct = std::min(got, room.size());
        if (direct > 0) deliver(c, room.first(direct));
        if (got > direct) deliver(c, {recv_buf_.get(), got - direct});
        flush_own_replies(c);  // while its write block is hot
        return n;
    }
    if (n == -EAGAIN || n == -EWOULDBLOCK) return 0;
    if (n == 0) c.io |= io_eof;
    deliver_eof(c, static_cast<int>(n));  // 0: EOF; ECONNRESET, ...
    return -1;
}

void reactor_base::stop() {
    // seq_cst store, partner: the load in sleep_ok(); notify() kicks the
    // eventfd only if we sleep.
    stop_requested_.store(true);
    wakeup_.notify();
}

void reactor_base::wake() {
    // Written only when clear (at most once per loop turn per waker), so a
    // busy reactor's line is not bounced by every publish. release, partner:
    // the acquire exchange in run_cross_thread(); the seq_cst fences of
    // notify() and announce_sleep() order it against our sleep.
    if (!woken_.load(std::memory_order_relaxed)) woken_.store(true, std::memory_order_release);
    wakeup_.notify();
}

// ---- the loop --------------------------------------------------------------------

void reactor_base::run() {
    running_ = true;
    for (std::size_t i = outbound_.size(); i-- > 0;)  // dialed before run()
        if (i < outbound_.size()) outbound_start(*outbound_[i].c);
    while (!(draining_ && conns_.live() == 0)) {
        wait_and_dispatch(wait_timeout());   // 1, 2 (after_wait), 3
        read_queued();                       // 3 (reads carried over)
        run_cross_thread();                  // 4
        flush_all();                         // 5
        recycle_closed();                    // 6
        if (drain_expired_) {
            // The shutdown deadline passed: whoever is left is closed now.
            conns_.for_each_live([&](connection& c) {
                if (c.state == conn_state::outbound) outbound_close(c);
                else session_.abort(c);
            });
            flush_all();
            recycle_closed();
        }
    }
    running_ = false;
}

// Phase 2: advance the wheel to the current tick and fire what is due. The
// one clock read of the turn: wheel_.now() is "now" until the next wait.
void reactor_base::run_timers() {
    auto elapsed = now() - start_;
    auto now = static_cast<core::tick_t>(elapsed / ro_.tick);
    wheel_.advance(now, [this](core::timer_node& n) { on_reactor_timer(n); });
    // The write blocks' pool follows the last second's peak (write_queue.hpp).
    // No timer of its own: an idle reactor is not woken just to trim.
    if (elapsed - last_pool_trim_ >= std::chrono::seconds(1)) {
        last_pool_trim_ = elapsed;
        pool_.trim();
    }
}

void reactor_base::on_reactor_timer(core::timer_node& n) {
    if (&n == &accept_timer_) {
        // EMFILE may have cleared (connections closed): listen again.
        if (listen_fd_ >= 0) resume_accepting();
        return;
    }
    if (&n == &drain_timer_) {
        drain_expired_ = true;
        return;
    }
    auto& c = static_cast<connection&>(n);
    if (c.state == conn_state::outbound) {
        outbound_of(c)->link->session().tick(now());
        return outbound_step(c);
    }
    session_.on_timer(c);
}

// Phase 1's budget: no sleep with work carried over; else until the next
// non-empty timer slot; else forever (a wake() or an event ends it).
int reactor_base::wait_timeout() const {
    if (reads_ || dirty_ || drain_expired_) return 0;
    // Write blocks kept above the pool's floor after a burst: wake within a
    // second to give them back (run_timers trims once a second), so a
    // reactor that falls quiet after 10,000 upgrades does not keep their
    // blocks for good. At most two such wake-ups, then it sleeps on.
    const int trim_due = pool_.holds_spare() ? 1000 : -1;
    auto next = wheel_.ticks_to_next();
    if (!next) return trim_due;
    auto due = start_ + ro_.tick * static_cast<std::int64_t>(wheel_.now() + *next);
    auto left = std::chrono::ceil<milliseconds>(due - now());
    int timers = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60000));
    return trim_due < 0 ? timers : std::min(timers, trim_due);
}

// Phase 1, before a sleep: announce it, then re-check for cross-thread work:
// a producer either sees the flag and kicks the eventfd, or we see its work
// here. After the wait, whatever ended it, the backend calls after_wait().
bool reactor_base::sleep_ok() {
    wakeup_.announce_sleep();
    return !(stop_requested_.load() || woken_.load(std::memory_order_relaxed) ||
             (hook_.pending && hook_.pending()));
}

void reactor_base::after_wait(bool slept) {
    if (slept) wakeup_.end_sleep();
    run_timers();
}

// Phase 3, the listener's part shared by the backends.
void reactor_base::adopt(int fd) {
    // TCP_NODELAY came with the socket: the listener has it (net/socket.cpp).
    connection* c = conns_.acquire();
    c->fd = fd;
    if ((tls_.enabled() && !tls_.attach(*c)) || !watch(*c)) {
        ::close(fd);  // e.g. ENOMEM: refuse this one connection, keep serving
        c->state = conn_state::closed;
        if (c->tls) tls_.detach(*c);
        conns_.release(c);
        return;
    }
    ++accepted_;
    session_.on_accept(*c);
}

void reactor_base::pause_accepting() {
    // Out of descriptors: the pending connection stays in the backlog, and
    // the listener would report it again at once. Mute it for ~100 ms.
    if (!accept_error_logged_) {
        log(log_level::warn, "accept_paused",
            "accept: out of file descriptors (raise ulimit -n); pausing accepts");
        accept_error_logged_ = true;
    }
    mute_listener();
    wheel_.schedule_in(accept_timer_, to_ticks(milliseconds(100), ro_.tick));
}

// Phase 4: cross-thread work (the broadcast ring), and stop requests.
void reactor_base::run_cross_thread() {
    if (woken_.load(std::memory_order_relaxed)) woken_.exchange(false, std::memory_order_acquire);
    if (hook_.drain) hook_.drain();
    outbound_all();
    if (!draining_ && stop_requested_.load(std::memory_order_relaxed)) begin_drain();
}

void reactor_base::begin_drain() {
    draining_ = true;
    close_listener();  // new connections now go to no one (or a sibling still serving)
    wheel_.cancel(accept_timer_);
    // A client connection has no goodbye of its own to send here: stop()
    // means "drop it now" (ws_client::stop).
    conns_.for_each_live([&](connection& c) {
        if (c.state == conn_state::outbound) outbound_close(c);
        else session_.begin_shutdown(c);
    });
    wheel_.schedule_in(drain_timer_, to_ticks(ro_.shutdown_timeout, ro_.tick));
}

// Phase 5: one gather write per dirty connection (corking: every frame
// queued this turn leaves in as few syscalls as the socket allows).
void reactor_base::flush_all() {
    while (connection* c = dirty_) {
        dirty_ = c->next_dirty;
        c->next_dirty = nullptr;
        c->io &= ~io_dirty;
        if (c->state == conn_state::closed || (c->io & io_write_blocked)) continue;
        flush(*c);
    }
}

// Phase 6: slots closed this turn go back to the slab — except one the
// backend still holds (on the read-again list, or with an operation in
// flight), which goes at a later turn, once it let go.
void reactor_base::recycle_closed() {
    std::size_t keep = 0;
    for (connection* c : closed_) {
        if (c->io & io_busy_) {
            closed_[keep++] = c;
            continue;
        }
        if (c->tls) tls_.detach(*c);  // its ciphertext is no operation's buffer any more
        conns_.release(c);
    }
    closed_.resize(keep);
}

// ---- transport ---------------------------------------------------------------------

// Plaintext only (TLS must seal the bytes first), and only with nothing
// ahead of them: an empty queue and no send in flight (io_uring). A
// synchronous send on the io_uring backend too: the bytes must leave before
// the receive buffer they point into is reused.
std::size_t reactor_base::write_now(connection& c, const iovec* iov, int n) {
    if (c.tls || c.state == conn_state::outbound || !c.out.empty() || send_in_flight(c) ||
        (c.io & io_write_blocked))
        return 0;
    ssize_t sent = send_iov(c.fd, iov, n);
    return sent > 0 ? static_cast<std::size_t>(sent) : 0;
}

// Phase 3's exception to phase 5. A turn that reads 1,000 connections used
// to hold 1,000 write blocks until its flush, one per connection (16 MiB of
// blocks written once each, cold in cache by the time the kernel copied
// them, and after a burst of upgrades their first pages left resident:
// 60–100 B per idle connection). Sending a connection's replies as soon
// as its read was handled gives the block back at once, so the next
// connection takes the same, still hot, block from the pool. epoll makes
// the same syscalls as before (one send per connection per turn);
// io_uring makes a synchronous send where phase 5 would have prepared a
// send SQE, and falls back to that SQE when the socket is full (or a send
// is in flight). Only when c is the newest entry on the flush list (a
// stack, so it pops in O(1)): a read that also queued to other
// connections (a publish) leaves all of them to phase 5, where io_uring
// submits their sends together; and a connection whose replies also wait
// on phase 4 (the broadcast ring) gets a second send, rare, with its
// bytes in the same order.
//
// Measured (interleaved rounds, per server-CPU-second): epoll 1,000 × 16 ×
// 1 KiB echo 2.39–2.51 M → 2.59–2.66 M, 100 × 16 × 16 B 4.42–4.46 M →
// 4.56–4.61 M; io_uring 1 KiB 2.29–2.40 M → 2.63–2.79 M (level with
// epoll), 16 B 4.70–4.75 M → 4.70–4.79 M with msgs/s +3–5 %; 64 KiB and
// connect unchanged on both; fresh idle memory at 10 k connections
// 256 → 193 B each on epoll.
void reactor_base::flush_own_replies(connection& c) {
    if (take_own_replies(c)) flush_now(c);
}

bool reactor_base::take_own_replies(connection& c) {
    if (dirty_ != &c || (c.io & io_write_blocked) || c.state == conn_state::closed) return false;
    dirty_ = c.next_dirty;
    c.next_dirty = nullptr;
    c.io &= ~io_dirty;
    return true;
}

flush_status reactor_base::send_queue(connection& c) {
    int err = 0;
    auto status = wire(c).flush(
        pool_,
        [fd = c.fd, flags = send_flags(c)](const iovec* iov, int n) { return send_iov(fd, iov, n, flags); },
        err);
    if (status == flush_status::failed) send_failed(c, -err);  // EPIPE, ECONNRESET
    return status;
}

void reactor_base::flush_soon(connection& c) {
    if (c.io & io_dirty) return;
    c.io |= io_dirty;
    c.next_dirty = dirty_;
    dirty_ = &c;
}

// The session asks for a FIN: for wss:// after our close_notify (RFC 8446
// §6.1), which may take a send; sent() then shuts the socket.
void reactor_base::shutdown_write(connection& c) {
    if (!c.tls || tls_.shutdown_write(c)) shutdown_socket(c);
}

// The session is done with c. A TLS connection's last records (our
// close_notify after a clean end, or the alert OpenSSL queued for a bad
// peer) get one non-blocking send if nothing else is sending: best effort,
// as the socket is about to go.
void reactor_base::close(connection& c) {
    if (c.tls) {
        tls_.on_close(c);
        if (!send_in_flight(c)) {
            iovec iov[write_queue::max_iov];
            if (std::size_t n = c.tls->wire().gather(iov, write_queue::max_iov))
                (void)send_iov(c.fd, iov, static_cast<int>(n));
        }
    }
    close_socket(c);
}

void reactor_base::sent(connection& c) {
    if (c.state == conn_state::outbound) return outbound_step(c);
    if (!c.tls) return session_.on_flushed(c);
    if (tls_.sent(c)) shutdown_socket(c);
}

// Phase 3 of the next turn reads it (the backend's read_queued()).
void reactor_base::read_soon(connection& c) {
    if (c.io & io_read_queued) return;
    c.io |= io_read_queued;
    c.next_read = reads_;
    reads_ = &c;
}

// ---- outbound connections ------------------------------------------------------------
// A dialed slot is a connection like an accepted one to the backend (the
// same recv, send, close and recycle), but its state is conn_state::outbound
// for its whole life: the few calls above that reach session.cpp test that
// one byte and come here instead, where client_link and its client_session
// take the bytes. Connect completion needs nothing special: a send on a
// socket still connecting returns EAGAIN (epoll: the EPOLLOUT edge at
// completion resumes the flush; io_uring: the send waits for writable), and a
// refused connect is an error on the read side (deliver_eof).

bool reactor_base::dial(int fd, client_link& link, std::function<void()> on_end) {
    connection* c = conns_.acquire();
    c->fd = fd;
    c->state = conn_state::outbound;
    outbound_.push_back({c, &link, std::move(on_end)});
    // Before run(), the backend may not be able to watch yet (io_uring's
    // ring lives inside run(), on the loop thread): run() starts it.
    return !running_ || outbound_start(*c);
}

// The backend watches the socket; the request (or the ClientHello) leaves at
// phase 5. A refused watch (ENOMEM) ends the session with a reason.
bool reactor_base::outbound_start(connection& c) {
    client_link& l = *outbound_of(c)->link;
    l.start(pool_, now());
    if (watch(c)) {
        outbound_step(c);
        return true;
    }
    l.session().eof(now(), "cannot watch the socket");
    auto it = std::find_if(outbound_.begin(), outbound_.end(), [&](const outbound& o) { return o.c == &c; });
    std::function<void()> on_end = std::move(it->on_end);
    outbound_.erase(it);
    ::close(c.fd);
    c.fd = -1;
    c.state = conn_state::closed;
    conns_.release(&c);
    if (on_end) on_end();
    return false;
}

reactor_base::outbound* reactor_base::outbound_of(const connection& c) {
    for (outbound& o : outbound_)
        if (o.c == &c) return &o;
    return nullptr;
}

void reactor_base::outbound_deliver(connection& c, std::span<std::byte> in) {
    outbound_of(c)->link->feed(in, now());
    outbound_step(c);
}

// The peer's EOF, a socket error or a failed send: the session hears it and
// (unless it waits for nothing more, e.g. after its close frame) finishes;
// whatever it still had queued has no one to go to then.
void reactor_base::outbound_eof(connection& c, int err) {
    client_link& l = *outbound_of(c)->link;
    l.feed_eof(err, now());
    if (l.session().finished()) return outbound_close(c);
    outbound_step(c);
}

write_queue& reactor_base::outbound_wire(connection& c, bool fill) {
    client_link& l = *outbound_of(c)->link;
    return fill ? l.wire() : l.wire_queue();
}

// After anything that may have changed the session: its output to the
// flush list, its next deadline on the wheel, and the end once it finished
// and its last bytes left (the close after §7.1.1's wait is the session's).
void reactor_base::outbound_step(connection& c) {
    if (c.state != conn_state::outbound) return;
    client_link& l = *outbound_of(c)->link;
    // Finished with bytes the socket will not take (a timeout's close frame
    // to a peer that stopped reading): they are not worth waiting for.
    const bool stuck = l.session().finished() && (c.io & io_write_blocked);
    if ((l.done() || stuck) && !send_in_flight(c)) return outbound_close(c);
    if (l.done()) return;
    if (l.has_wire_work() && !(c.io & io_write_blocked)) flush_soon(c);
    const auto due = l.session().next_deadline();
    if (due == std::chrono::steady_clock::time_point::max()) return wheel_.cancel(c);
    // Rounded up, so the session's tick() never runs before its deadline.
    const auto ticks = std::chrono::ceil<milliseconds>(due - start_) / ro_.tick + 1;
    wheel_.schedule(c, static_cast<core::tick_t>(std::max<std::int64_t>(ticks, 0)));  // past: next tick
}

void reactor_base::outbound_close(connection& c) {
    auto it = std::find_if(outbound_.begin(), outbound_.end(), [&](const outbound& o) { return o.c == &c; });
    std::function<void()> on_end = std::move(it->on_end);
    outbound_.erase(it);
    wheel_.cancel(c);
    c.state = conn_state::closed;
    close_socket(c);  // no TLS of ours on the slot: the link's queue just goes
    if (on_end) on_end();
}

void reactor_base::outbound_all() {
    for (std::size_t i = outbound_.size(); i-- > 0;)
        if (i < outbound_.size()) outbound_step(*outbound_[i].c);
}

bool reactor_base::peer_address(const connection& c, ip_address& out) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(c.fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
    if (ss.ss_family == AF_INET6) {
        std::memcpy(out.bytes.data(), &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, 16);
        return true;
    }
    if (ss.ss_family != AF_INET) return false;
    out = ip_address{};
    out.bytes[10] = out.bytes[11] = 0xff;  // ::ffff:a.b.c.d
    std::memcpy(out.bytes.data() + 12, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, 4);
    return true;
}

}  // namespace wsring::net
