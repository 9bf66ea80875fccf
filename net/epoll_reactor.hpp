// The readiness backend: one edge-triggered epoll loop per thread. It owns
// the listener (its own SO_REUSEPORT socket), the connection slab, the timer
// wheel, the one receive buffer and the output block pool of its reactor,
// and it only moves bytes: what they mean is net/session.cpp's business.
//
// The loop's phases, in order (docs/reactors.md numbers them):
//   1 timers  2 wait (epoll_wait)  3 reads (and accepts)  4 cross-thread work
//   5 flush writes (one gather write per dirty connection)  6 recycle slots.
// Read next: net/epoll_reactor.cpp.
#pragma once
#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "core/consumer_wakeup.hpp"
#include "core/timer_wheel.hpp"
#include "net/connection.hpp"
#include "net/reactor.hpp"
#include "net/session.hpp"
#include "net/transport.hpp"
#include "net/write_queue.hpp"

namespace wsring::net {

class epoll_reactor final : public reactor, private transport {
public:
    epoll_reactor(int listen_fd, const reactor_options& ro, const session_options& so,
                  session_shared& shared, std::unique_ptr<message_handler> handler);
    ~epoll_reactor() override;

    // reactor
    void run() override;
    void stop() override;
    void wake() override;
    void set_wakeup_hook(wakeup_hook hook) override { hook_ = std::move(hook); }
    session& sessions() override { return session_; }
    std::string_view backend_name() const override { return "epoll"; }
    reactor_stats stats() const override { return {accepted_, session_.stats()}; }

private:
    // transport: what the session asks of us.
    void flush_soon(connection& c) override;
    void read_soon(connection& c) override;
    void shutdown_write(connection& c) override;
    void close(connection& c) override;
    core::timer_wheel& timers() override { return wheel_; }
    segment_pool& pool() override { return pool_; }

    // The loop phases, in order.
    void run_timers();                     // 1
    int wait_timeout() const;              // 2: how long phase 2 may sleep
    void wait_and_dispatch(int timeout);   // 2 + 3
    void on_event(const epoll_event& ev);  // 3
    void accept_some();                    // 3: the listener
    void adopt(int fd);
    void read(connection& c);              // 3: one connection
    void read_queued();                    // 3: connections carried over from the last turn
    void run_cross_thread();               // 4
    void flush_all();                      // 5
    void flush(connection& c);
    void recycle_closed();                 // 6

    void on_reactor_timer(core::timer_node& n);
    void pause_accepting();
    void begin_drain();
    void epoll_add(int fd, std::uint32_t events, std::uint64_t data);

    reactor_options ro_;
    std::chrono::steady_clock::time_point start_;
    int epfd_ = -1;
    int listen_fd_ = -1;
    core::consumer_wakeup wakeup_;  // eventfd + announce-sleep flag
    wakeup_hook hook_;
    std::atomic<bool> stop_requested_{false};
    // Set by wake(): "run the hook", seen even if we were not asleep yet.
    alignas(64) std::atomic<bool> woken_{false};
    bool draining_ = false;       // stop() seen: listener closed, closes sent
    bool drain_expired_ = false;  // shutdown_timeout passed: force-close the rest

    core::timer_wheel wheel_;
    segment_pool pool_;        // before conns_: queues give blocks back on destruction
    connection_pool conns_;
    std::unique_ptr<message_handler> handler_;
    session session_;
    core::timer_node accept_timer_;  // retry accept after EMFILE
    core::timer_node drain_timer_;   // the shutdown deadline

    std::unique_ptr<std::byte[]> rbuf_;  // the receive buffer: untouched pages cost no RSS
    std::vector<epoll_event> events_;
    connection* dirty_ = nullptr;        // to flush this turn (through next_dirty)
    connection* reads_ = nullptr;        // to read next turn (through next_read)
    std::vector<connection*> closed_;    // to recycle at the end of the turn
    std::uint64_t accepted_ = 0;
    bool accept_error_logged_ = false;
};

}  // namespace wsring::net
