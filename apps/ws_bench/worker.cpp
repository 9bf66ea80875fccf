// The worker's epoll loop and a connection's life below the message level.
// Loop phases, once per turn (like a server's reactor, seen from the client):
//   1. wait:   epoll_wait (edge-triggered), then read the clock once;
//   2. events: connect completions, reads (whole frames go to the connection,
//              the mode driver sees each message), EPOLLOUT after a full send;
//   3. tick:   the driver's paced senders (broadcast --rate, windows);
//   4. flush:  every connection touched this turn is filled by its driver
//              and written in one send() — INFLIGHT frames per syscall;
//   5. chores: connect-mode reopens, timeouts, live counters (10 Hz).
// RFC 6455 §4.1 (client handshake), §5.3 (a fast masking key per data
// frame), §7.1.1 (the server ends TCP; we wait for its EOF); RFC 7692 §6
// (--deflate: RSV1 messages, compressed by net/client_deflate). The frame
// rules that tie reading to writing — pongs, the close echo, nothing after
// our close, failing with a rule's code — are proto::connection's (client_conn::ws):
// the worker queues what it writes and moves the socket.
// wss:// puts a net::tls_stream between the socket and all of that: the
// *_tls functions below read, decrypt, encrypt and send; the rest is shared.
#include "apps/ws_bench/worker.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "proto/encoder.hpp"
#include "proto/frame_header.hpp"
#include "proto/wsring_v1.hpp"

namespace wsring::bench {

namespace {

constexpr std::size_t control_reserve = 2 * (proto::max_header_size + proto::max_control_payload);
constexpr std::size_t batch_cap = 128 * 1024;      // bytes of data frames per send block
constexpr std::size_t read_buffer = 256 * 1024;    // one read's worth
constexpr std::uint64_t ms = 1'000'000;

bool is_pending(conn_state s) { return s == conn_state::connecting || s == conn_state::upgrading; }
bool has_socket(conn_state s) { return s != conn_state::unused && s != conn_state::closed; }

// What a failed wsring.v1 check is counted as.
fault v1_fault(v1_verdict v) {
    switch (v) {
        case v1_verdict::gap:
        case v1_verdict::epoch_changed: return fault::position_gap;
        case v1_verdict::repeat: return fault::position_repeat;
        case v1_verdict::unrecovered: return fault::unrecovered;
        default: return fault::content_mismatch;
    }
}

// An HTTP request (http-publish) is its header block, at most this long,
// and the body: the room one request needs in a send block.
constexpr std::size_t http_head_reserve = 1024;

// Bytes at the front of `data` that form whole frames: only those reach the
// decoder, so it never has to copy a cut frame into a buffer of its own.
std::size_t whole_frames(std::span<const std::byte> data) {
    std::size_t off = 0;
    for (;;) {
        proto::frame_header h;
        auto r = proto::decode_header(data.subspan(off), h);
        if (r.size == 0 || h.length > data.size() - off - r.size) return off;
        off += r.size + static_cast<std::size_t>(h.length);
    }
}

// Where a connection goes: broadcast's publishers to --publish-url (which
// is --url unless given: another node of a cluster), everyone else to --url.
const url& target_of(const bench_options& o, const client_conn& c) {
    return c.kind == conn_kind::publisher ? o.publish_target : o.target;
}

std::unique_ptr<mode_driver> make_driver(bench_mode m, worker& w) {
    switch (m) {
        case bench_mode::echo: return make_echo_driver(w);
        case bench_mode::broadcast: return make_broadcast_driver(w);
        case bench_mode::connect: return make_connect_driver(w);
        case bench_mode::idle: return make_idle_driver(w);
        case bench_mode::replay: return make_replay_driver(w);
        case bench_mode::http_publish: return make_http_publish_driver(w);
    }
    return nullptr;
}

}  // namespace

std::uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

worker::worker(const bench_options& opts, shared_state& shared, unsigned index, std::size_t conns,
               std::size_t receivers, unsigned first_publisher)
    : opts_(opts),
      shared_(shared),
      index_(index),
      receivers_(receivers),
      first_publisher_(first_publisher),
      conns_(conns),
      rbuf_(std::max(read_buffer, 2 * proto::frame_size(opts.size, true))),
      payload_(opts.size, opts.payload, opts.text,
               opts.mode == bench_mode::broadcast ? broadcast_header_bytes : std::min(echo_header_bytes, opts.size),
               0x5eed5eedULL),
      rng_(0x9e3779b97f4a7c15ULL * (index + 1) ^ monotonic_ns()),
      frame_bytes_(opts.mode == bench_mode::http_publish
                       ? opts.size + http_head_reserve
                       : proto::frame_size(opts.deflate ? net::client_deflate::bound(opts.size) : opts.size, true)),
      max_message_(std::max<std::size_t>(opts.size + 1, 16u << 20)),
      light_raw_(opts.raw && !opts.verify && opts.mode == bench_mode::echo),
      deflate_(opts.deflate, opts.deflate_level, stats_.deflate) {
    if (opts.target.tls) cbuf_.resize(read_buffer / 4);
    if (!opts.subprotocol.empty()) subprotocols_.push_back(opts.subprotocol);
    next_source_ = static_cast<std::size_t>(index) * 61;  // workers start at different addresses
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
        std::fprintf(stderr, "ws-bench: epoll_create1: %s\n", std::strerror(errno));
        std::exit(2);
    }
    driver_ = make_driver(opts.mode, *this);
    dirty_.reserve(conns);
    setup_conns();
}

worker::~worker() {
    for (auto& c : conns_)
        if (c.fd >= 0) close(c.fd);
    if (epfd_ >= 0) close(epfd_);
    for (SSL_SESSION* s : sessions_) SSL_SESSION_free(s);
}

// Every send block is allocated here, before the run: the request, then
// either a window of data frames (capped at batch_cap) or only room for
// control frames, plus room for a pong and a close that never wait behind data.
void worker::setup_conns() {
    // The largest request: a replay's, with "?since=E:O" (≤ 60 bytes) added,
    // to --url or to --publish-url.
    auto request_bytes = [&](const url& to) {
        return proto::make_client_request({.host = to.host_header(),
                                           .path = to.path + "?since=" + std::string(64, 'x'),
                                           .subprotocols = subprotocols_,
                                           .extra_headers = opts_.headers,
                                           .extensions = deflate_.offer()},
                                          "dGhlIHNhbXBsZSBub25jZQ==")
            .size();
    };
    std::size_t request = std::max(request_bytes(opts_.target), request_bytes(opts_.publish_target));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        client_conn& c = conns_[i];
        c.kind = driver_->kind_of(i);
        std::size_t cap = request;
        if (c.kind == conn_kind::echo || c.kind == conn_kind::publisher)
            cap = std::max({cap, frame_bytes_, std::min<std::size_t>(frame_bytes_ * opts_.inflight, batch_cap)});
        c.out.reserve(cap + control_reserve);
    }
}

// ---- the loop -------------------------------------------------------------

void worker::run() {
    now_ns_ = monotonic_ns();
    next_publish_ns_ = now_ns_ + 100 * ms;
    int wait_ms = opts_.mode == bench_mode::broadcast ? 1 : 5;
    for (;;) {
        run_phase p = shared_.phase.load(std::memory_order_acquire);  // partner: coordinator's store
        if (p != phase_) change_phase(p);
        if (phase_ == run_phase::done) break;
        if (phase_ == run_phase::closing && live_sockets_ == 0) break;
        if (phase_ == run_phase::setup) open_more();
        turn(wait_ms);
        if (now_ns_ >= next_timeout_check_ns_) check_timeouts();
        publish_live(false);
    }
    for (auto& c : conns_)  // the coordinator gave up waiting: close what is left
        if (has_socket(c.state)) finish_close(c, false);
    driver_->finish();
    publish_live(true);
    live().finished.store(true, std::memory_order_release);  // partner: coordinator's join wait
}

void worker::turn(int timeout_ms) {
    epoll_event events[512];
    int n = epoll_wait(epfd_, events, 512, timeout_ms);
    now_ns_ = monotonic_ns();
    for (int i = 0; i < n; ++i) on_event(*static_cast<client_conn*>(events[i].data.ptr), events[i].events);
    driver_->on_tick();
    // Flush: index loop, because a flush may mark another connection dirty.
    for (std::size_t i = 0; i < dirty_.size(); ++i) {
        client_conn& c = *dirty_[i];
        c.dirty = false;
        if (has_socket(c.state) && c.state != conn_state::connecting && !c.want_write) flush(c);
    }
    dirty_.clear();
    for (client_conn* c : reopen_) open(*c);
    reopen_.clear();
}

void worker::change_phase(run_phase p) {
    phase_ = p;
    driver_->on_phase(p);
    if (p == run_phase::warmup || p == run_phase::measure)
        for (auto& c : conns_)
            if (c.state == conn_state::open) mark_dirty(c);  // start (or keep) sending
    if (p == run_phase::closing)
        for (auto& c : conns_) begin_close(c);
}

// Set-up opens connections a bounded number at a time, so a server's listen
// backlog is not flooded (a dropped SYN costs a one-second retransmit).
void worker::open_more() {
    std::size_t limit = std::max<std::size_t>(16, 512 / opts_.threads);
    for (; pending_opens_ < limit && next_to_open_ < conns_.size(); ++next_to_open_)
        if (driver_->opens_at_setup(next_to_open_)) open(conns_[next_to_open_]);
}

void worker::check_timeouts() {
    next_timeout_check_ns_ = now_ns_ + 250 * ms;
    auto limit = static_cast<std::uint64_t>(opts_.connect_timeout * 1e9);
    for (auto& c : conns_) {
        if (is_pending(c.state) && now_ns_ - c.state_ns > limit)
            fail(c, fault::timeout,
                 c.state == conn_state::connecting             ? "TCP connect timed out"
                 : c.tls && !c.tls->handshake_done() ? "TLS handshake not done in time"
                                                               : "no 101 response in time");
        else if (c.state == conn_state::closing && now_ns_ - c.state_ns > 2000 * ms) {
            if (c.close_received()) finish_close(c, true);  // §7.1.1: we MAY close after both close frames
            else fail(c, fault::timeout, "no close frame within 2 s of ours (RFC 6455 §7.1.2)");
        }
    }
}

void worker::publish_live(bool force) {
    if (!force && now_ns_ < next_publish_ns_) return;
    next_publish_ns_ = now_ns_ + 100 * ms;
    live_counters& l = live();
    l.messages.store(stats_.messages, std::memory_order_relaxed);
    l.bytes.store(stats_.bytes, std::memory_order_relaxed);
    l.faults.store(stats_.fault_total(), std::memory_order_relaxed);
    l.opened.store(stats_.opened, std::memory_order_relaxed);
    l.open_failed.store(stats_.open_failed, std::memory_order_relaxed);
    l.outstanding.store(driver_->outstanding(), std::memory_order_relaxed);
    l.delivered_all.store(delivered_all_, std::memory_order_relaxed);
    l.live_conns.store(live_sockets_, std::memory_order_relaxed);
    if (interval_.count() == 0) return;
    std::lock_guard lock(l.mu);
    l.interval.merge(interval_);
    interval_.reset();
}

// ---- connection life --------------------------------------------------------

void worker::open(client_conn& c) {
    c.out.clear();
    c.tail.clear();
    c.ws.reset();
    c.upgrade.reset();
    c.deflate.reset();
    c.v1.reset();
    c.want_write = c.clean = false;
    c.started_ns = c.state_ns = now_ns_;
    const url& to = target_of(opts_, c);
    c.fd = socket(to.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
            std::fprintf(stderr, "ws-bench: out of file descriptors at %zu sockets in thread %u (%s): raise `ulimit -n`\n",
                         live_sockets_, index_, std::strerror(errno));
            std::exit(2);
        }
        c.state = conn_state::closed;
        ++stats_.open_failed;
        fail(c, fault::connect_failed, std::strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    spread_source(c.fd, to);
    c.state = conn_state::connecting;
    ++pending_opens_;
    ++live_sockets_;
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&to.addr), to.addr_len) != 0 &&
        errno != EINPROGRESS) {
        fail(c, fault::connect_failed, std::strerror(errno));
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &c;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev);
}

// A loopback target is reached from 250 source addresses (127.0.0.1-250) in
// turn. The server closes TCP first (RFC 6455 §7.1.1), so *it* keeps each
// closed connection in TIME_WAIT for a minute; from a single source address
// a connect-rate run reuses its ~28,000 ephemeral ports within seconds, and
// a SYN that meets one of those TIME_WAIT entries waits a second for its
// retransmit — the server would look slow for a reason of the test's
// making. Real clients arrive from many addresses; so do these.
void worker::spread_source(int fd, const url& to) {
    if (to.addr.ss_family != AF_INET) return;
    const auto& dst = reinterpret_cast<const sockaddr_in&>(to.addr);
    if ((ntohl(dst.sin_addr.s_addr) >> 24) != 127) return;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);  // port chosen at connect()
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + static_cast<std::uint32_t>(next_source_++ % 250));
    bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src);  // on failure connect() picks as usual
}

void worker::reopen_later(client_conn& c) { reopen_.push_back(&c); }

void worker::on_event(client_conn& c, std::uint32_t events) {
    if (c.state == conn_state::connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) on_connected(c);
    if (!has_socket(c.state) || c.state == conn_state::connecting) return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        bool hup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
        if (c.tls) on_readable_tls(c, hup);
        else on_readable(c, hup);
    }
    if ((events & EPOLLOUT) && c.want_write && has_socket(c.state)) {
        c.want_write = false;
        mark_dirty(c);
    }
}

// The TCP connect finished: --raw is open at once; otherwise send the
// upgrade request (RFC 6455 §4.1) with a fresh key from the CSPRNG.
void worker::on_connected(client_conn& c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(c, fault::connect_failed, std::strerror(err));
    if (opts_.raw || driver_->reads_stream()) return become_open(c);  // no upgrade: plain TCP or HTTP
    if (opts_.target.tls) {  // the request below waits in `out` for the handshake
        start_tls(c);
        if (!has_socket(c.state)) return;
    }
    std::string key = proto::make_client_key();
    std::string path = driver_->request_path(c);
    const url& to = target_of(opts_, c);
    request_ = proto::make_client_request({.host = to.host_header(),
                                           .path = path.empty() ? to.path : path,
                                           .subprotocols = subprotocols_,
                                           .extra_headers = opts_.headers,
                                           .extensions = deflate_.offer()},
                                          key);
    c.out.append(std::as_bytes(std::span(request_)));
    c.upgrade = std::make_unique<upgrade_state>(std::move(key), deflate_.config(), subprotocols_);
    c.state = conn_state::upgrading;
    c.state_ns = now_ns_;
    mark_dirty(c);
}

void worker::leave_pending(client_conn& c) {
    if (is_pending(c.state)) --pending_opens_;
}

void worker::become_open(client_conn& c) {
    leave_pending(c);
    c.state = conn_state::open;
    c.state_ns = now_ns_;
    c.upgrade.reset();
    // A --raw echo returns our own masked frames: the connection reads them
    // as a server would (reads_own_echo), and our close coming back completes
    // the handshake. RSV1 is permessage-deflate's once agreed (RFC 7692 §6), else a fault.
    proto::decoder_limits limits{.max_message = max_message_, .allow_rsv1 = c.deflate != nullptr};
    c.ws.emplace(proto::role::client, limits, opts_.raw);
    ++stats_.opened;
    driver_->on_open(c);
    mark_dirty(c);
}

// ---- the read path ----------------------------------------------------------

// Reads into the worker's large buffer, behind the tail a previous read cut.
// A short read means the socket is drained: with edge-triggered epoll, bytes
// that arrive later raise a new event. But a FIN that came with this event
// raises none, so when the peer hung up (`hup`) read on until EOF.
void worker::on_readable(client_conn& c, bool hup) {
    for (;;) {
        if (c.close_received()) return discard_until_eof(c);
        std::size_t have = c.tail.size();
        if (have) std::memcpy(rbuf_.data(), c.tail.data(), have);
        ssize_t n = read(c.fd, rbuf_.data() + have, rbuf_.size() - have);
        if (n == 0) return on_eof(c);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) fail(c, fault::connection_reset, std::strerror(errno));
            return;
        }
        c.tail.clear();
        std::size_t end = have + static_cast<std::size_t>(n), left = 0;
        if (!take_bytes(c, {rbuf_.data(), end}, end == rbuf_.size(), left)) return;
        if (left) c.tail.assign(rbuf_.begin() + static_cast<std::ptrdiff_t>(end - left), rbuf_.begin() + static_cast<std::ptrdiff_t>(end));
        if (!hup && static_cast<std::size_t>(n) < rbuf_.size() - have) return;
    }
}

// Bytes read (behind the tail of the last read) to the upgrade checker, then
// whole frames to the decoder; `left` is how many bytes at the end of `data`
// are a cut frame to keep. `buffer_full`: no room to wait for the rest of a
// frame, so even a cut one goes to the decoder. False once the connection is gone.
bool worker::take_bytes(client_conn& c, std::span<std::byte> data, bool buffer_full, std::size_t& left) {
    if (driver_->reads_stream()) {  // http-publish: answers, not frames
        std::size_t used = driver_->on_stream(c, data);
        if (!has_socket(c.state)) return false;
        left = data.size() - used;
        if (left && buffer_full) return fail(c, fault::http_error, "an answer larger than the read buffer"), false;
        mark_dirty(c);
        return true;
    }
    if (c.state == conn_state::upgrading && !feed_upgrade(c, data)) return false;
    std::size_t whole = whole_frames(data);
    if (whole == 0 && buffer_full) whole = data.size();  // a frame larger than the buffer
    bool alive = light_raw_ ? deliver_raw(c, data.first(whole)) : deliver(c, data.first(whole));
    if (!alive) return false;
    mark_dirty(c);  // replies free window slots: refill at this turn's flush
    left = data.size() - whole;
    return true;
}

// ---- wss:// -----------------------------------------------------------------

// A fresh client stream per connection; its ClientHello leaves with the
// first flush. With --tls-resume it offers the newest session this worker
// kept from a clean close (the server's latest ticket), if it has one.
void worker::start_tls(client_conn& c) {
    SSL_SESSION* resume = nullptr;
    if (!sessions_.empty()) {
        resume = sessions_.back();
        sessions_.pop_back();
    }
    c.tls = std::make_unique<net::tls_stream>(*opts_.tls, pool_,
                                              net::tls_stream::client_params{.server_name = target_of(opts_, c).host, .resume = resume});
    SSL_SESSION_free(resume);  // the stream holds its own reference
    if (c.tls->error() != net::tls_error::none) fail_tls(c);
}

// The read path over TLS. Ciphertext is read into cbuf_ and decrypted into
// the back half of rbuf_, one record per call of the lambda; the tail of a
// frame cut by a record waits right in front of it, at [half - have, half),
// so each record's frames are parsed where they were decrypted. A cut frame
// longer than half the buffer goes to the decoder in pieces, as in on_readable.
void worker::on_readable_tls(client_conn& c, bool hup) {
    net::tls_stream& t = *c.tls;
    const std::size_t half = rbuf_.size() / 2;  // ≥ 128 KiB: room for a 16 KiB record behind it
    for (;;) {
        ssize_t n = read(c.fd, cbuf_.data(), cbuf_.size());
        if (n == 0) {
            t.feed_eof();
            if (t.error() != net::tls_error::none) return fail_tls(c);
            return on_eof(c);
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            if (c.close_received()) return finish_close(c, true);  // both close frames were exchanged
            return fail(c, fault::connection_reset, std::strerror(errno));
        }
        bool was_done = t.handshake_done();
        std::size_t have = c.tail.size();
        if (have) std::memcpy(rbuf_.data() + half - have, c.tail.data(), have);
        c.tail.clear();
        t.feed_ciphertext({cbuf_.data(), static_cast<std::size_t>(n)});
        t.read_plaintext(std::span(rbuf_).subspan(half), [&](std::span<std::byte> p) {
            if (!has_socket(c.state) || c.close_received()) return true;  // the rest does not matter
            std::size_t left = 0;
            std::span<std::byte> data(rbuf_.data() + half - have, have + p.size());
            if (take_bytes(c, data, data.size() > half, left) && left)
                std::memmove(rbuf_.data() + half - left, data.data() + data.size() - left, left);
            have = left;
            return true;
        });
        if (!has_socket(c.state)) return;
        if (t.error() != net::tls_error::none) {
            if (c.close_received()) return finish_close(c, true);  // both close frames were exchanged
            return fail_tls(c);
        }
        if (!was_done && t.handshake_done()) on_tls_handshake(c);
        // RFC 5246 §7.2.1: answer the server's close_notify with ours while
        // its TCP is open (Python's asyncio waits for it before closing);
        // after its FIN (`hup`, ws-server) ours would only earn an RST.
        if (t.peer_closed() && !t.close_sent() && !hup) t.want_close();
        if (have && !c.close_received()) c.tail.assign(rbuf_.begin() + static_cast<std::ptrdiff_t>(half - have), rbuf_.begin() + static_cast<std::ptrdiff_t>(half));
        mark_dirty(c);  // handshake replies, the request that waited for them, refills
        if (!hup && static_cast<std::size_t>(n) < cbuf_.size()) return;
    }
}

void worker::on_tls_handshake(client_conn& c) {
    bool resumed = c.tls->resumed();
    ++(resumed ? stats_.tls_resumed : stats_.tls_full);
    if (measuring()) ++(resumed ? stats_.tls_resumed_measured : stats_.tls_full_measured);
    if (stats_.tls_version.empty()) {
        SSL* ssl = c.tls->native();
        stats_.tls_version = std::string(SSL_get_version(ssl)) + " " + SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
    }
}

// One line a user can act on: what the certificate check said, else OpenSSL's reason.
void worker::fail_tls(client_conn& c) {
    const net::tls_stream& t = *c.tls;
    std::string why = net::describe_failure(t);  // the line ws-client prints too
    if (!t.verify_error().empty()) why += " (--ca FILE, or --insecure)";
    fail(c, fault::tls_failed, why);
}

// After the peer's close frame nothing more matters but its EOF (RFC 6455
// §7.1.1: the server closes the TCP connection first).
void worker::discard_until_eof(client_conn& c) {
    for (;;) {
        ssize_t n = read(c.fd, rbuf_.data(), rbuf_.size());
        if (n > 0) continue;
        if (n == 0) return on_eof(c);
        if (errno == EINTR) continue;
        if (errno != EAGAIN) finish_close(c, true);  // both close frames were exchanged
        return;
    }
}

// Feeds the 101 response to the checker; bytes after it are frames and stay
// in `data`. False when the upgrade failed (the connection is gone).
bool worker::feed_upgrade(client_conn& c, std::span<std::byte>& data) {
    std::size_t consumed = 0;
    auto st = c.upgrade->checker.feed(data, consumed);
    if (st == proto::response_checker::status::need_more) {
        data = {};
        return true;
    }
    if (st == proto::response_checker::status::rejected) {
        std::string why = "HTTP " + std::to_string(c.upgrade->checker.http_status()) + ": " + c.upgrade->checker.error();
        fail(c, fault::handshake_rejected, why);
        return false;
    }
    std::string why;
    c.deflate = deflate_.open(c.upgrade->checker.deflate(), why);
    if (!why.empty()) {
        fail(c, fault::handshake_rejected, why);
        return false;
    }
    // A subprotocol we read (wsring.v1) changes every message: one the
    // server did not choose would make each delivery look malformed.
    const std::string& chosen = c.upgrade->checker.protocol();
    if (chosen != opts_.subprotocol) {
        fail(c, fault::handshake_rejected, "the server did not choose subprotocol " + opts_.subprotocol);
        return false;
    }
    c.v1.on = chosen == proto::v1::subprotocol;
    become_open(c);
    data = data.subspan(consumed);
    return true;
}

// Hands whole frames to the connection's decoder, event by event; what the
// protocol owes in reply (a pong, the echo of a close) the connection
// writes. False once the connection closed or failed (the rest of the
// bytes do not matter then).
bool worker::deliver(client_conn& c, std::span<std::byte> frames) {
    while (!frames.empty() && has_socket(c.state)) {
        proto::event ev = c.ws->next(frames);  // unmasks in place, in `frames`
        switch (ev.kind) {
            case proto::event_kind::need_more: return true;
            case proto::event_kind::text:
            case proto::event_kind::binary: {
                bool text = ev.kind == proto::event_kind::text;
                if (ev.rsv1 && !inflate(c, text, ev.payload)) return false;
                if (c.v1.on && !check_position(c, text, ev.payload)) break;  // a notice, or a fault
                driver_->on_message(c, text, ev.payload);
                break;
            }
            case proto::event_kind::ping:  // RFC 6455 §5.5.3: a pong with the same payload
                queue_answer(c, ev);
                break;
            case proto::event_kind::pong: break;
            case proto::event_kind::close:
                on_close_frame(c, ev);
                if (c.state == conn_state::closing && !c.tls) discard_until_eof(c);  // TLS reads on for close_notify
                return false;
            case proto::event_kind::protocol_error:
                fail(c, fault::protocol_error, proto::describe(ev.err), ev.err);
                return false;
        }
    }
    return has_socket(c.state);
}

// wsring.v1: every message passes the cursor (v1_cursor.hpp). True for a
// data message at the next offset, its payload narrowed to the published
// bytes; a notice that fits goes to the driver; anything else is a fault.
bool worker::check_position(client_conn& c, bool text, std::span<std::byte>& payload) {
    std::string why;
    v1_verdict v = v1_accept(c.v1, payload, text, why);
    if (v == v1_verdict::data) return true;
    if (v == v1_verdict::notice) driver_->on_notice(c);
    else fail(c, v1_fault(v), why);
    return false;
}

// RFC 7692 §6.2: a message with RSV1 means nothing until inflated; one
// that does not inflate (or is not UTF-8 text after it) fails the connection.
bool worker::inflate(client_conn& c, bool text, std::span<std::byte>& payload) {
    proto::error e = deflate_.inflate(*c.deflate, payload, text, max_message_, payload);
    if (e == proto::error::none) return true;
    fail(c, fault::protocol_error, proto::describe(e), e);
    return false;
}

// --raw without --verify: the echo server returns our own masked frames, and
// a plain TCP echo needs no parsing beyond the lengths, so the baseline's
// client work stays below any WebSocket run's — only the header and the
// sequence stamp are read and unmasked, never the whole payload, and the
// connection's decoder is skipped. It sees the close: ours, come back.
bool worker::deliver_raw(client_conn& c, std::span<std::byte> frames) {
    while (!frames.empty() && has_socket(c.state)) {
        proto::frame_header h;
        auto r = proto::decode_header(frames, h);
        if (r.size == 0 || h.length > frames.size() - r.size) return deliver(c, frames);  // a frame past the buffer
        if (h.op() == proto::opcode::close) return deliver(c, frames);  // the close handshake is the connection's
        auto payload = frames.subspan(r.size, static_cast<std::size_t>(h.length));
        frames = frames.subspan(r.size + payload.size());
        std::size_t stamp_end = payload_.stamp_offset() + echo_header_bytes;
        if (h.masked) proto::apply_mask(payload.first(std::min(payload.size(), stamp_end)), h.key);
        driver_->on_message(c, h.op() == proto::opcode::text, payload);
    }
    return has_socket(c.state);
}

// The peer's close frame (`ev`, just moved through c.ws): counted by code,
// and answered unless it answers ours.
void worker::on_close_frame(client_conn& c, const proto::event& ev) {
    auto v = static_cast<unsigned>(ev.code);
    ++stats_.close_codes[v >= 1000 && v < 1015 ? v - 1000 : 15];
    if (c.ws->state() == proto::ws_state::closed) {
        // It answers ours: the handshake is complete. RFC 6455 §7.1.1: the
        // server closes TCP first, so wait for EOF — except --raw, where the
        // echo server never will.
        if (opts_.raw) finish_close(c, true);
        return;
    }
    // The server closed while we were still using the connection: answer
    // (RFC 6455 §5.5.1: the connection echoes the code; an empty close gets
    // an empty close) and count it.
    count_fault(fault::closed_by_server, "close code " + std::to_string(v));
    c.failed = true;
    queue_answer(c, ev);
    c.state = conn_state::closing;
    c.state_ns = now_ns_;
}

void worker::on_eof(client_conn& c) {
    if (c.state == conn_state::closing) return finish_close(c, c.close_received());
    if (c.tls && !c.tls->handshake_done()) return fail(c, fault::tls_failed, "EOF during the TLS handshake");
    const char* when = c.state == conn_state::upgrading ? "EOF before the 101 response"
                       : driver_->reads_stream()        ? "EOF: the server closed the keep-alive HTTP connection"
                                                        : "EOF without a close frame";
    fail(c, fault::closed_early, when);
}

// ---- the write path ---------------------------------------------------------

bool worker::queue_frame(client_conn& c, std::span<const std::byte> payload) {
    auto room = c.out.claim(frame_bytes_ + control_reserve);
    if (room.empty() || !c.ws->can_send()) return false;  // full, or our close went out (§5.5.1)
    // RFC 6455 §5.3: a new key per frame. From the worker's own fast
    // generator, not the CSPRNG behind fresh_mask_key(): a load generator
    // must not spend its time on keys; control frames take the default.
    auto key = static_cast<proto::mask_key>(rng_.next() >> 32);
    auto op = opts_.text ? proto::opcode::text : proto::opcode::binary;
    if (!c.deflate) {
        c.out.commit(c.ws->write_message(room, op, payload, {.mask = key}));
        return true;
    }
    // RFC 7692 §6.1: the whole message compressed, RSV1 on its first (here
    // only) frame. The room was claimed first: with context takeover a
    // compressed message that is not sent would corrupt every later one.
    auto wire = deflate_.compress(*c.deflate, payload);
    if (proto::frame_size(wire.size(), true) > frame_bytes_) {
        std::fprintf(stderr, "ws-bench: %zu bytes compressed to %zu, past net::client_deflate::bound()\n", payload.size(),
                     wire.size());
        std::abort();
    }
    c.out.commit(c.ws->write_message(room, op, wire, {.rsv1 = true, .mask = key}));
    return true;
}

// What the protocol owes for `ev` (connection::answer: a pong, the echo of
// a close), into the room control_reserve keeps behind the data frames.
void worker::queue_answer(client_conn& c, const proto::event& ev) {
    auto room = c.out.claim(proto::max_answer_size);
    if (room.empty()) return;  // cannot happen: control_reserve keeps room
    if (std::size_t n = c.ws->answer(ev, room)) {
        c.out.commit(n);
        mark_dirty(c);
    }
}

// Our close frame (RFC 6455 §7.1.2), once: the connection writes nothing
// if ours already went out.
void worker::queue_close(client_conn& c, proto::close_code code, std::string_view reason) {
    auto room = c.out.claim(proto::max_answer_size);
    if (room.empty()) return;  // cannot happen: control_reserve keeps room
    if (std::size_t n = c.ws->write_close(room, code, reason)) {
        c.out.commit(n);
        mark_dirty(c);
    }
}

void worker::mark_dirty(client_conn& c) {
    if (c.dirty) return;
    c.dirty = true;
    dirty_.push_back(&c);
}

// Lets the driver fill the send block, then writes it; repeats while the
// socket takes everything, so a window refills in as few sends as possible.
void worker::flush(client_conn& c) {
    if (c.tls) return flush_tls(c);
    for (;;) {
        if (c.state == conn_state::open) driver_->fill(c);
        auto p = c.out.pending();
        if (p.empty()) return;
        ssize_t n = send(c.fd, p.data(), p.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) c.want_write = true;
            else fail(c, fault::connection_reset, std::strerror(errno));
            return;
        }
        c.out.consume(static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < p.size()) {
            c.want_write = true;  // the socket buffer is full: wait for EPOLLOUT
            return;
        }
    }
}

// The same over TLS: the driver fills `out`, the stream encrypts from it
// (nothing before the handshake is done; at most ~64 KiB ahead of the
// socket), and the ciphertext leaves in one sendmsg per round.
void worker::flush_tls(client_conn& c) {
    net::tls_stream& t = *c.tls;
    for (;;) {
        if (c.state == conn_state::open) driver_->fill(c);
        auto p = c.out.pending();
        if (!p.empty()) {
            iovec plain{const_cast<std::byte*>(p.data()), p.size()};
            c.out.consume(t.write_plaintext(&plain, 1));
        }
        iovec iov[net::write_queue::max_iov];
        std::size_t n = t.pending_ciphertext(iov, net::write_queue::max_iov), offered = 0;
        if (n == 0) return;
        for (std::size_t i = 0; i < n; ++i) offered += iov[i].iov_len;
        msghdr m{};
        m.msg_iov = iov;
        m.msg_iovlen = n;
        ssize_t sent = sendmsg(c.fd, &m, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) c.want_write = true;
            else fail(c, fault::connection_reset, std::strerror(errno));
            return;
        }
        t.consume_ciphertext(static_cast<std::size_t>(sent));
        if (static_cast<std::size_t>(sent) < offered) {
            c.want_write = true;
            return;
        }
    }
}

// ---- closing ----------------------------------------------------------------

void worker::begin_close(client_conn& c) {
    if (is_pending(c.state)) {  // still connecting: not a fault, just stop
        leave_pending(c);
        close(c.fd);
        c.fd = -1;
        c.state = conn_state::closed;
        --live_sockets_;
        return;
    }
    if (c.state != conn_state::open) return;
    // Plain HTTP (http-publish): a client may close an idle keep-alive
    // connection at any time (RFC 9112 §9.6); the drain let answers come home.
    if (driver_->reads_stream()) return finish_close(c, true);
    queue_close(c, proto::close_code::normal);  // RFC 6455 §7.1.2: start the closing handshake
    c.state = conn_state::closing;
    c.state_ns = now_ns_;
}

void worker::finish_close(client_conn& c, bool clean) {
    leave_pending(c);
    bool was_open = c.state == conn_state::open || c.state == conn_state::closing;
    if (c.fd >= 0) close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    c.state = conn_state::closed;
    c.clean = clean;
    c.want_write = false;
    --live_sockets_;
    if (was_open) ++(clean ? stats_.closed_clean : stats_.closed_unclean);
    if (clean && c.tls) {
        // Unless the server's close_notify was answered, ours is queued, never
        // sent: the WebSocket close handshake (inside TLS) already ended the
        // data both ways and the server closed TCP first (RFC 6455 §7.1.1),
        // so bytes now would only earn an RST; and one sent with our close
        // frame makes some servers (Python's asyncio) drop theirs. Queued, it
        // marks the session cleanly ended, which keeps it resumable.
        c.tls->want_close();
        if (opts_.tls_resume && sessions_.size() < conns_.size())
            if (SSL_SESSION* s = c.tls->resumable_session()) sessions_.push_back(s);  // for a later connect
    }
    driver_->on_closed(c);
}

void worker::count_fault(fault f, std::string_view detail, proto::error e) {
    auto i = static_cast<std::size_t>(f);
    ++stats_.faults[i];
    if (stats_.first_detail[i].empty()) stats_.first_detail[i] = std::string(detail);
    if (f == fault::protocol_error) ++stats_.protocol_errors[static_cast<std::uint8_t>(e)];
}

void worker::fail(client_conn& c, fault f, std::string_view detail, proto::error e) {
    count_fault(f, detail, e);
    c.failed = true;
    if (is_pending(c.state)) ++stats_.open_failed;
    if (f == fault::protocol_error && c.state == conn_state::open) {
        // RFC 6455 §7.1.7: Fail the WebSocket Connection — send a close with
        // the code the broken rule earns and its name (best effort), then
        // drop TCP. A decoder error moved c.ws to failed already; one found
        // above it (a message that does not inflate) moves it here.
        const proto::close_code code = proto::to_close_code(e);
        c.ws->fail(code);
        c.out.clear();
        queue_close(c, code, proto::describe(e));
        auto p = c.out.pending();
        if (c.tls) {
            iovec plain{const_cast<std::byte*>(p.data()), p.size()};
            c.tls->write_plaintext(&plain, 1);
            iovec iov[net::write_queue::max_iov];
            msghdr m{};
            m.msg_iov = iov;
            m.msg_iovlen = c.tls->pending_ciphertext(iov, net::write_queue::max_iov);
            [[maybe_unused]] auto n = sendmsg(c.fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            [[maybe_unused]] auto n = send(c.fd, p.data(), p.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    }
    if (has_socket(c.state)) finish_close(c, false);
}

void worker::record_latency(std::uint64_t ns) {
    stats_.latency.record(ns);
    interval_.record(ns);
}

}  // namespace wsring::bench
