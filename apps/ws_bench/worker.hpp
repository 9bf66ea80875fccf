// One load-generator thread: its own epoll loop over its share of the
// connections. The worker owns everything below the message level — non-
// blocking connect, the HTTP upgrade (RFC 6455 §4.1), reading into one large
// buffer and handing only whole frames to each connection's proto::connection
// (which decides the pongs, close answers and failing closes: §5.5.1,
// §5.5.3, §7.1.7), batching writes, the TCP end of the close (§7.1.1) and
// naming every fault — and leaves what to send and what a message means to
// its mode_driver. The loop is worker.cpp; a connection's life is
// worker_{open,read,write,close}.cpp. Read next: mode_driver.hpp, echo_mode.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "apps/ws_bench/client_conn.hpp"
#include "apps/ws_bench/mode_driver.hpp"
#include "apps/ws_bench/options.hpp"
#include "apps/ws_bench/payload.hpp"
#include "apps/ws_bench/run_stats.hpp"
#include "apps/ws_bench/shared_state.hpp"
#include "net/client_deflate.hpp"
#include "net/write_queue.hpp"

namespace wsring::bench {

class worker {
public:
    // `conns` connections, of which the first `receivers` are receivers in
    // broadcast mode; `first_publisher` numbers this worker's publishers.
    worker(const bench_options& opts, shared_state& shared, unsigned index, std::size_t conns,
           std::size_t receivers, unsigned first_publisher);
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;
    ~worker();

    void run();  // the thread body: returns when the run is done

    // --- for the mode drivers
    const bench_options& opts() const { return opts_; }
    shared_state& shared() { return shared_; }
    unsigned index() const { return index_; }
    std::uint64_t now() const { return now_ns_; }
    run_phase phase() const { return phase_; }
    bool sending() const { return phase_ == run_phase::warmup || phase_ == run_phase::measure; }
    bool measuring() const { return phase_ == run_phase::measure; }
    std::vector<client_conn>& conns() { return conns_; }
    std::size_t receivers() const { return receivers_; }
    unsigned first_publisher() const { return first_publisher_; }
    worker_stats& stats() { return stats_; }
    payload_template& payload() { return payload_; }
    live_counters& live() { return *shared_.live[index_]; }

    // Queues one data frame, masked with a fresh key, if the send block has
    // room for it (and for a control frame after it); false when full. On a
    // connection that agreed to permessage-deflate the frame carries the
    // compressed message with RSV1 set (RFC 7692 §6.1).
    bool queue_frame(client_conn& c, std::span<const std::byte> payload);
    std::size_t wire_size() const { return frame_bytes_; }  // bytes of one data frame
    void record_latency(std::uint64_t ns);
    void count_delivery() { ++delivered_all_; }
    // Puts `c` on this turn's flush list, once. Inline: the read path marks
    // a connection after every read, and most are marked already.
    void mark_dirty(client_conn& c) {
        if (c.dirty) return;
        c.dirty = true;
        dirty_.push_back(&c);
    }
    // Counts a fault (the first of each kind keeps its detail) and ends the
    // connection: a connection that saw a fault is not trusted further.
    void fail(client_conn& c, fault f, std::string_view detail, proto::error e = proto::error::none);
    void open(client_conn& c);         // start connect (+ upgrade)
    void reopen_later(client_conn& c); // connect mode: open again after this turn
    void begin_close(client_conn& c);  // send our close frame

private:
    // worker.cpp: the loop
    void turn(int timeout_ms);
    void on_event(client_conn& c, std::uint32_t events);
    void change_phase(run_phase p);
    void open_more();
    void check_timeouts();
    void publish_live(bool force);
    // worker_open.cpp: connect, TLS handshake, upgrade
    void spread_source(int fd, const url& to);
    void on_connected(client_conn& c);
    void start_tls(client_conn& c);
    void on_tls_handshake(client_conn& c);
    void fail_tls(client_conn& c);
    bool feed_upgrade(client_conn& c, std::span<std::byte>& data);
    void become_open(client_conn& c);
    // Inline: opening (worker_open.cpp) and closing (worker_close.cpp) both
    // leave the pending count here, once per connection.
    void leave_pending(client_conn& c) {
        if (is_pending(c.state)) --pending_opens_;
    }
    // worker_read.cpp: bytes in, frames to c.ws, messages to the driver
    void on_readable(client_conn& c, bool hup);
    void on_readable_tls(client_conn& c, bool hup);
    bool take_bytes(client_conn& c, std::span<std::byte> data, bool buffer_full, std::size_t& left);
    void discard_until_eof(client_conn& c);
    bool deliver(client_conn& c, std::span<std::byte> frames);
    bool check_position(client_conn& c, bool text, std::span<std::byte>& payload);
    bool inflate(client_conn& c, bool text, std::span<std::byte>& payload);
    bool deliver_raw(client_conn& c, std::span<std::byte> frames);
    // worker_write.cpp: send blocks, frames queued, bytes out
    void setup_conns();
    void queue_answer(client_conn& c, const proto::event& ev);
    void queue_close(client_conn& c, proto::close_code code, std::string_view reason = {});
    void flush(client_conn& c);
    void flush_tls(client_conn& c);
    // worker_close.cpp: the close handshake's TCP end, faults
    void on_close_frame(client_conn& c, const proto::event& ev);
    void on_eof(client_conn& c);
    void finish_close(client_conn& c, bool clean);
    void count_fault(fault f, std::string_view detail, proto::error e = proto::error::none);

    const bench_options& opts_;
    shared_state& shared_;
    unsigned index_;
    std::size_t receivers_;
    unsigned first_publisher_;
    int epfd_ = -1;
    std::uint64_t now_ns_ = 0;
    run_phase phase_ = run_phase::setup;
    net::segment_pool pool_;           // wss://: ciphertext blocks (before conns_: freed after them)
    // wss:// --tls-resume: sessions of clean closes, newest last, each
    // offered once (RFC 8446 §C.4: a client should not reuse a ticket;
    // OpenSSL's client marks a TLS 1.3 session spent once it resumed).
    std::vector<SSL_SESSION*> sessions_;
    std::vector<client_conn> conns_;
    std::unique_ptr<mode_driver> driver_;
    std::vector<client_conn*> dirty_;
    std::vector<client_conn*> reopen_;
    std::vector<std::byte> rbuf_;      // one large read buffer for every connection
    std::vector<std::byte> cbuf_;      // wss://: the ciphertext read, decrypted into rbuf_
    std::string request_;              // reusable HTTP request text
    std::vector<std::string> subprotocols_;  // --subprotocol, offered in every upgrade
    payload_template payload_;
    fast_rng rng_;
    std::size_t frame_bytes_ = 0;      // room a data frame may need (--deflate: its bound)
    std::size_t max_message_ = 0;      // the decoder's cap, and the inflater's
    bool light_raw_ = false;           // --raw echo without --verify: lengths only
    std::size_t next_to_open_ = 0;     // set-up: connections opened so far
    std::size_t pending_opens_ = 0;    // connects/upgrades in flight
    std::size_t live_sockets_ = 0;
    std::size_t next_source_ = 0;      // loopback source address rotation
    std::uint64_t next_publish_ns_ = 0;
    std::uint64_t next_timeout_check_ns_ = 0;
    core::latency_histogram interval_;  // since the last publish_live
    std::uint64_t delivered_all_ = 0;  // broadcast deliveries, whole run
    worker_stats stats_;
    net::client_deflate deflate_;      // after stats_: it counts into stats_.deflate
};

std::uint64_t monotonic_ns();

}  // namespace wsring::bench
