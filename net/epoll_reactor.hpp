// The readiness backend: one edge-triggered epoll loop per thread, with the
// one receive buffer of its reactor. The loop, the listener, the connection
// slab, the timer wheel and the output block pool are reactor_base's
// (net/reactor_base.hpp, shared with io_uring); this file only moves bytes:
// what they mean is net/session.cpp's business.
//
// The loop's phases, in order (docs/reactors.md numbers them):
//   1 wait (epoll_wait)  2 clock + timers  3 reads (and accepts)  4 cross-thread work
//   5 flush writes (one gather write per dirty connection)  6 recycle slots.
// Read next: net/epoll_reactor.cpp.
#pragma once
#include <sys/epoll.h>

#include <memory>
#include <string_view>
#include <vector>

#include "net/reactor_base.hpp"

namespace wsring::net {

class epoll_reactor final : public reactor_base {
public:
    epoll_reactor(int listen_fd, const reactor_options& ro, const session_options& so,
                  session_shared& shared, std::unique_ptr<message_handler> handler);
    ~epoll_reactor() override;

    std::string_view backend_name() const override { return "epoll"; }

private:
    // transport: what the session asks of us, the socket calls (flush_soon,
    // read_soon and TLS in front of these are reactor_base's).
    void shutdown_socket(connection& c) override;
    void close_socket(connection& c) override;

    // The loop phases, in order (the names of net/uring_reactor.cpp).
    void wait_and_dispatch(int timeout) override;  // 1 + 2 + 3
    void on_event(const epoll_event& ev);          // 3
    void accept_some();                            // 3: the listener
    bool watch(connection& c) override;            // 3: adopt()'s part
    void read(connection& c);                      // 3: one connection
    void read_queued() override;                   // 3: connections carried over from the last turn
    void flush(connection& c) override;            // 5

    void close_listener() override;
    void mute_listener() override;
    void resume_accepting() override;
    void epoll_add(int fd, std::uint32_t events, std::uint64_t data);

    int epfd_ = -1;
    std::vector<epoll_event> events_;
};

}  // namespace wsring::net
