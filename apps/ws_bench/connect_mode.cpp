// connect mode: CONNS slots, each cycling connect → upgrade → close
// handshake → EOF as fast as the server allows. A cycle counts when it
// closed cleanly inside the measured window; its latency is the time from
// connect() to the 101 response (the handshake a user waits for). With
// --raw the "close" is our close frame coming back from the echo server.
#include "apps/ws_bench/mode_driver.hpp"
#include "apps/ws_bench/worker.hpp"

namespace wsring::bench {

namespace {

class connect_driver final : public mode_driver {
public:
    explicit connect_driver(worker& w) : w_(w) {}

    conn_kind kind_of(std::size_t) const override { return conn_kind::cycler; }
    bool opens_at_setup(std::size_t) const override { return false; }

    void on_phase(run_phase p) override {
        if (p != run_phase::warmup && p != run_phase::measure) return;
        for (auto& c : w_.conns())
            if (c.state == conn_state::unused) w_.open(c);
    }

    void on_open(client_conn& c) override {
        if (w_.measuring()) w_.record_latency(w_.now() - c.started_ns);
        w_.begin_close(c);
    }

    // A greeting or any other message is allowed; the cycle only closes.
    void on_message(client_conn&, bool, std::span<std::byte>) override {}

    void on_closed(client_conn& c) override {
        if (c.clean && w_.measuring()) {
            ++c.completed;
            ++w_.stats().messages;
        }
        if (w_.sending()) w_.reopen_later(c);
    }

    void finish() override {
        for (auto& c : w_.conns()) w_.stats().per_conn.push_back(c.completed);
    }

private:
    worker& w_;
};

}  // namespace

std::unique_ptr<mode_driver> make_connect_driver(worker& w) { return std::make_unique<connect_driver>(w); }

}  // namespace wsring::bench
