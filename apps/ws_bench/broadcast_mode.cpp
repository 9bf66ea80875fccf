// broadcast mode: CONNS receivers and --publishers senders on one server in
// broadcast (or pub/sub) mode. Each payload carries its publisher, a
// per-publisher sequence number and the send time (payload.hpp), so a
// receiver measures publish-to-delivery latency on the shared monotonic
// clock and notices loss (a sequence never seen) and reordering (one seen
// late).
// Pacing: with --rate R each publisher sends on a fixed schedule and stamps
// the *scheduled* time (open loop: a stalled server cannot hide its backlog
// from the latency); without it a publisher keeps at most INFLIGHT messages
// ahead of the slowest worker's tracking receiver (its first receiver).
// --publish-url sends the publishers to another server than the receivers
// (two nodes of a cluster, ws-server --redis): the stamps still come from
// this process's clock, so the latency is publish on one node to delivery
// on the other, Redis' hop included.
#include <algorithm>
#include <string>

#include "apps/ws_bench/mode_driver.hpp"
#include "apps/ws_bench/worker.hpp"

namespace wsring::bench {

namespace {

class broadcast_driver final : public mode_driver {
public:
    explicit broadcast_driver(worker& w)
        : w_(w),
          receivers_(w.receivers()),
          publishers_(w.shared().publishers),
          at_(w.payload().stamp_offset()),
          rate_(w.opts().rate) {
        auto& conns = w.conns();
        for (std::size_t i = receivers_; i < conns.size(); ++i)
            conns[i].publisher = w.first_publisher() + static_cast<std::uint32_t>(i - receivers_);
    }

    conn_kind kind_of(std::size_t i) const override {
        return i < receivers_ ? conn_kind::receiver : conn_kind::publisher;
    }

    void on_open(client_conn& c) override {
        if (c.kind != conn_kind::receiver) return;
        c.next_seq.assign(publishers_, 0);
        c.received.assign(publishers_, 0);
        c.reordered.assign(publishers_, 0);
    }

    // Publishing starts with the first sending phase a worker sees. Workers
    // see only the phase the coordinator set last, so with --warmup 0 they
    // go from setup straight to measure: waiting for warmup there, the
    // publishers sent nothing and the run reported 0 deliveries, no error.
    void on_phase(run_phase p) override {
        if ((p == run_phase::warmup || p == run_phase::measure) && start_ns_ == 0) start_ns_ = w_.now();
    }

    void on_tick() override {  // pacing and windows move without socket events
        if (!w_.sending()) return;
        for (std::size_t i = receivers_; i < w_.conns().size(); ++i)
            if (w_.conns()[i].state == conn_state::open) w_.mark_dirty(w_.conns()[i]);
    }

    void fill(client_conn& c) override {
        if (c.kind != conn_kind::publisher || !w_.sending() || start_ns_ == 0) return;
        std::uint64_t due = rate_ > 0 ? scheduled(w_.now()) : window_limit(c.publisher);
        while (c.send_seq < due) {
            std::uint64_t ts = rate_ > 0 ? start_ns_ + static_cast<std::uint64_t>(static_cast<double>(c.send_seq) * 1e9 / rate_)
                                         : w_.now();
            broadcast_stamp st{c.publisher, static_cast<std::uint32_t>(c.send_seq), ts};
            auto payload = w_.payload().message(message_key(st));
            write_broadcast_stamp(payload.data() + at_, st);
            if (!w_.queue_frame(c, payload)) break;
            ++c.send_seq;
            if (w_.measuring()) ++w_.stats().sent;
        }
        w_.shared().published[c.publisher].store(c.send_seq, std::memory_order_relaxed);
    }

    void on_message(client_conn& c, bool text, std::span<std::byte> payload) override {
        if (text != w_.opts().text) return w_.fail(c, fault::unexpected_opcode, "message type differs from the one sent");
        if (payload.size() != w_.opts().size)
            return w_.fail(c, fault::length_mismatch,
                           "expected " + std::to_string(w_.opts().size) + " bytes, got " + std::to_string(payload.size()));
        if (c.kind == conn_kind::publisher) return;  // a publisher's own copies: checked, not counted
        broadcast_stamp st;
        if (!read_broadcast_stamp(payload.subspan(at_), st) || st.publisher >= publishers_)
            return w_.fail(c, fault::content_mismatch, "publisher/sequence/timestamp header corrupted");
        if (w_.opts().verify && !w_.payload().body_matches(payload, broadcast_header_bytes, message_key(st)))
            return w_.fail(c, fault::content_mismatch, "payload bytes differ from what was published");
        account(c, st);
        if (!w_.measuring()) return;
        w_.record_latency(w_.now() > st.sent_ns ? w_.now() - st.sent_ns : 0);
        ++c.completed;
        ++w_.stats().messages;
        w_.stats().bytes += payload.size();
    }

    void finish() override {
        auto& tally = w_.stats().publishers;
        tally.resize(publishers_);
        for (std::size_t i = 0; i < receivers_; ++i) {
            client_conn& c = w_.conns()[i];
            if (!c.ws) continue;  // never opened: its faults say why
            w_.stats().per_conn.push_back(c.completed);
            if (c.failed) continue;  // a receiver that failed lost the rest by its own fault
            for (unsigned p = 0; p < publishers_; ++p) {
                std::uint64_t published = w_.shared().published[p].load(std::memory_order_relaxed);
                tally[p].received += c.received[p];
                tally[p].reordered += c.reordered[p];
                if (published > c.received[p]) tally[p].lost += published - c.received[p];
            }
        }
    }

private:
    // Per-publisher order (DESIGN: the ring keeps it for every receiver).
    void account(client_conn& c, const broadcast_stamp& st) {
        std::uint32_t& next = c.next_seq[st.publisher];
        if (st.sequence >= next) next = st.sequence + 1;
        else ++c.reordered[st.publisher];
        ++c.received[st.publisher];
        w_.count_delivery();
        if (&c == &w_.conns()[0])  // this worker's tracking receiver
            w_.shared().tracked_at(w_.index(), st.publisher).store(next, std::memory_order_relaxed);
    }

    std::uint64_t scheduled(std::uint64_t now) const {
        return static_cast<std::uint64_t>(static_cast<double>(now - start_ns_) * rate_ / 1e9) + 1;
    }

    // The window: no more than INFLIGHT ahead of the slowest tracking receiver.
    std::uint64_t window_limit(std::uint32_t pub) const {
        auto& sh = w_.shared();
        std::uint64_t floor = UINT64_MAX;
        for (unsigned wk = 0; wk < sh.workers; ++wk)
            if (sh.has_receivers[wk]) floor = std::min(floor, sh.tracked_at(wk, pub).load(std::memory_order_relaxed));
        return (floor == UINT64_MAX ? 0 : floor) + w_.opts().inflight;
    }

    worker& w_;
    std::size_t receivers_;
    unsigned publishers_;
    std::size_t at_;  // where the stamp starts (payload_template::stamp_offset)
    double rate_;
    std::uint64_t start_ns_ = 0;
};

}  // namespace

std::unique_ptr<mode_driver> make_broadcast_driver(worker& w) { return std::make_unique<broadcast_driver>(w); }

}  // namespace wsring::bench
