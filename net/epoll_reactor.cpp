// The epoll loop. Registration: a connection is added once, edge-triggered,
// for EPOLLIN | EPOLLOUT | EPOLLRDHUP, and never modified — backpressure is
// "don't read", a full socket is "wait for the next EPOLLOUT edge", so the
// steady state makes no epoll_ctl calls at all. The listener and the wakeup
// eventfd are level-triggered: an accept batch cut short is reported again.
//
// epoll_event.data: a connection* for connections (never below 4096), or
// one of the two small tags below. A connection closed earlier in the same
// turn may still have an event in the batch: its slot is recycled only at
// the end of the turn, and an event for a closed slot is ignored.
#include "net/epoll_reactor.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "net/socket.hpp"

namespace wsring::net {

namespace {

constexpr std::uint64_t tag_listener = 1;
constexpr std::uint64_t tag_wakeup = 2;

[[noreturn]] void die(const char* what) {
    // A poller that fails for real leaves nothing to serve with.
    std::fprintf(stderr, "ws-server: %s: %s\n", what, std::strerror(errno));
    std::abort();
}

core::tick_t to_ticks(milliseconds d, milliseconds tick) {
    return static_cast<core::tick_t>(std::max<std::int64_t>(d.count(), 0) / tick.count()) + 1;
}

}  // namespace

epoll_reactor::epoll_reactor(int listen_fd, const reactor_options& ro, const session_options& so,
                             session_shared& shared, std::unique_ptr<message_handler> handler)
    : ro_(ro),
      start_(std::chrono::steady_clock::now()),
      listen_fd_(listen_fd),
      wheel_(ro.wheel_slots),
      conns_(proto::decoder_limits{.max_message = so.max_message}),
      handler_(std::move(handler)),
      session_(so, ro.tick, *this, *handler_, shared),
      rbuf_(std::make_unique_for_overwrite<std::byte[]>(ro.recv_buffer)),
      events_(static_cast<std::size_t>(ro.max_events)) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) die("epoll_create1");
    epoll_add(listen_fd_, EPOLLIN, tag_listener);
    epoll_add(wakeup_.fd(), EPOLLIN, tag_wakeup);
}

epoll_reactor::~epoll_reactor() {
    // After run() every connection is closed; without run() there are none.
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (epfd_ >= 0) ::close(epfd_);
}

void epoll_reactor::epoll_add(int fd, std::uint32_t events, std::uint64_t data) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = data;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl(ADD)");
}

void epoll_reactor::stop() {
    // seq_cst store, partner: the load after announce_sleep() in
    // wait_and_dispatch(); notify() kicks the eventfd only if we sleep.
    stop_requested_.store(true);
    wakeup_.notify();
}

void epoll_reactor::wake() {
    // Written only when clear (at most once per loop turn per waker), so a
    // busy reactor's line is not bounced by every publish. release, partner:
    // the acquire exchange in run_cross_thread(); the seq_cst fences of
    // notify() and announce_sleep() order it against our sleep.
    if (!woken_.load(std::memory_order_relaxed)) woken_.store(true, std::memory_order_release);
    wakeup_.notify();
}

// ---- the loop --------------------------------------------------------------------

void epoll_reactor::run() {
    while (!(draining_ && conns_.live() == 0)) {
        run_timers();                        // 1
        wait_and_dispatch(wait_timeout());   // 2, 3
        read_queued();                       // 3 (reads carried over)
        run_cross_thread();                  // 4
        flush_all();                         // 5
        recycle_closed();                    // 6
        if (drain_expired_) {
            // The shutdown deadline passed: whoever is left is closed now.
            conns_.for_each_live([&](connection& c) { session_.abort(c); });
            flush_all();
            recycle_closed();
        }
    }
}

// Phase 1: advance the wheel to the current tick and fire what is due.
void epoll_reactor::run_timers() {
    auto elapsed = std::chrono::steady_clock::now() - start_;
    auto now = static_cast<core::tick_t>(elapsed / ro_.tick);
    wheel_.advance(now, [this](core::timer_node& n) { on_reactor_timer(n); });
}

void epoll_reactor::on_reactor_timer(core::timer_node& n) {
    if (&n == &accept_timer_) {
        // EMFILE may have cleared (connections closed): listen again.
        if (listen_fd_ >= 0) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = tag_listener;
            ::epoll_ctl(epfd_, EPOLL_CTL_MOD, listen_fd_, &ev);
        }
        return;
    }
    if (&n == &drain_timer_) {
        drain_expired_ = true;
        return;
    }
    session_.on_timer(static_cast<connection&>(n));
}

// Phase 2's budget: no sleep with work carried over; else until the next
// non-empty timer slot; else forever (a wake() or an event ends it).
int epoll_reactor::wait_timeout() const {
    if (reads_ || dirty_ || drain_expired_) return 0;
    auto next = wheel_.ticks_to_next();
    if (!next) return -1;
    auto due = start_ + ro_.tick * static_cast<std::int64_t>(wheel_.now() + *next);
    auto left = std::chrono::ceil<milliseconds>(due - std::chrono::steady_clock::now());
    return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60000));
}

// Phases 2 and 3: sleep in epoll_wait, then dispatch every event.
void epoll_reactor::wait_and_dispatch(int timeout) {
    bool sleeps = timeout != 0;
    if (sleeps) {
        // Announce the sleep, then re-check for cross-thread work: a producer
        // either sees the flag and kicks the eventfd, or we see its work here.
        wakeup_.announce_sleep();
        if (stop_requested_.load() || woken_.load(std::memory_order_relaxed) ||
            (hook_.pending && hook_.pending()))
            timeout = 0;
    }
    int n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout);
    if (sleeps) wakeup_.end_sleep();
    if (n < 0) {
        if (errno == EINTR) return;
        die("epoll_wait");
    }
    for (int i = 0; i < n; ++i) on_event(events_[static_cast<std::size_t>(i)]);
}

void epoll_reactor::on_event(const epoll_event& ev) {
    if (ev.data.u64 == tag_listener) return accept_some();
    if (ev.data.u64 == tag_wakeup) return wakeup_.drain();  // the work itself runs in phase 4
    connection& c = *static_cast<connection*>(ev.data.ptr);
    if (c.state == conn_state::closed) return;  // closed earlier this turn
    if (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c.io |= io_hup;
    if ((ev.events & EPOLLOUT) && (c.io & io_write_blocked)) {
        // The socket has room again: resume the flush in phase 5.
        c.io &= ~io_write_blocked;
        flush_soon(c);
    }
    if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read(c);
}

// Phase 3, the listener: up to accept_batch connections per turn, so a
// connection storm cannot starve the connections already being served.
void epoll_reactor::accept_some() {
    for (int i = 0; i < ro_.accept_batch; ++i) {
        int fd = accept_nonblocking(listen_fd_);
        if (fd >= 0) {
            adopt(fd);
            continue;
        }
        if (fd == -EAGAIN || fd == -EWOULDBLOCK) return;
        if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM)
            return pause_accepting();
        // ECONNABORTED, EPERM, EPROTO ...: that one connection is gone; go on.
    }
}

void epoll_reactor::pause_accepting() {
    // Out of descriptors: the pending connection stays in the backlog, and a
    // level-triggered listener would wake us forever. Mute it for ~100 ms.
    if (!accept_error_logged_) {
        std::fprintf(stderr, "ws-server: accept: out of file descriptors (raise ulimit -n); "
                             "pausing accepts\n");
        accept_error_logged_ = true;
    }
    epoll_event ev{};
    ev.data.u64 = tag_listener;
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, listen_fd_, &ev);
    wheel_.schedule_in(accept_timer_, to_ticks(milliseconds(100), ro_.tick));
}

void epoll_reactor::adopt(int fd) {
    // TCP_NODELAY came with the socket: the listener has it (net/socket.cpp).
    connection* c = conns_.acquire();
    c->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        ::close(fd);  // e.g. ENOMEM: refuse this one connection, keep serving
        c->state = conn_state::closed;
        conns_.release(c);
        return;
    }
    ++accepted_;
    session_.on_accept(*c);
}

// Phase 3, one connection: one recv into the shared buffer, parsed in place.
// A full buffer means more may be waiting: read again next turn (after the
// others had theirs). A short read drained the socket, so the next edge will
// announce new bytes — unless a hang-up was seen, then read on to the EOF.
void epoll_reactor::read(connection& c) {
    while (session_.wants_read(c) && !(c.io & io_eof)) {
        ssize_t n = recv_some(c.fd, rbuf_.get(), ro_.recv_buffer);
        if (n > 0) {
            session_.on_data(c, {rbuf_.get(), static_cast<std::size_t>(n)});
            if (static_cast<std::size_t>(n) == ro_.recv_buffer) return read_soon(c);
            if (!(c.io & io_hup)) return;
            continue;
        }
        if (n == 0) {
            c.io |= io_eof;
            return session_.on_peer_closed(c, 0);
        }
        if (n == -EAGAIN || n == -EWOULDBLOCK) return;
        return session_.on_peer_closed(c, static_cast<int>(n));  // ECONNRESET, ...
    }
}

void epoll_reactor::read_queued() {
    connection* list = std::exchange(reads_, nullptr);
    while (list) {
        connection& c = *list;
        list = c.next_read;
        c.next_read = nullptr;
        c.io &= ~io_read_queued;
        read(c);
    }
}

// Phase 4: cross-thread work (the broadcast ring), and stop requests.
void epoll_reactor::run_cross_thread() {
    if (woken_.load(std::memory_order_relaxed)) woken_.exchange(false, std::memory_order_acquire);
    if (hook_.drain) hook_.drain();
    if (!draining_ && stop_requested_.load(std::memory_order_relaxed)) begin_drain();
}

void epoll_reactor::begin_drain() {
    draining_ = true;
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
    ::close(listen_fd_);  // new connections now go to no one (or a sibling still serving)
    listen_fd_ = -1;
    wheel_.cancel(accept_timer_);
    conns_.for_each_live([&](connection& c) { session_.begin_shutdown(c); });
    wheel_.schedule_in(drain_timer_, to_ticks(ro_.shutdown_timeout, ro_.tick));
}

// Phase 5: one gather write per dirty connection (corking: every frame
// queued this turn leaves in as few syscalls as the socket allows).
void epoll_reactor::flush_all() {
    while (connection* c = dirty_) {
        dirty_ = c->next_dirty;
        c->next_dirty = nullptr;
        c->io &= ~io_dirty;
        if (c->state == conn_state::closed || (c->io & io_write_blocked)) continue;
        flush(*c);
    }
}

void epoll_reactor::flush(connection& c) {
    int err = 0;
    auto sent = c.out.flush(
        pool_, [fd = c.fd](const iovec* iov, int n) { return send_iov(fd, iov, n); }, err);
    if (sent == flush_status::failed) return session_.on_peer_closed(c, -err);  // EPIPE, ECONNRESET
    if (sent == flush_status::blocked) c.io |= io_write_blocked;  // EPOLLOUT edge resumes it
    session_.on_flushed(c);
}

// Phase 6: slots closed this turn go back to the slab — except one still on
// the read-again list, which goes next turn, once that list let go of it.
void epoll_reactor::recycle_closed() {
    std::size_t keep = 0;
    for (connection* c : closed_) {
        if (c->io & io_read_queued) closed_[keep++] = c;
        else conns_.release(c);
    }
    closed_.resize(keep);
}

// ---- transport ---------------------------------------------------------------------

void epoll_reactor::flush_soon(connection& c) {
    if (c.io & io_dirty) return;
    c.io |= io_dirty;
    c.next_dirty = dirty_;
    dirty_ = &c;
}

void epoll_reactor::read_soon(connection& c) {
    if (c.io & io_read_queued) return;
    c.io |= io_read_queued;
    c.next_read = reads_;
    reads_ = &c;
}

void epoll_reactor::shutdown_write(connection& c) { ::shutdown(c.fd, SHUT_WR); }

void epoll_reactor::close(connection& c) {
    ::close(c.fd);  // also removes it from the epoll set (no dup'd descriptors)
    c.fd = -1;
    closed_.push_back(&c);
}

}  // namespace wsring::net
