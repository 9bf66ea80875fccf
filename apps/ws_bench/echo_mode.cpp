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
#include "apps/ws_bench/window_driver.hpp"
#include "apps/ws_bench/worker.hpp"

namespace wsring::bench {

namespace {

class echo_driver final : public window_driver {
public:
    explicit echo_driver(worker& w) : window_driver(w) {}

    conn_kind kind_of(std::size_t) const override { return conn_kind::echo; }

    void fill(client_conn& c) override {
        if (!w_.sending()) return;
        while (c.outstanding < window_) {
            if (!w_.queue_frame(c, next_payload(c))) break;  // the block is full: more after this send
            sent(c);
        }
    }

    void on_message(client_conn& c, bool text, std::span<std::byte> payload) override {
        if (check(c, text, payload)) replied(c, payload.size());
    }

    void on_phase(run_phase p) override {
        if (last_ == run_phase::measure && p != run_phase::measure) record_unfinished();
        last_ = p;
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

    run_phase last_ = run_phase::setup;
};

}  // namespace

std::unique_ptr<mode_driver> make_echo_driver(worker& w) { return std::make_unique<echo_driver>(w); }

}  // namespace wsring::bench
