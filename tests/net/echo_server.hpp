// An echo server reactor (net/echo_handler) of a chosen backend on its own
// thread, listening on an ephemeral port of 127.0.0.1, for the client-side
// tests (tests/net/dial_test.cpp, tests/net/ws_client_test.cpp).
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "net/echo_handler.hpp"
#include "net/reactor.hpp"
#include "net/socket.hpp"

namespace wsring::net::test {

class echo_server {
public:
    explicit echo_server(backend_kind kind, const tls_context* tls = nullptr) {
        std::string why;
        const int fd = listen_tcp({.host = "127.0.0.1", .port = 0}, why);
        EXPECT_GE(fd, 0) << why;
        port_ = local_port(fd);
        reactor_options ro;
        ro.tls = tls;
        r_ = make_reactor(kind, fd, ro, {}, shared_, std::make_unique<echo_handler>());
        t_ = std::thread([this] { r_->run(); });
    }
    ~echo_server() {
        r_->stop();
        t_.join();
    }
    int port() const { return port_; }

private:
    session_shared shared_;
    std::unique_ptr<reactor> r_;
    std::thread t_;
    int port_ = 0;
};

}  // namespace wsring::net::test
