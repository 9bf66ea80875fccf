// The seam between the worker (sockets, upgrade, framing, close handshakes)
// and what a mode does with an open connection. A driver decides what to
// send when there is room (fill), what a received message means
// (on_message) and what to do when a connection opens or ends. One file per
// mode: echo_mode.cpp, broadcast_mode.cpp, connect_mode.cpp, idle_mode.cpp,
// replay_mode.cpp, http_publish_mode.cpp (which reads the byte stream itself:
// HTTP answers, no frames).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "apps/ws_bench/client_conn.hpp"
#include "apps/ws_bench/shared_state.hpp"

namespace wsring::bench {

class worker;

class mode_driver {
public:
    virtual ~mode_driver() = default;
    // Which kind each of this worker's connections plays, in order.
    virtual conn_kind kind_of(std::size_t index) const = 0;
    // Whether connection `index` opens in the set-up phase (connect mode
    // opens none; replay only its filler).
    virtual bool opens_at_setup(std::size_t) const { return true; }
    // The request-target of the upgrade ("" = the URL's path).
    virtual std::string request_path(const client_conn&) const { return {}; }
    virtual void on_open(client_conn&) {}
    virtual void on_phase(run_phase) {}
    // The send block has room and the connection is open: queue what is due.
    virtual void fill(client_conn&) {}
    // A data message; on a wsring.v1 connection its position was checked
    // and stripped (c.v1 holds it), and notices go to on_notice instead.
    virtual void on_message(client_conn& c, bool text, std::span<std::byte> payload) = 0;
    virtual void on_notice(client_conn&) {}
    // Modes without WebSocket frames (http-publish): every byte read after
    // connect goes here; returns how many it used (the rest waits for more).
    virtual bool reads_stream() const { return false; }
    virtual std::size_t on_stream(client_conn&, std::span<const std::byte>) { return 0; }
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
std::unique_ptr<mode_driver> make_replay_driver(worker& w);
std::unique_ptr<mode_driver> make_http_publish_driver(worker& w);

}  // namespace wsring::bench
