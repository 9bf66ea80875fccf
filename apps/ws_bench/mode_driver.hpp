// The seam between the worker (sockets, upgrade, framing, close handshakes)
// and what a mode does with an open connection. A driver decides what to
// send when there is room (fill), what a received message means
// (on_message) and what to do when a connection opens or ends. One file per
// mode: echo_mode.cpp, broadcast_mode.cpp, connect_mode.cpp, idle_mode.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "apps/ws_bench/client_conn.hpp"
#include "apps/ws_bench/shared_state.hpp"

namespace wsring::bench {

class worker;

class mode_driver {
public:
    virtual ~mode_driver() = default;
    // Which kind each of this worker's connections plays, in order.
    virtual conn_kind kind_of(std::size_t index) const = 0;
    // Connections to open in the set-up phase (connect mode opens none).
    virtual bool opens_at_setup() const { return true; }
    virtual void on_open(client_conn&) {}
    virtual void on_phase(run_phase) {}
    // The send block has room and the connection is open: queue what is due.
    virtual void fill(client_conn&) {}
    virtual void on_message(client_conn& c, bool text, std::span<std::byte> payload) = 0;
    virtual void on_closed(client_conn&) {}
    // Once per loop turn (rate-paced and window-paced senders).
    virtual void on_tick() {}
    // Replies still due (for the drain phase).
    virtual std::uint64_t outstanding() const { return 0; }
    // The run is over: fold per-connection tallies into the worker's stats.
    virtual void finish() {}
};

std::unique_ptr<mode_driver> make_echo_driver(worker& w);
std::unique_ptr<mode_driver> make_broadcast_driver(worker& w);
std::unique_ptr<mode_driver> make_connect_driver(worker& w);
std::unique_ptr<mode_driver> make_idle_driver(worker& w);

}  // namespace wsring::bench
