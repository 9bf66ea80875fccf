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

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "net/log.hpp"
#include "net/socket.hpp"

namespace wsring::net {

namespace {

constexpr std::uint64_t tag_listener = 1;
constexpr std::uint64_t tag_wakeup = 2;

[[noreturn]] void die(const char* what) {
    // A poller that fails for real leaves nothing to serve with.
    log(log_level::error, "poller_failed", "%s: %s", what, std::strerror(errno));
    std::abort();
}

}  // namespace

epoll_reactor::epoll_reactor(int listen_fd, const reactor_options& ro, const session_options& so,
                             session_shared& shared, std::unique_ptr<message_handler> handler)
    : reactor_base(listen_fd, ro, so, shared, std::move(handler)),
      events_(static_cast<std::size_t>(ro.max_events)) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) die("epoll_create1");
    if (listen_fd_ >= 0) epoll_add(listen_fd_, EPOLLIN, tag_listener);  // -1: a client's loop
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

// ---- the loop (reactor_base::run calls these) -------------------------------------

// Phases 1 to 3: sleep in epoll_wait, take the time (and run the timers),
// then dispatch every event.
void epoll_reactor::wait_and_dispatch(int timeout) {
    bool sleeps = timeout != 0;
    if (sleeps && !sleep_ok()) timeout = 0;
    int n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout);
    int err = errno;
    after_wait(sleeps);
    if (n < 0) {
        if (err == EINTR) return;
        errno = err;
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

bool epoll_reactor::watch(connection& c) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &c;
    return ::epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) == 0;  // ENOMEM: refused
}

// Phase 3, one connection: one recv into the shared buffer, parsed in place.
// A full buffer means more may be waiting: read again next turn (after the
// others had theirs). A short read drained the socket, so the next edge will
// announce new bytes — unless a hang-up was seen, then read on to the EOF.
void epoll_reactor::read(connection& c) {
    while (session_.wants_read(c) && !(c.io & io_eof)) {
        ssize_t n = read_once(c);
        if (n <= 0) return;  // nothing waiting, or the read side ended
        if (static_cast<std::size_t>(n) == ro_.recv_buffer) return read_soon(c);
        if (!(c.io & io_hup)) return;
    }
}

void epoll_reactor::read_queued() {
    connection* list = std::exchange(reads_, nullptr);
    while (list) {
        connection& c = *list;
        list = c.next_read;
        c.next_read = nullptr;
        c.io &= ~io_read_queued;
        deliver_buffered(c);  // wss://: what a paused session left decrypted
        read(c);
    }
}

// Phase 5, one connection: gather writes until drained or the socket is full.
void epoll_reactor::flush(connection& c) {
    flush_status status = send_queue(c);
    if (status == flush_status::failed) return;
    if (status == flush_status::blocked) c.io |= io_write_blocked;  // EPOLLOUT edge resumes it
    sent(c);
}

void epoll_reactor::close_listener() {
    if (listen_fd_ < 0) return;
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
    ::close(listen_fd_);
    listen_fd_ = -1;
}

// Out of descriptors: the level-triggered listener would wake us forever
// for the connection left in the backlog. Mute it until resume_accepting().
void epoll_reactor::mute_listener() {
    epoll_event ev{};
    ev.data.u64 = tag_listener;
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, listen_fd_, &ev);
}

void epoll_reactor::resume_accepting() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag_listener;
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, listen_fd_, &ev);
}

// ---- transport ---------------------------------------------------------------------

void epoll_reactor::shutdown_socket(connection& c) { ::shutdown(c.fd, SHUT_WR); }

void epoll_reactor::close_socket(connection& c) {
    ::close(c.fd);  // also removes it from the epoll set (no dup'd descriptors)
    c.fd = -1;
    closed_.push_back(&c);
}

}  // namespace wsring::net
