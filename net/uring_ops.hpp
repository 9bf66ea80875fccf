// The io_uring backend's own vocabulary, shared by its two files
// (net/uring_reactor.cpp: the loop and the completions; net/uring_submit.cpp:
// the submissions and the provided-buffer ring): the io bits it keeps in
// connection::io, what an SQE's user_data says, the ring's sizes and the
// kernel flags liburing 2.3 does not name. Private to the backend.
// Read next: net/uring_reactor.cpp.
#pragma once
#ifdef WSRING_HAVE_URING
#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cassert>
#include <cstdint>
#include <string>

#include "net/connection.hpp"
#include "net/uring_reactor.hpp"

namespace wsring::net::uring_detail {

// Backend io flags beside net/connection.hpp's io_flag bits (which we keep
// clear of): what a CQE may still arrive for.
constexpr std::uint8_t io_recv_armed = 1 << 5;   // the multishot recv has not ended
constexpr std::uint8_t io_send_busy = 1 << 6;    // a send is in flight
constexpr std::uint8_t io_recv_cancel = 1 << 7;  // ... and we asked it to end (backpressure)
static_assert(io_recv_armed > io_eof, "uring io bits must not overlap io_flag");

enum class op : std::uint8_t { accept = 1, wakeup, recv, send, cancel, close };

// user_data: bits 0-2 the op, bits 3-47 the connection (8-byte aligned, a
// user-space address below 2^48; null for the listener's and the reactor's
// own ops), bits 48-63 a send_msg index + 1 (0: none).
struct op_data {
    connection* conn = nullptr;
    op kind{};
    std::uint16_t msg = 0;

    static constexpr std::uint64_t ptr_mask = ((std::uint64_t{1} << 48) - 1) & ~std::uint64_t{7};

    std::uint64_t pack() const {
        auto p = reinterpret_cast<std::uintptr_t>(conn);
        assert((p & ~ptr_mask) == 0);
        return std::uint64_t{msg} << 48 | p | static_cast<std::uint64_t>(kind);
    }
    static op_data unpack(std::uint64_t u) {
        return {reinterpret_cast<connection*>(static_cast<std::uintptr_t>(u & ptr_mask)),
                static_cast<op>(u & 7), static_cast<std::uint16_t>(u >> 48)};
    }
};
static_assert(sizeof(std::uintptr_t) == sizeof(std::uint64_t));
static_assert(alignof(connection) >= 8, "the low 3 bits of a connection* carry the op");
static_assert(static_cast<int>(op::close) < 8, "ops fit in 3 bits");

constexpr unsigned sq_entries = 256;
constexpr unsigned cq_entries = 4096;  // multishot ops post many CQEs per SQE
constexpr std::uint16_t buf_group = 0;
// Kernel 6.12's incremental buffer consumption, named here because
// liburing 2.3's headers predate it: the io_uring_buf_reg flag (its `pad`
// there) and the CQE flag saying the buffer is not used up yet.
constexpr std::uint16_t pbuf_ring_inc = 1u << 1;   // IOU_PBUF_RING_INC
constexpr std::uint32_t cqe_f_buf_more = 1u << 4;  // IORING_CQE_F_BUF_MORE

// Logs `what` failed with `err` and aborts: the loop cannot go on.
[[noreturn]] void die(const char* what, int err);

// The ring as this backend needs it (io_uring_queue_init's result).
int setup_ring(io_uring& ring);
// A provided-buffer ring of `entries` slots, registered as buf_group with
// `flags` (0 or pbuf_ring_inc). On failure `out` is null again.
int setup_buf_ring(io_uring& ring, unsigned entries, io_uring_buf_ring*& out, std::uint16_t flags = 0);
// Why io_uring_queue_init failed, in words for the fallback's log line.
std::string describe(int rc);

}  // namespace wsring::net::uring_detail

namespace wsring::net {

// A gather send's msghdr and iovecs, kept until its CQE.
struct uring_reactor::send_msg {
    msghdr hdr{};
    iovec iov[write_queue::max_iov];
};

}  // namespace wsring::net
#endif  // WSRING_HAVE_URING
