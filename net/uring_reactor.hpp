// The completion backend: one io_uring per thread. Multishot accept on the
// reactor's listener; one multishot recv per connection into a ring of
// provided buffers shared by every connection of the reactor (an idle
// connection holds no buffer); one send per dirty connection per loop turn,
// gathering the write queue's segments (sendmsg); every submission of a
// turn leaves in the one io_uring_enter that also waits. The loop, timers,
// wake-ups and shutdown are reactor_base's; the meaning of the bytes is
// net/session.cpp's. Only built where liburing is (WSRING_HAVE_URING).
//
// The loop's phases, in order (docs/reactors.md numbers them):
//   1 wait (submit + wait for CQEs)  2 clock + timers  3 completions, re-arms
//   4 cross-thread work  5 flush writes (prep one send each)  6 recycle slots.
// Read next: net/uring_reactor.cpp.
#pragma once
#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/reactor_base.hpp"

namespace wsring::net {

// The provided-buffer ring's shape: count (a power of two) × size bytes,
// address space reserved per reactor and touched only as deep as the
// busiest moment needed. Consumed incrementally (kernel 6.12+): a recv
// takes only the bytes it read from the buffer at the ring's head, so a
// 16-byte message takes 16 bytes and a 64 KiB one can arrive in one CQE.
// Older kernels get the same memory as 4 KiB buffers, a whole one per recv.
// One buffer of 512 KiB: the recvs of a turn fill it from its start, as
// epoll's reads fill the receive buffer, so the bytes the kernel copies in
// land where the last turn's were (on a core with 512 KiB of L2, still
// there when the session unmasks them), and a 64 KiB frame is cut at its
// end at most once per turn (each cut one is copied into the decoder's
// message). When it runs dry, the connection is read at once into the
// reactor's receive buffer (on_recv_cqe), so a small ring costs little.
// Small fixed rings starved some connections when the server was the
// bottleneck (1,000 x 16 x 1 KiB echo on a saturated core: p99 83-267 ms
// against 22-50 ms in many rounds), so the ring used to grow while it ran
// dry (2 x 256 KiB up to 8), which cost the 64 KiB echo 13 % per CPU. The
// cause was the re-arm after -ENOBUFS jumping the kernel's queue; it now
// polls first (on_recv_cqe), and this ring was fair in 24 rounds of 24.
// Measured: docs/performance.md, "io_uring at 64 KiB".
struct uring_buffers {
    unsigned count = 1;          // a power of two
    unsigned size = 512u << 10;  // a multiple of 4 KiB
    bool whole = false;          // the layout of kernels before 6.12 even on a newer one (tests)
};

class uring_reactor final : public reactor_base {
public:
    // Whether this kernel (and its sysctls, seccomp filter) gives us what
    // this backend needs; if not, `why` says what is missing, for the one
    // fallback log line (net/reactor.cpp). WSRING_DISABLE_URING=1 says no.
    static bool available(std::string& why);

    // Aborts with a message if the ring cannot be set up: ask available() first.
    // Tests shrink `buffers` to run the ring dry, and ask for the whole-buffer
    // layout (that path runs nowhere else on a kernel with incremental rings).
    uring_reactor(int listen_fd, const reactor_options& ro, const session_options& so,
                  session_shared& shared, std::unique_ptr<message_handler> handler,
                  uring_buffers buffers = {});
    ~uring_reactor() override;

    void run() override;  // reactor_base's loop, between arming and quiesce()
    std::string_view backend_name() const override { return "uring"; }

    static constexpr unsigned whole_buffer_size = 4096;
    // Buffers in the ring (whole 4 KiB ones on older kernels): after
    // run() returned, or on the loop thread.
    unsigned provided_buffers() const { return buffers_; }
    // The most read of one connection in one turn, ring and plain reads
    // together, in 4 KiB units rounded up per read (connection::
    // turn_read_4k): about recv_buffer at most. After run() returned.
    unsigned most_read_in_a_turn_4k() const { return most_turn_read_4k_; }
    // reactor_base's, with uring_stats: the replies sent as send SQEs of a
    // busy turn (queue_own_replies) and the recvs the dry ring ended.
    reactor_stats stats() const override {
        reactor_stats s = reactor_base::stats();
        s.uring = uring_stats_;
        return s;
    }

    // A busy turn: one that starts with this many completions ready. Its
    // WebSocket replies are batched (queue_own_replies), replies_per_submit
    // to an io_uring_submit.
    static constexpr unsigned busy_turn_cqes = 8;
    static constexpr unsigned replies_per_submit = 16;

private:
    struct send_msg;  // msghdr + iovecs of a gather send in flight

    // transport: what the session asks of us, the socket calls (flush_soon,
    // read_soon and TLS in front of these are reactor_base's).
    void shutdown_socket(connection& c) override;
    void close_socket(connection& c) override;
    bool send_in_flight(const connection& c) const override;

    // The loop phases, in order (the names of net/epoll_reactor.cpp).
    void wait_and_dispatch(int timeout) override;  // 1 + 2 + 3
    void dispatch();                               // 3: every CQE there is
    void on_cqe(const io_uring_cqe& cqe);          // 3
    void on_accept_cqe(const io_uring_cqe& cqe);   // 3: the listener
    bool watch(connection& c) override;            // 3: adopt()'s part
    void on_recv_cqe(connection& c, const io_uring_cqe& cqe);  // 3: one connection
    void read_queued() override;                   // 3: re-arms, direct reads
    bool reads_direct_ok(connection& c);
    // 3: one connection's reads this turn (connection::turn_read_4k).
    void count_read(connection& c, std::size_t bytes);
    std::size_t turn_share(const connection& c) const;
    ssize_t read_within_share(connection& c);
    bool end_recv_if_paused(connection& c);        // 3: backpressure
    void flush(connection& c) override;            // 5
    void flush_now(connection& c) override;        // 3: flush_own_replies()'s
    void queue_own_replies(connection& c);         // 3: ... in a busy turn
    void on_send_cqe(connection& c, const io_uring_cqe& cqe, std::uint16_t msg);

    void close_listener() override;
    void mute_listener() override {}  // the multishot accept already ended
    void resume_accepting() override { prep_accept(); }

    // One prep_* per SQE kind (lifecycles in uring_reactor.cpp).
    io_uring_sqe* get_sqe();
    void prep_accept();
    void prep_wakeup_poll();
    void prep_recv(connection& c, bool poll_first = false);
    void prep_send(connection& c, const iovec* iov, std::size_t n);
    void prep_cancel_recv(connection& c);
    void prep_close(int fd, bool cancel_first);
    void prep_close(connection& c);
    void setup_buffers();
    void consume_buffer(std::uint16_t bid, const io_uring_cqe& cqe);
    void give_back_buffer(std::uint16_t bid);

    std::uint16_t take_send_msg();
    void quiesce();  // after the loop: end the listener's and wakeup's ops

    io_uring ring_{};
    io_uring_buf_ring* bufs_ = nullptr;  // the provided-buffer ring (mmap'ed)
    std::byte* buf_mem_ = nullptr;       // buffers_ × buf_size_ (mmap'ed)
    unsigned buffers_;                   // the ring's entries; cut into whole 4 KiB ones: size / 4 KiB times more
    unsigned buf_size_;                  // whole_buffer_size without incremental rings
    bool submitted_mid_batch_ = false;   // get_sqe() had to submit: no direct reads this turn
    bool whole_buffers_;                 // the constructor's: as if the kernel had none
    std::vector<std::uint32_t> used_;    // incremental: bytes read from each buffer so far
    std::vector<std::unique_ptr<send_msg>> msgs_;  // index + 1 travels in user_data
    std::vector<std::uint16_t> free_msgs_;
    std::vector<connection*> read_this_turn_;  // turn_read_4k > 0: zeroed at the turn's end
    std::uint8_t most_turn_read_4k_ = 0;       // most_read_in_a_turn_4k()
    bool busy_turn_ = false;                   // busy_turn_cqes at this turn's start
    unsigned unsubmitted_replies_ = 0;         // queue_own_replies' sends not yet submitted
    uring_stats uring_stats_;                  // stats(): written here, read from anywhere
    bool accept_armed_ = false;  // the multishot accept may still post a CQE
    bool wakeup_armed_ = false;  // the multishot poll on the eventfd
    bool quiescing_ = false;     // run() is over: re-arm nothing
    std::size_t closes_in_flight_ = 0;  // IORING_OP_CLOSEs not completed yet
};

}  // namespace wsring::net
