// Start-up order matters for --port 0: the first listener binds an
// ephemeral port, the others bind that same port with SO_REUSEPORT. All
// listeners exist before the first thread starts, so a bind error leaves
// nothing half-running. A fixed port is claimed first (net/port_claim.hpp):
// the reactors of this process share it, another process cannot join them.
#include "net/server.hpp"

#include <unistd.h>

#include <stdexcept>

#include "net/echo_handler.hpp"
#include "net/port_claim.hpp"
#include "net/socket.hpp"
#include "proto/handshake.hpp"

namespace wsring::net {

server::server(server_options opts) : opts_(std::move(opts)) {
    if (opts_.threads == 0) opts_.threads = std::max(1u, std::thread::hardware_concurrency());
    if (!opts_.make_handler) opts_.make_handler = [] { return std::make_unique<echo_handler>(); };
}

server::~server() {
    if (!threads_.empty()) {
        stop();
        wait();
    }
}

void server::start() {
    // OpenSSL sets up its providers on the first digest (~2 MB of library
    // pages, a few ms): pay that at start-up, not in the first client's
    // handshake.
    (void)proto::accept_key("dGhlIHNhbXBsZSBub25jZQ==");
    std::vector<int> fds;
    listen_options lo{.host = opts_.host, .port = opts_.port};
    port_claim claim;  // a fixed port: nobody else may be listening there
    if (std::string why; lo.port != 0 && !claim.take(lo, why))
        throw std::runtime_error("cannot listen on " + format_address(lo.host, lo.port) + ": " + why);
    for (unsigned i = 0; i < opts_.threads; ++i) {
        std::string why;
        int fd = listen_tcp(lo, why);
        if (fd < 0) {
            for (int f : fds) ::close(f);
            throw std::runtime_error("cannot listen on " + format_address(lo.host, lo.port) +
                                     ": " + why);
        }
        if (i == 0) {
            int p = local_port(fd);
            port_ = static_cast<std::uint16_t>(p > 0 ? p : 0);
            lo.port = port_;  // the others join the same port
        }
        fds.push_back(fd);
    }
    opts_.reactor.tls = opts_.tls.get();  // the context outlives the reactors: we hold it
    for (int fd : fds)
        reactors_.push_back(make_reactor(opts_.backend, fd, opts_.reactor, opts_.session, shared_,
                                         opts_.make_handler()));
    if (opts_.setup_reactor)
        for (unsigned i = 0; i < reactors_.size(); ++i) opts_.setup_reactor(*reactors_[i], i);
    for (unsigned i = 0; i < reactors_.size(); ++i)
        threads_.emplace_back([this, rp = reactors_[i].get(), i] {
            rp->run();
            if (opts_.reactor_exited) opts_.reactor_exited(i);
        });
}

void server::stop() {
    for (auto& r : reactors_) r->stop();
}

void server::wait() {
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

std::string_view server::backend_name() const {
    return reactors_.empty() ? std::string_view("epoll") : reactors_.front()->backend_name();
}

reactor_stats server::stats() const {
    reactor_stats sum;
    for (auto& r : reactors_) {
        reactor_stats s = r->stats();
        sum.accepted += s.accepted;
        sum.write_blocks_peak += s.write_blocks_peak;
        sum.session += s.session;
        sum.tls += s.tls;
        sum.uring += s.uring;
    }
    return sum;
}

}  // namespace wsring::net
