// replay mode: how fast a wsring.v1 server hands a reconnecting subscriber
// what it missed. Set-up: one filler connection (worker 0's first) reads the
// topic's "!position E:O", publishes --history H messages and waits for its
// own copies (E:O+1 .. E:O+H), so the history surely holds them. Then each
// of -c slots loops: connect with "?since=E:O", receive the H replayed
// messages, close, reconnect — the catch-up a client does after a network
// blip. Counted: replayed messages in the measured window (per second and
// per server-CPU-second; each cycle's connect, upgrade and close are part
// of the price, once per H messages), and per cycle the time from connect()
// to the last replayed message. Every replayed message is checked: its
// position by the cursor (contiguous from E:O+1), its size, and its stamp
// (message i of the fill sits at offset O+1+i); --verify compares every byte.
// The topic must be quiet: another publisher's messages would be faults.
#include <string>

#include "apps/ws_bench/mode_driver.hpp"
#include "apps/ws_bench/worker.hpp"

namespace wsring::bench {

namespace {

class replay_driver final : public mode_driver {
public:
    explicit replay_driver(worker& w) : w_(w), at_(w.payload().stamp_offset()), history_(w.opts().history) {}

    // The filler is worker 0's connection 0; every other one cycles.
    conn_kind kind_of(std::size_t i) const override {
        return w_.index() == 0 && i == 0 ? conn_kind::publisher : conn_kind::cycler;
    }
    bool opens_at_setup(std::size_t i) const override { return kind_of(i) == conn_kind::publisher; }

    std::string request_path(const client_conn& c) const override {
        if (c.kind != conn_kind::cycler) return {};
        const auto& sh = w_.shared();
        return w_.opts().target.path + "?since=" + sh.since_epoch + ":" + std::to_string(sh.since_offset);
    }

    // Slots start cycling with the warm-up: by then the fill is done.
    void on_phase(run_phase p) override {
        if (p != run_phase::warmup && p != run_phase::measure) return;
        base_ = w_.shared().since_offset;
        for (auto& c : w_.conns())
            if (c.kind == conn_kind::cycler && c.state == conn_state::unused) w_.open(c);
    }

    // A ?since connection stands where it asked to stand.
    void on_open(client_conn& c) override {
        if (c.kind == conn_kind::cycler) c.v1.place(w_.shared().since_epoch, base_);
    }

    // The filler's "!position E:O": the history starts after O.
    void on_notice(client_conn& c) override {
        if (c.kind != conn_kind::publisher || filling_) return;
        filling_ = true;
        base_ = c.v1.offset;
        w_.mark_dirty(c);
    }

    void fill(client_conn& c) override {
        if (c.kind != conn_kind::publisher || !filling_) return;
        for (; c.send_seq < history_; ++c.send_seq) {
            auto payload = w_.payload().message(c.send_seq);
            write_nibbles(payload.data() + at_, c.send_seq, echo_header_bytes);
            if (!w_.queue_frame(c, payload)) break;  // the block is full: more after this send
        }
    }

    void on_message(client_conn& c, bool text, std::span<std::byte> payload) override {
        if (!check(c, text, payload)) return;
        bool last = c.v1.offset == base_ + history_;
        if (c.kind == conn_kind::publisher) {
            if (last) fill_done(c);
            return;
        }
        if (w_.measuring()) {
            ++c.completed;
            ++w_.stats().messages;
            w_.stats().bytes += payload.size();
        }
        if (!last) return;
        if (w_.measuring()) {
            w_.record_latency(w_.now() - c.started_ns);
            ++w_.stats().cycles;
        }
        w_.begin_close(c);
    }

    void on_closed(client_conn& c) override {
        if (c.kind == conn_kind::publisher && w_.shared().fill.load(std::memory_order_relaxed) == 0)
            w_.shared().fill.store(-1, std::memory_order_release);  // partner: coordinator::wait_fill
        if (c.kind == conn_kind::cycler && w_.sending()) w_.reopen_later(c);
    }

    void finish() override {
        for (auto& c : w_.conns())
            if (c.kind == conn_kind::cycler) w_.stats().per_conn.push_back(c.completed);
    }

private:
    // Type, size and stamp: message i of the fill is at offset base + 1 + i.
    bool check(client_conn& c, bool text, std::span<const std::byte> payload) {
        if (text != w_.opts().text)
            return w_.fail(c, fault::unexpected_opcode, "message type differs from the one published"), false;
        if (payload.size() != w_.opts().size)
            return w_.fail(c, fault::length_mismatch,
                           "expected " + std::to_string(w_.opts().size) + " bytes, got " + std::to_string(payload.size())),
                   false;
        std::uint64_t seq = 0, due = c.v1.offset - base_ - 1;
        if (!read_nibbles(payload.data() + at_, echo_header_bytes, seq))
            return w_.fail(c, fault::content_mismatch, "sequence stamp corrupted"), false;
        if (seq != due)
            return w_.fail(c, fault::content_mismatch,
                           "offset " + std::to_string(c.v1.offset) + " holds fill message " + std::to_string(seq) +
                               ", not " + std::to_string(due) + " (another publisher on the topic?)"),
                   false;
        if (w_.opts().verify && !w_.payload().body_matches(payload, echo_header_bytes, seq))
            return w_.fail(c, fault::content_mismatch, "payload bytes differ from what was published"), false;
        return true;
    }

    // Every fill message came back: the history holds (base, base + H].
    void fill_done(client_conn& c) {
        auto& sh = w_.shared();
        sh.since_epoch = c.v1.epoch;
        sh.since_offset = base_;
        sh.fill.store(1, std::memory_order_release);  // partner: coordinator::wait_fill
    }

    worker& w_;
    std::size_t at_;  // where the stamp starts (payload_template::stamp_offset)
    std::uint64_t history_;
    std::uint64_t base_ = 0;  // the position before the fill: ?since=E:base
    bool filling_ = false;
};

}  // namespace

std::unique_ptr<mode_driver> make_replay_driver(worker& w) { return std::make_unique<replay_driver>(w); }

}  // namespace wsring::bench
