// The client's attempts: one connection at a time, each on a reactor of its
// own (the server's loop and backends, epoll or io_uring: reactor::dial)
// that runs on the calling thread until the connection ends.
//
// One attempt: resolve (getaddrinfo, blocking: one client, nothing else to
// serve meanwhile) → non-blocking connect with a deadline per address (every
// address in turn, so the connect stays here) → the socket, a client_session
// and its client_link (TLS for wss://) to a fresh reactor → run() until the
// session finished and its socket closed. Commands from other threads reach
// the session in the reactor's phase 4 (its wakeup hook). Between attempts:
// backoff_.next(), waited on an eventfd so stop()/close() cut it short.
#include "net/ws_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include "net/client_link.hpp"
#include "net/message_handler.hpp"

namespace wsring::net {

namespace {

using std::chrono::milliseconds;

// Messages move from the queue into the session only while its unsent
// output is under this: a slow server backs up into the queue, where
// max_queued bounds it, not into the session's buffer.
constexpr std::size_t session_output_high = 256u << 10;

// poll()'s timeout for a deadline: rounded up, so a wake is never early and
// the loop does not spin on a 0 ms timeout just before it.
int poll_ms(std::chrono::steady_clock::time_point until) {
    if (until == std::chrono::steady_clock::time_point::max()) return -1;
    const auto left = until - std::chrono::steady_clock::now();
    if (left <= left.zero()) return 0;
    const auto ms = std::chrono::ceil<milliseconds>(left).count();
    return static_cast<int>(std::min<long long>(ms, 1'000'000));
}

// A non-blocking connect to one address, finished within `until`; the fd or -errno.
int connect_one(const addrinfo* a, std::chrono::steady_clock::time_point until) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) return -errno;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        do rc = ::poll(&p, 1, poll_ms(until));
        while (rc < 0 && errno == EINTR);
        int err = rc == 0 ? ETIMEDOUT : 0;
        socklen_t len = sizeof err;
        if (rc > 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err ? -1 : 0;
        errno = err;
    }
    if (rc < 0) {
        const int e = errno;
        ::close(fd);
        return -e;
    }
    const int one = 1;  // a message is a frame: do not let Nagle hold it
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// The reactor's server side, which a client's loop never uses (it has no listener).
class no_server final : public message_handler {
    void on_message(session&, connection&, proto::opcode, std::span<const std::byte>) override {}
};

}  // namespace

std::string ws_url::host_header() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string parse_ws_url(std::string_view text, ws_url& out) {
    std::string_view rest;
    if (text.starts_with("ws://")) {
        rest = text.substr(5);
    } else if (text.starts_with("wss://")) {
        rest = text.substr(6);
        out.tls = true;
        out.port = 443;  // RFC 6455 §3
    } else {
        return "the URL must start with ws:// or wss://";
    }
    const auto slash = rest.find_first_of("/?");
    std::string_view auth = rest.substr(0, slash);
    out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (out.path[0] == '?') out.path = "/" + out.path;
    std::string_view port;
    if (auth.starts_with("[")) {  // an IPv6 literal
        const auto end = auth.find(']');
        if (end == std::string_view::npos) return "unterminated [IPv6] host";
        out.host = std::string(auth.substr(1, end - 1));
        if (end + 1 < auth.size() && auth[end + 1] != ':') return "junk after ]";
        if (end + 1 < auth.size()) port = auth.substr(end + 2);
    } else {
        const auto colon = auth.rfind(':');
        out.host = std::string(auth.substr(0, colon));
        if (colon != std::string_view::npos) port = auth.substr(colon + 1);
    }
    if (out.host.empty()) return "no host";
    if (!port.empty()) {
        unsigned p = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
            return "bad port '" + std::string(port) + "'";
        out.port = static_cast<std::uint16_t>(p);
    }
    return {};
}

ws_client::ws_client(ws_client_options opts)
    : opts_(std::move(opts)), backoff_(opts_.backoff), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

ws_client::~ws_client() {
    if (wake_fd_ >= 0) ::close(wake_fd_);
    SSL_SESSION_free(tls_session_);
}

// What a waiting message of `bytes` costs against max_queued: its bytes and
// its entry, so a flood of empty lines is bounded too.
std::size_t ws_client::cost(std::size_t bytes) { return bytes + sizeof(command); }

// A message fits under max_queued, or goes alone (one larger than the cap
// would otherwise never be sent). Close commands always fit.
bool ws_client::has_room(std::size_t bytes) const {
    return queue_.empty() || queued_bytes_ + cost(bytes) <= opts_.max_queued;
}

bool ws_client::push(command c) {
    {
        std::lock_guard lock(mu_);
        if (c.kind == cmd::close) close_queued_ = true;
        else if (!has_room(c.data.size())) return false;
        else queued_bytes_ += cost(c.data.size());
        queue_.push_back(std::move(c));
        if (live_) live_->wake();  // phase 4 hands it to the session
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);  // full counter: already awake
    return true;
}

bool ws_client::send_binary(std::span<const std::byte> data) {
    return push({cmd::binary, std::string(reinterpret_cast<const char*>(data.data()), data.size())});
}

void ws_client::wait_for_room(std::size_t bytes) {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return ended_ || has_room(bytes); });
}

void ws_client::close(proto::close_code code, std::string reason) { push({cmd::close, std::move(reason), code}); }

void ws_client::stop() {
    stopping_ = true;
    push({cmd::close, {}, proto::close_code::going_away});
    std::lock_guard lock(mu_);
    if (live_) live_->stop();  // drops the connection (reactor_base::begin_drain)
}

void ws_client::clear_wakeup() {
    std::uint64_t n = 0;
    [[maybe_unused]] auto r = ::read(wake_fd_, &n, sizeof n);
}

// Sleeps until `until` or a command; true if woken by a close or stop().
bool ws_client::wait_wakeup(clock::time_point until) {
    for (;;) {
        {
            std::lock_guard lock(mu_);
            if (close_queued_ || stopping_) return true;
        }
        pollfd p{wake_fd_, POLLIN, 0};
        const int timeout = poll_ms(until);
        if (timeout == 0) return false;
        if (::poll(&p, 1, timeout) > 0) clear_wakeup();
    }
}

// Commands go to the session in the order they were pushed, and only while
// it is open: a line typed during a reconnect waits for the next connection.
// A close goes even past the high-water mark: it only adds a small frame.
void ws_client::drain_commands(client_session& s) {
    std::optional<command> last;  // a close: sent once the lock is released
    {
        std::lock_guard lock(mu_);
        const std::size_t before = queued_bytes_;
        while (!queue_.empty() && s.is_open()) {
            command& c = queue_.front();
            if (c.kind == cmd::close) {
                last = std::move(c);
                queue_.pop_front();
                break;
            }
            if (s.output().size() >= session_output_high) break;
            s.send(std::as_bytes(std::span(c.data.data(), c.data.size())), c.kind == cmd::text);
            queued_bytes_ -= cost(c.data.size());
            queue_.pop_front();
        }
        if (queued_bytes_ != before) room_.notify_all();
    }
    if (last) s.close(last->code, last->data, clock::now());
}

int ws_client::open_socket(const ws_url& url, std::string& why) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(url.port);
    if (int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
        why = "cannot resolve '" + url.host + "': " + ::gai_strerror(rc);
        return -1;
    }
    int fd = -ECONNREFUSED;
    for (const addrinfo* a = res; a && fd < 0; a = a->ai_next)  // every address, in the resolver's order
        fd = connect_one(a, clock::now() + opts_.connect_timeout);
    ::freeaddrinfo(res);
    if (fd < 0) why = "cannot connect to " + url.host_header() + ": " + std::strerror(-fd);
    return fd;
}

// One connection, from connect to the socket's close, on a reactor of its
// own: dial() hands it the socket; the session's end stops the loop.
client_outcome ws_client::connect_once(const ws_url& url) {
    client_outcome failed;
    const int fd = open_socket(url, failed.reason);
    if (fd < 0) return failed;

    client_session_options so{.host = url.host_header(),
                              .path = path_for_attempt ? path_for_attempt(url.path) : url.path,
                              .subprotocols = opts_.subprotocols,
                              .headers = opts_.headers,
                              .handshake_timeout = opts_.handshake_timeout,
                              .ping_interval = opts_.ping_interval,
                              .idle_timeout = opts_.idle_timeout,
                              .close_timeout = opts_.close_timeout,
                              .max_message = opts_.max_message,
                              .deflate = opts_.deflate};
    client_session s(std::move(so),
                     {.on_open = [&](const std::string& p) {
                          backoff_.opened(clock::now());
                          if (on_open) on_open(p);
                      },
                      .on_message = on_message},
                     clock::now());
    session_shared shared;
    reactor_options ro;
    ro.tick = milliseconds(10);  // the session's deadlines are the only timers here
    const std::unique_ptr<reactor> loop =
        make_reactor(opts_.backend, -1, ro, session_options{}, shared, std::make_unique<no_server>());
    // Phase 4: queued commands to the session; after stop(), nothing more:
    // the loop's stop drops the connection this very turn.
    loop->set_wakeup_hook({.pending = {}, .drain = [&] {
                               if (stopping_) return loop->stop();
                               drain_commands(s);
                           }});
    {
        client_link link(s, tls_.get(), url.host, tls_session_);  // before the loop ends: its pool
        {
            std::lock_guard lock(mu_);
            live_ = loop.get();
        }
        if (stopping_) ::close(fd);
        else if (!loop->dial(fd, link, [&] { loop->stop(); })) s.eof(clock::now(), "cannot watch the socket");
        else loop->run();
        {
            std::lock_guard lock(mu_);
            live_ = nullptr;
        }
        // The next attempt offers this one's session. One that never finished
        // its handshake (a relay that accepted and dropped us) leaves the
        // older session in place: it says nothing about the server.
        if (link.secured()) {
            SSL_SESSION_free(tls_session_);
            tls_session_ = link.take_resumable();
        }
    }
    if (s.outcome().opened) backoff_.lost(clock::now());
    if (stopping_ && !s.finished()) {
        client_outcome stopped = s.outcome();
        stopped.reason = "stopped";
        return stopped;
    }
    return s.outcome();
}

client_outcome ws_client::run() {
    const client_outcome how = run_attempts();
    {
        std::lock_guard lock(mu_);
        ended_ = true;  // wait_for_room returns: nothing will make room now
    }
    room_.notify_all();
    return how;
}

client_outcome ws_client::run_attempts() {
    ws_url url;
    if (auto err = parse_ws_url(opts_.url, url); !err.empty()) return {.reason = err};
    if (url.tls) {
        tls_ = opts_.tls;
        std::string why;
        if (!tls_) {
            auto ctx = tls_context::load_client({}, false, why);
            if (!ctx) return {.reason = why};
            tls_ = std::make_shared<const tls_context>(std::move(*ctx));
        }
    }
    unsigned failures = 0;  // attempts in a row that did not open
    for (;;) {
        client_outcome how = connect_once(url);
        if (on_close) on_close(how);
        failures = how.opened ? 0 : failures + 1;
        bool done = stopping_.load();
        {
            std::lock_guard lock(mu_);
            done |= close_queued_;  // the application asked to close: never come back
        }
        if (done || !opts_.reconnect) return how;
        if (opts_.max_attempts != 0 && failures >= opts_.max_attempts) return how;
        // A 503's Retry-After is a floor (RFC 9110 §10.2.3); the count grows all the same.
        const milliseconds floor = how.http_status == 503 ? how.retry_after : milliseconds(0);
        const milliseconds wait = backoff_.next(floor);
        if (on_retry) on_retry(backoff_.attempts(), wait);
        if (wait_wakeup(clock::now() + wait)) return how;  // close() or stop() while waiting
    }
}

}  // namespace wsring::net
