// One process per port. Every reactor of a server has its own listener on
// the same port (SO_REUSEPORT, so the kernel spreads connections over them),
// but SO_REUSEPORT would equally let a second ws-server, started by mistake
// on a port in use, join the group and silently take a share of the clients.
// A port_claim, taken before the listeners are made, refuses that:
//   - a probe binds host:port *without* SO_REUSEPORT: any listener already
//     there (ours from another process, or anyone's) makes it fail with
//     EADDRINUSE, the ordinary "address already in use";
//   - a start-up lock (an abstract-namespace Unix socket named after the
//     port) covers the gap between the probe and our own binds, so two
//     servers started at the same instant cannot both pass the probe.
// The lock is held only while starting (release() after the binds): after
// that our listeners themselves make every later probe fail. A listener
// already there is given a second to go away (a killed io_uring server's
// closes a few ms after its process is gone) before the claim fails.
// Read next: net/server.cpp.
#pragma once
#include <string>

#include "net/socket.hpp"

namespace wsring::net {

class port_claim {
public:
    port_claim() = default;
    port_claim(const port_claim&) = delete;
    port_claim& operator=(const port_claim&) = delete;
    ~port_claim() { release(); }

    // Claims opts.host:opts.port (port != 0) for this process, or returns
    // false with `why` ("bind 0.0.0.0:9001: Address already in use").
    bool take(const listen_options& opts, std::string& why);
    // Ends the start-up lock (our listeners now hold the port).
    void release();

private:
    int lock_fd_ = -1;
};

}  // namespace wsring::net
