// The server: N reactors on N threads, each with its own SO_REUSEPORT
// listener on one port (the kernel spreads connections by hash), sharing
// nothing but an atomic connection count. It owns start-up (bind errors
// are reported before any thread starts), stop and join; signal handling
// is the application's (apps/ws_server.cpp). Read next: net/reactor.hpp.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/reactor.hpp"

namespace wsring::net {

struct server_options {
    std::string host = "0.0.0.0";
    std::uint16_t port = 9001;  // 0: pick one (all reactors share it)
    unsigned threads = 0;       // 0: one per core
    // io_uring where this kernel allows it, else epoll with one line saying
    // why (make_reactor). io_uring is the default since it measured at least
    // level with epoll on every row of the benchmark matrix and ahead on most
    // (docs/performance.md, "io_uring as the default").
    backend_kind backend = backend_kind::uring;
    session_options session;
    reactor_options reactor;
    // wss://: the listener speaks only TLS with this context (null: ws://).
    std::shared_ptr<const tls_context> tls;
    // One handler per reactor (default: echo).
    std::function<std::unique_ptr<message_handler>()> make_handler;
    // Called for each reactor (with its index) after it is built and before
    // its thread starts: where cross-thread plumbing (the broadcast ring's
    // wakeup_hook, a list of reactors to wake()) is attached.
    std::function<void(net::reactor&, unsigned)> setup_reactor;
    // Called on each reactor's own thread right after its run() returns:
    // where it stops holding others back (the broadcast ring's detach).
    std::function<void(unsigned)> reactor_exited;
};

class server {
public:
    explicit server(server_options opts);
    ~server();  // stops and joins if still running
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds every listener and starts every reactor thread. Throws
    // std::runtime_error with a message a user can act on (port in use...).
    void start();
    // Any thread: graceful stop of every reactor (returns at once).
    void stop();
    // Joins the reactor threads (after stop(), or when they end).
    void wait();

    std::uint16_t port() const { return port_; }
    unsigned threads() const { return static_cast<unsigned>(reactors_.size()); }
    std::string_view backend_name() const;
    // Sum over reactors, from any thread (relaxed counters, no lock); exact after wait().
    reactor_stats stats() const;
    // WebSockets open now, all reactors (any thread).
    std::uint64_t open_connections() const { return shared_.open.load(std::memory_order_relaxed); }
    const server_options& options() const { return opts_; }

private:
    server_options opts_;
    std::uint16_t port_ = 0;
    session_shared shared_;
    std::vector<std::unique_ptr<reactor>> reactors_;
    std::vector<std::thread> threads_;
};

}  // namespace wsring::net
