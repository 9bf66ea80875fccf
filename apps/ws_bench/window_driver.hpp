// What the request/reply modes share (echo_mode.cpp: a frame comes back;
// http_publish_mode.cpp: an HTTP answer comes back): each connection keeps
// up to -k requests in flight, each stamped with its sequence number, and
// every reply retires the oldest one — its latency, its count. The modes
// differ only in what they send and how they check a reply.
#pragma once
#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>

#include "apps/ws_bench/mode_driver.hpp"
#include "apps/ws_bench/payload.hpp"
#include "apps/ws_bench/worker.hpp"

namespace wsring::bench {

class window_driver : public mode_driver {
public:
    explicit window_driver(worker& w)
        : w_(w),
          window_(w.opts().inflight),
          ring_mask_(std::bit_ceil(window_) - 1),
          stamp_(std::min(echo_header_bytes, w.opts().size)),
          at_(w.payload().stamp_offset()),
          seq_mask_(stamp_ ? (std::uint64_t{1} << (4 * stamp_)) - 1 : 0) {}

    void on_open(client_conn& c) override {
        c.sent_at.assign(ring_mask_ + 1, 0);
        c.send_seq = c.recv_seq = 0;
        c.outstanding = 0;
    }

    void on_closed(client_conn& c) override {
        outstanding_ -= c.outstanding;
        c.outstanding = 0;
    }

    std::uint64_t outstanding() const override { return outstanding_; }

    void finish() override {
        for (auto& c : w_.conns())
            if (c.ws) w_.stats().per_conn.push_back(c.completed);  // every connection that opened
    }

protected:
    // The next request's payload, its sequence stamped in.
    std::span<std::byte> next_payload(client_conn& c) {
        auto payload = w_.payload().message(c.send_seq & seq_mask_);  // the key the stamp gives back
        if (stamp_) write_nibbles(payload.data() + at_, c.send_seq, stamp_);
        return payload;
    }
    // The request is queued: it is in flight from now.
    void sent(client_conn& c) {
        c.sent_at[c.send_seq & ring_mask_] = w_.now();
        ++c.send_seq;
        ++c.outstanding;
        ++outstanding_;
        if (w_.measuring()) ++w_.stats().sent;
    }
    // A checked reply of `bytes` retires the oldest request in flight.
    void replied(client_conn& c, std::size_t bytes) {
        std::uint64_t at = c.sent_at[c.recv_seq & ring_mask_];
        ++c.recv_seq;
        --c.outstanding;
        --outstanding_;
        if (!w_.measuring()) return;
        w_.record_latency(w_.now() - at);
        ++c.completed;
        ++w_.stats().messages;
        w_.stats().bytes += bytes;
    }

    worker& w_;
    std::uint32_t window_;
    std::size_t ring_mask_;
    std::size_t stamp_;  // sequence letters in each payload
    std::size_t at_;     // where they start (payload_template::stamp_offset)
    std::uint64_t seq_mask_;
    std::uint64_t outstanding_ = 0;
};

}  // namespace wsring::bench
