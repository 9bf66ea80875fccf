// The io_uring backend's submissions: one prep_* per kind of SQE (what
// each operation is for and how it ends is told at its prep_*), and the
// ring's and the provided-buffer ring's setup. What completes them, and
// gives the ring's buffers back, is net/uring_reactor.cpp.
// Read next: net/uring_reactor.cpp (on_cqe and the phases of a turn).
#ifdef WSRING_HAVE_URING
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "net/log.hpp"
#include "net/uring_ops.hpp"

namespace wsring::net {

namespace uring_detail {

[[noreturn]] void die(const char* what, int err) {
    log(log_level::error, "poller_failed", "%s: %s", what, std::strerror(err));
    std::abort();
}

// The ring as this backend needs it: 6.1+ (DEFER_TASKRUN), so multishot
// accept and recv (5.19, 6.0) and provided-buffer rings (5.19) are there
// too. SINGLE_ISSUER: only the thread that made it submits.
int setup_ring(io_uring& ring) {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
              IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = cq_entries;
    return io_uring_queue_init_params(sq_entries, &ring, &p);
}

int setup_buf_ring(io_uring& ring, unsigned entries, io_uring_buf_ring*& out, std::uint16_t flags) {
    std::size_t bytes = entries * sizeof(io_uring_buf);
    void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -errno;
    out = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(out);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(mem);
    reg.ring_entries = entries;
    reg.bgid = buf_group;
    reg.pad = flags;  // the kernel's `flags`
    int rc = io_uring_register_buf_ring(&ring, &reg, 0);
    if (rc < 0) {
        ::munmap(mem, bytes);
        out = nullptr;
    }
    return rc;
}

std::string describe(int rc) {
    switch (-rc) {
    case ENOSYS: return "the kernel has no io_uring, or a seccomp filter blocks it";
    case EPERM:
    case EACCES: return "io_uring is not permitted here (kernel.io_uring_disabled, or seccomp)";
    case EINVAL: return "the kernel's io_uring is too old (6.1 or later is needed)";
    default: return std::strerror(-rc);
    }
}

}  // namespace uring_detail

using namespace uring_detail;

// ---- the rings -------------------------------------------------------------------------

// The provided buffers, incrementally consumed where the kernel can (6.12+):
// a recv takes only the bytes it read, so a 64 KiB message can arrive in
// one CQE and a 16-byte one takes 16 bytes. Whole 4 KiB buffers meant 16
// CQEs and a reassembly per 64 KiB message (30 k against 34 k messages per
// server-CPU-second); whole 16 or 32 KiB ones ran dry at once, since a
// 16-byte recv takes a whole buffer. The ring's size (uring_buffers) was
// measured against every change that moved it; the rounds, from 64 × 64 KiB
// to today's 1 × 512 KiB, are in docs/performance.md ("io_uring at 64 KiB").
// Older kernels answer EINVAL to the flag and get 4 KiB buffers, whole.
void uring_reactor::setup_buffers() {
    int rc = whole_buffers_ ? -EINVAL : setup_buf_ring(ring_, buffers_, bufs_, pbuf_ring_inc);
    if (rc == -EINVAL) {
        buffers_ *= buf_size_ / whole_buffer_size;  // the same memory
        buf_size_ = whole_buffer_size;
        rc = setup_buf_ring(ring_, buffers_, bufs_);
    } else {
        used_.assign(buffers_, 0);
    }
    if (rc < 0) die("io_uring_register_buf_ring", -rc);
    for (unsigned i = 0; i < buffers_; ++i)
        io_uring_buf_ring_add(bufs_, buf_mem_ + std::size_t{i} * buf_size_, buf_size_,
                              static_cast<unsigned short>(i), io_uring_buf_ring_mask(buffers_),
                              static_cast<int>(i));
    io_uring_buf_ring_advance(bufs_, static_cast<int>(buffers_));
}

// ---- the SQEs, one prep_* per kind ---------------------------------------------------

// A full SQ is handed to the kernel and the SQE taken again: never an exit.
io_uring_sqe* uring_reactor::get_sqe() {
    for (;;) {
        if (io_uring_sqe* s = io_uring_get_sqe(&ring_)) return s;
        submitted_mid_batch_ = true;  // see reads_direct_ok
        unsubmitted_replies_ = 0;
        int rc = io_uring_submit(&ring_);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) die("io_uring_submit", -rc);
    }
}

// Multishot accept: one SQE, one CQE per new connection (a non-blocking,
// close-on-exec fd). It ends (no IORING_CQE_F_MORE) on an error: re-armed
// at once, or by resume_accepting() ~100 ms after running out of fds, or
// never once draining (close_listener() cancels it).
void uring_reactor::prep_accept() {
    if (accept_armed_ || listen_fd_ < 0) return;
    io_uring_sqe* s = get_sqe();
    io_uring_prep_multishot_accept(s, listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, op_data{nullptr, op::accept}.pack());
    accept_armed_ = true;
}

// Multishot poll on the wakeup eventfd: a CQE when a producer kicks us
// (only ever while we sleep), then consumer_wakeup::drain() reads the
// counter back to 0. Re-armed if it ends; cancelled by quiesce().
void uring_reactor::prep_wakeup_poll() {
    io_uring_sqe* s = get_sqe();
    io_uring_prep_poll_multishot(s, wakeup_.fd(), POLLIN);
    io_uring_sqe_set_data64(s, op_data{nullptr, op::wakeup}.pack());
    wakeup_armed_ = true;
}

// Multishot recv with buffer selection: one SQE serves every read of `c`,
// each CQE naming the provided buffer it filled (IORING_CQE_F_BUFFER), which
// on_recv_cqe gives back once the session parsed it. It ends on EOF, an
// error, a cancel (backpressure, close), or -ENOBUFS when the ring ran dry.
void uring_reactor::prep_recv(connection& c, bool poll_first) {
    io_uring_sqe* s = get_sqe();
    io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
    if (poll_first) s->ioprio |= IORING_RECVSEND_POLL_FIRST;  // no recv at submit: wait for a wake-up
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = buf_group;
    io_uring_sqe_set_data64(s, op_data{&c, op::recv}.pack());
    c.io |= io_recv_armed;
}

// One send of the gathered queue: IORING_OP_SEND for a single segment (the
// usual echo turn: replies encoded back to back in one block), SENDMSG for
// several, its msghdr in a send_msg of the reactor's pool until the CQE.
// The CQE may be short (the rest goes at the next flush): the segments stay
// valid, because the queue frees nothing before consume().
void uring_reactor::prep_send(connection& c, const iovec* iov, std::size_t n) {
    std::uint16_t msg = n > 1 ? take_send_msg() : 0;
    io_uring_sqe* s = get_sqe();
    if (msg) {
        send_msg& m = *msgs_[msg - 1u];
        std::copy(iov, iov + n, m.iov);
        m.hdr = {};
        m.hdr.msg_iov = m.iov;
        m.hdr.msg_iovlen = n;
        io_uring_prep_sendmsg(s, c.fd, &m.hdr, MSG_NOSIGNAL | send_flags(c));
    } else {
        io_uring_prep_send(s, c.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | send_flags(c));
    }
    io_uring_sqe_set_data64(s, op_data{&c, op::send, msg}.pack());
    c.io |= io_send_busy;
    c.send_slot = msg;
}

// Ends `c`'s multishot recv (backpressure): its last CQE, -ECANCELED
// without IORING_CQE_F_MORE, follows; data CQEs before it are delivered.
void uring_reactor::prep_cancel_recv(connection& c) {
    io_uring_sqe* s = get_sqe();
    io_uring_prep_cancel64(s, op_data{&c, op::recv}.pack(), 0);
    io_uring_sqe_set_data64(s, op_data{nullptr, op::cancel}.pack());
    c.io |= io_recv_cancel;
}

// Closes `fd` asynchronously, after cancelling every operation on it when
// `cancel_first`: a hard link keeps the order (the cancel resolves the fd,
// so it must run before the close) even when the cancel finds nothing.
void uring_reactor::prep_close(int fd, bool cancel_first) {
    if (cancel_first) {
        if (io_uring_sq_space_left(&ring_) < 2) io_uring_submit(&ring_);  // keep the pair together
        io_uring_sqe* s = get_sqe();
        io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(s, op_data{nullptr, op::cancel}.pack());
        s->flags |= IOSQE_IO_HARDLINK;
    }
    io_uring_sqe* s = get_sqe();
    io_uring_prep_close(s, fd);
    io_uring_sqe_set_data64(s, op_data{nullptr, op::close}.pack());
    ++closes_in_flight_;
}

// Closes a connection's socket, after cancelling its recv and send if they
// are still in flight: each by its exact user_data, which the kernel finds
// by hash. Not by fd: a cancel by fd walks every pending request of the
// ring, so when 10,000 connections closed together the server spent 89 %
// of its time in io_cancel_req_match and 36 % of the peers waited over 2 s
// for their close frame (ws-bench --mode idle -c 10000, kernel 6.18).
// Hard links keep the order (cancels, then the close) even when a cancel
// finds nothing.
void uring_reactor::prep_close(connection& c) {
    const bool recv = c.io & io_recv_armed, send = c.io & io_send_busy;
    if (io_uring_sq_space_left(&ring_) < 3) io_uring_submit(&ring_);  // keep the chain together
    auto cancel = [&](std::uint64_t user_data) {
        io_uring_sqe* s = get_sqe();
        io_uring_prep_cancel64(s, user_data, 0);
        io_uring_sqe_set_data64(s, op_data{nullptr, op::cancel}.pack());
        s->flags |= IOSQE_IO_HARDLINK;
    };
    if (recv) cancel(op_data{&c, op::recv}.pack());
    if (send) cancel(op_data{&c, op::send, c.send_slot}.pack());
    io_uring_sqe* s = get_sqe();
    io_uring_prep_close(s, c.fd);
    io_uring_sqe_set_data64(s, op_data{nullptr, op::close}.pack());
    ++closes_in_flight_;
}

// A send_msg index + 1, or 0 when 2^16 - 1 are in flight (then the send
// takes only the first segment).
std::uint16_t uring_reactor::take_send_msg() {
    if (!free_msgs_.empty()) {
        std::uint16_t i = free_msgs_.back();
        free_msgs_.pop_back();
        return static_cast<std::uint16_t>(i + 1);
    }
    if (msgs_.size() >= 0xffff) return 0;
    msgs_.push_back(std::make_unique<send_msg>());
    return static_cast<std::uint16_t>(msgs_.size());
}

}  // namespace wsring::net
#endif  // WSRING_HAVE_URING
