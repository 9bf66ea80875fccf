// echo mode: every connection keeps INFLIGHT messages outstanding against a
// server that echoes each message back. Echoes come back in order (a
// WebSocket connection is one ordered stream), so send times sit in a
// per-connection ring and the oldest one is the echo's round trip. Every
// echo is checked: type, length, its sequence stamp, and with --verify
// every byte. When the measured window closes, replies still outstanding
// are recorded at their age so far, so a stalled connection shows in the
// top percentiles instead of quietly vanishing from them.
#include <bit>
#include <string>

#include "apps/ws_bench/mode_driver.hpp"
#include "apps/ws_bench/worker.hpp"

namespace wsring::bench {

namespace {

class echo_driver final : public mode_driver {
public:
    explicit echo_driver(worker& w)
        : w_(w),
          window_(w.opts().inflight),
          ring_mask_(std::bit_ceil(window_) - 1),
          stamp_(std::min(echo_header_bytes, w.opts().size)),
          at_(w.payload().stamp_offset()),
          seq_mask_(stamp_ ? (std::uint64_t{1} << (4 * stamp_)) - 1 : 0) {}

    conn_kind kind_of(std::size_t) const override { return conn_kind::echo; }

    void on_open(client_conn& c) override {
        c.sent_at.assign(ring_mask_ + 1, 0);
        c.send_seq = c.recv_seq = 0;
        c.outstanding = 0;
    }

    void fill(client_conn& c) override {
        if (!w_.sending()) return;
        while (c.outstanding < window_) {
            auto payload = w_.payload().message(c.send_seq & seq_mask_);  // the key the stamp gives back
            if (stamp_) write_nibbles(payload.data() + at_, c.send_seq, stamp_);
            if (!w_.queue_frame(c, payload)) break;  // the block is full: more after this send
            c.sent_at[c.send_seq & ring_mask_] = w_.now();
            ++c.send_seq;
            ++c.outstanding;
            ++outstanding_;
            if (w_.measuring()) ++w_.stats().sent;
        }
    }

    void on_message(client_conn& c, bool text, std::span<std::byte> payload) override {
        if (!check(c, text, payload)) return;
        std::uint64_t sent = c.sent_at[c.recv_seq & ring_mask_];
        ++c.recv_seq;
        --c.outstanding;
        --outstanding_;
        if (!w_.measuring()) return;
        w_.record_latency(w_.now() - sent);
        ++c.completed;
        ++w_.stats().messages;
        w_.stats().bytes += payload.size();
    }

    void on_phase(run_phase p) override {
        if (last_ == run_phase::measure && p != run_phase::measure) record_unfinished();
        last_ = p;
    }

    void on_closed(client_conn& c) override {
        outstanding_ -= c.outstanding;
        c.outstanding = 0;
    }

    std::uint64_t outstanding() const override { return outstanding_; }

    void finish() override {
        for (auto& c : w_.conns())
            if (c.dec) w_.stats().per_conn.push_back(c.completed);  // every connection that opened
    }

private:
    // The checks every echo passes before it counts (false: the connection failed).
    bool check(client_conn& c, bool text, std::span<const std::byte> payload) {
        if (c.outstanding == 0) return w_.fail(c, fault::sequence_mismatch, "an echo of nothing we sent"), false;
        if (text != w_.opts().text)
            return w_.fail(c, fault::unexpected_opcode, text ? "text echo of a binary message" : "binary echo of text"), false;
        if (payload.size() != w_.opts().size)
            return w_.fail(c, fault::length_mismatch,
                           "expected " + std::to_string(w_.opts().size) + " bytes, got " + std::to_string(payload.size())),
                   false;
        std::uint64_t seq = 0;
        if (stamp_ && !read_nibbles(payload.data() + at_, stamp_, seq))
            return w_.fail(c, fault::content_mismatch, "sequence stamp corrupted"), false;
        if (stamp_ && seq != (c.recv_seq & seq_mask_))
            return w_.fail(c, fault::sequence_mismatch,
                           "echo " + std::to_string(seq) + " where " + std::to_string(c.recv_seq & seq_mask_) + " was due"),
                   false;
        if (w_.opts().verify && !w_.payload().body_matches(payload, stamp_, seq))
            return w_.fail(c, fault::content_mismatch, "payload bytes differ from what was sent"), false;
        return true;
    }

    // Replies still due when the window closed: their age so far is a lower
    // bound on their latency, and leaving them out would flatter the tail.
    void record_unfinished() {
        for (auto& c : w_.conns()) {
            if (c.state != conn_state::open) continue;
            for (std::uint64_t s = c.recv_seq; s != c.send_seq; ++s) {
                w_.record_latency(w_.now() - c.sent_at[s & ring_mask_]);
                ++w_.stats().unfinished;
            }
        }
    }

    worker& w_;
    std::uint32_t window_;
    std::size_t ring_mask_;
    std::size_t stamp_;  // sequence letters in each payload
    std::size_t at_;     // where they start (payload_template::stamp_offset)
    std::uint64_t seq_mask_;
    std::uint64_t outstanding_ = 0;
    run_phase last_ = run_phase::setup;
};

}  // namespace

std::unique_ptr<mode_driver> make_echo_driver(worker& w) { return std::make_unique<echo_driver>(w); }

}  // namespace wsring::bench
