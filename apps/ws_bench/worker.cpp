// The worker's epoll loop (worker.hpp) and what it does between reads: the
// run's phases, paced set-up, timeouts, live counters. Once per turn:
//   1. wait:   epoll_wait (edge-triggered), then read the clock once;
//   2. events: connect completions, reads (whole frames go to the connection,
//              the mode driver sees each message), EPOLLOUT after a full send;
//   3. tick:   the driver's paced senders (broadcast --rate, windows);
//   4. flush:  every connection touched this turn is filled by its driver
//              and written in one send() — INFLIGHT frames per syscall;
//   5. chores: connect-mode reopens, timeouts, live counters (10 Hz).
// A connection's life below the message level is not here: worker_open.cpp,
// worker_read.cpp, worker_write.cpp, worker_close.cpp.
#include "apps/ws_bench/worker.hpp"

#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "proto/frame_header.hpp"

namespace wsring::bench {

namespace {

constexpr std::size_t read_buffer = 256 * 1024;    // one read's worth
constexpr std::uint64_t ms = 1'000'000;

// An HTTP request (http-publish) is its header block, at most this long,
// and the body: the room one request needs in a send block.
constexpr std::size_t http_head_reserve = 1024;

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

void worker::record_latency(std::uint64_t ns) {
    stats_.latency.record(ns);
    interval_.record(ns);
}

}  // namespace wsring::bench
