// idle mode: open CONNS connections, send nothing, hold them while the
// coordinator reads the server's memory, then close each one cleanly. The
// worker still answers pings (RFC 6455 §5.5.2), so a server with a ping
// interval sees live clients. Messages a server pushes are accepted.
#include "apps/ws_bench/mode_driver.hpp"
#include "apps/ws_bench/worker.hpp"

namespace wsring::bench {

namespace {

class idle_driver final : public mode_driver {
public:
    explicit idle_driver(worker&) {}
    conn_kind kind_of(std::size_t) const override { return conn_kind::idle; }
    void on_message(client_conn&, bool, std::span<std::byte>) override {}
};

}  // namespace

std::unique_ptr<mode_driver> make_idle_driver(worker& w) { return std::make_unique<idle_driver>(w); }

}  // namespace wsring::bench
