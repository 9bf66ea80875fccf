// The io_uring loop. Every operation is an SQE whose user_data names what
// it is for (op_data, net/uring_ops.hpp); every CQE is dispatched by that
// name, here. A turn submits what it prepared and waits in one
// io_uring_enter (phase 1). The SQEs themselves are prepared in
// net/uring_submit.cpp, one prep_* per kind.
//
// Lifetimes: a connection's slot is recycled only once no CQE can name it —
// its multishot recv has ended (io_recv_armed clear) and its send has
// completed (io_send_busy clear). close() cancels both (by fd) and closes
// the fd in one hard-linked pair, so a closed connection's operations end
// promptly with -ECANCELED. The ring runs with DEFER_TASKRUN: the kernel
// completes (and retries) our operations only inside our io_uring_enter,
// after the submissions of that call — so a cancel submitted before the
// next wait is seen before a cancelled send could touch its (freed) queue.
#ifdef WSRING_HAVE_URING
#include "net/uring_reactor.hpp"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "net/log.hpp"
#include "net/uring_ops.hpp"

namespace wsring::net {

using namespace uring_detail;

// The kernel probe, once per process, on a thread of its own: a ring's
// teardown interrupts the threads that touched it (EINTR in a blocking
// call with a timeout), and the caller's thread should not be one of them.
namespace {
std::string probe_kernel() {
    std::string why;
    std::thread([&why] {
        io_uring ring{};
        if (int rc = setup_ring(ring); rc < 0) {
            why = describe(rc);
            return;
        }
        io_uring_buf_ring* br = nullptr;
        int rc = setup_buf_ring(ring, 1, br);
        io_uring_queue_exit(&ring);
        if (br) ::munmap(br, sizeof(io_uring_buf));
        if (rc < 0) why = "no provided-buffer rings: " + describe(rc);
    }).join();
    return why;
}
}  // namespace

bool uring_reactor::available(std::string& why) {
    if (const char* v = std::getenv("WSRING_DISABLE_URING"); v && *v && std::strcmp(v, "0") != 0) {
        why = "disabled by WSRING_DISABLE_URING";
        return false;
    }
    static const std::string missing = probe_kernel();  // empty: all there
    why = missing;
    return missing.empty();
}

uring_reactor::uring_reactor(int listen_fd, const reactor_options& ro, const session_options& so,
                             session_shared& shared, std::unique_ptr<message_handler> handler,
                             uring_buffers buffers)
    : reactor_base(listen_fd, ro, so, shared, std::move(handler)),
      buffers_(buffers.count),
      buf_size_(buffers.size),
      whole_buffers_(buffers.whole) {
    // Without incremental rings each buffer is cut into 4 KiB ones: 2^15 slots at most.
    if (buffers_ == 0 || (buffers_ & (buffers_ - 1)) != 0 || buf_size_ == 0 ||
        buf_size_ % whole_buffer_size != 0 ||
        std::uint64_t{buffers_} * (buf_size_ / whole_buffer_size) > (1u << 15))
        die("provided buffers (a power of two; 4 KiB multiples, 2^15 pages at most)", EINVAL);
    io_busy_ = io_read_queued | io_recv_armed | io_send_busy;
    // Untouched pages cost no RSS: a quiet reactor touches few buffers.
    void* mem = ::mmap(nullptr, std::size_t{buffers_} * buf_size_, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) die("mmap", errno);
    buf_mem_ = static_cast<std::byte*>(mem);
}

uring_reactor::~uring_reactor() {
    // The ring lived and died inside run(), on the loop thread.
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (buf_mem_) ::munmap(buf_mem_, std::size_t{buffers_} * buf_size_);
}

// The ring exists only while the loop runs, on the loop thread: it is made
// here (SINGLE_ISSUER binds it to this thread) and torn down once quiesce()
// saw every operation end.
void uring_reactor::run() {
    if (int rc = setup_ring(ring_); rc < 0) die("io_uring_queue_init", -rc);
    setup_buffers();
    prep_accept();
    prep_wakeup_poll();
    reactor_base::run();
    quiesce();
    io_uring_queue_exit(&ring_);
    ::munmap(bufs_, buffers_ * sizeof(io_uring_buf));
    bufs_ = nullptr;
}

// ---- the loop (reactor_base::run calls these) -------------------------------------

// Phases 1 to 3: submit this turn's SQEs and wait for completions in one
// io_uring_enter (with DEFER_TASKRUN it also runs the completions), take the
// time (and run the timers), then dispatch every CQE.
void uring_reactor::wait_and_dispatch(int timeout) {
    bool sleeps = timeout != 0;
    if (sleeps && !sleep_ok()) timeout = 0;
    int rc;
    if (timeout == 0) {
        rc = io_uring_submit_and_get_events(&ring_);
    } else if (timeout < 0) {
        rc = io_uring_submit_and_wait(&ring_, 1);
    } else {
        __kernel_timespec ts{.tv_sec = timeout / 1000, .tv_nsec = (timeout % 1000) * 1000000LL};
        io_uring_cqe* first = nullptr;
        rc = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
    }
    after_wait(sleeps);  // the time of these completions; timers due by now
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        die("io_uring_enter", -rc);
    busy_turn_ = io_uring_cq_ready(&ring_) >= busy_turn_cqes;
    unsubmitted_replies_ = 0;  // the enter above submitted every SQE
    dispatch();
}

void uring_reactor::dispatch() {
    submitted_mid_batch_ = false;
    unsigned head = 0, seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
        on_cqe(*cqe);
        ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
}

void uring_reactor::on_cqe(const io_uring_cqe& cqe) {
    op_data d = op_data::unpack(cqe.user_data);
    switch (d.kind) {
    case op::accept: return on_accept_cqe(cqe);
    case op::wakeup:
        if (!(cqe.flags & IORING_CQE_F_MORE)) {
            wakeup_armed_ = false;
            if (!quiescing_) prep_wakeup_poll();
        }
        return wakeup_.drain();  // the work itself runs in phase 4
    case op::recv: return on_recv_cqe(*d.conn, cqe);
    case op::send: return on_send_cqe(*d.conn, cqe, d.msg);
    case op::close: --closes_in_flight_; return;
    case op::cancel: return;  // the outcome shows in the cancelled ops' own CQEs
    }
}

// Phase 3, the listener: a CQE per accepted connection.
void uring_reactor::on_accept_cqe(const io_uring_cqe& cqe) {
    bool more = cqe.flags & IORING_CQE_F_MORE;
    if (!more) accept_armed_ = false;
    if (cqe.res >= 0) {
        if (draining_) ::close(cqe.res);  // accepted before our cancel landed
        else adopt(cqe.res);
    } else if (cqe.res == -EMFILE || cqe.res == -ENFILE || cqe.res == -ENOBUFS ||
               cqe.res == -ENOMEM) {
        if (!draining_) return pause_accepting();  // resume_accepting() re-arms
    }
    // ECONNABORTED, EPERM, EPROTO ...: that one connection is gone; go on.
    if (!more && !draining_) prep_accept();
}

bool uring_reactor::watch(connection& c) {
    prep_recv(c);
    return true;
}

// Phase 3, one connection: the bytes of one provided buffer (from where the
// last recv into it stopped), parsed in place by the session; a used-up
// buffer goes straight back to the ring (consume_buffer).
// When the multishot recv ends (no IORING_CQE_F_MORE: -ENOBUFS, a cancel,
// or the kernel's choice) and the connection still reads, it is re-armed
// here, in CQE order; the SQE leaves at the next io_uring_enter, after this
// batch gave its buffers back. (Queued through
// read_soon instead, the re-arms ran in reverse order — the list is a
// stack — and 100 conns × 4 × 64 KiB echo starved some connections: per
// connection 671–1166 messages, p99 198 ms; re-armed here: 1030–1051,
// p99 41 ms, epoll 1006–1221 and 42 ms in the same round.)
void uring_reactor::on_recv_cqe(connection& c, const io_uring_cqe& cqe) {
    if (!(cqe.flags & IORING_CQE_F_MORE)) c.io &= ~(io_recv_armed | io_recv_cancel);
    if (cqe.res == -ENOBUFS) ++uring_stats_.ring_dry;
    if (cqe.flags & IORING_CQE_F_BUFFER) {
        auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
        std::byte* at = buf_mem_ + std::size_t{bid} * buf_size_ + (used_.empty() ? 0 : used_[bid]);
        if (cqe.res > 0 && c.state != conn_state::closed) {
            // Not the 101 of an upgrade (nor any HTTP answer): see queue_own_replies.
            const bool was_websocket = c.state == conn_state::open;
            deliver(c, {at, static_cast<std::size_t>(cqe.res)});
            if (busy_turn_ && was_websocket) queue_own_replies(c);
            else flush_own_replies(c);  // while its write block is hot
            count_read(c, static_cast<std::size_t>(cqe.res));
            // A large frame cut here: its rest is read straight into its
            // message once this batch is done (read_queued).
            if (!session_.receive_room(c).empty()) read_soon(c);
        }
        consume_buffer(bid, cqe);
    }
    if (c.state == conn_state::closed) return;  // close() cancelled us; recycled at turn end
    if (cqe.res == 0) {
        c.io |= io_eof;
        return deliver_eof(c, 0);
    }
    if (cqe.res < 0 && cqe.res != -ENOBUFS && cqe.res != -ECANCELED)
        return deliver_eof(c, cqe.res);  // ECONNRESET, ...
    if (end_recv_if_paused(c)) return;
    if (c.io & (io_recv_armed | io_eof)) return;
    // The ring ran dry before c's bytes came: read them now, into the
    // receive buffer, and parse them while they are hot (read_once, as
    // epoll reads), then re-arm. Re-armed at once instead, every such recv
    // was issued at the next io_uring_enter, one after another, and a turn's
    // megabyte landed in the ring before any of it was parsed: 100 conns ×
    // 4 × 64 KiB echo 63.1–70.2 k messages per server-CPU-second, median
    // 65.4 k; read now 68.3–72.8 k, median 70.5 k (8 interleaved rounds,
    // msgs/s the same). The ring ran dry 0.5–0.6 times per message there.
    if (cqe.res == -ENOBUFS && (read_within_share(c) < 0 || !session_.wants_read(c))) return;
    // wss://: decrypted bytes a paused session left wait in the TLS stream,
    // and read_queued hands them over first.
    if (c.tls) return read_soon(c);
    // Queued for read_queued (a frame's rest to read there): it re-arms c,
    // after that read. A recv prepared now would be issued at the next
    // submit, ahead of a cancel that read might call for (end_recv_if_paused).
    if (c.io & io_read_queued) return;
    // After -ENOBUFS, poll first: c was just read, and its next recv waits
    // for its turn behind the deferred task work of the recvs still armed.
    // Issued inline at submit instead, it went ahead of them all: a
    // connection that ran dry was read every turn (here, then at submit,
    // where it ran the ring dry again) while those waiting in the kernel's
    // queue (at most 20 task works per pass since Linux 6.13) fell behind —
    // 1,000 x 16 x 1 KiB echo on a saturated core, a single fixed 512 KiB
    // ring: 10 rounds in 12 starved (p99 up to 267 ms, per-connection
    // max/min up to 1.14); polling first, 0 in 24 (p99 at most 50 ms).
    prep_recv(c, cqe.res == -ENOBUFS);
}

// Whether c, with its multishot recv armed, may be read with a plain
// syscall now: the rest of a large frame, straight into its message
// (read_once, session::receive_room: that frame is not copied out of the
// ring into the message), plus whatever follows it. Safe for the order of
// c's bytes only between batches: every CQE the kernel posted has been
// dispatched, and with DEFER_TASKRUN the armed recv reads again only inside
// our next io_uring_enter with GETEVENTS. A submit forced mid-batch by a
// full SQ (get_sqe) may have issued a fresh recv inline: then not this turn.
bool uring_reactor::reads_direct_ok(connection& c) {
    return !submitted_mid_batch_ && (c.io & io_recv_armed) && !(c.io & (io_recv_cancel | io_eof)) &&
           session_.wants_read(c) && !session_.receive_room(c).empty();
}

// Backpressure (the session stopped reading c): end its multishot recv,
// or the kernel would go on reading for it — and a peer's bytes left
// unread are what makes our close a reset rather than a FIN stuck behind
// an echo the peer never reads. What the recv already read was delivered.
bool uring_reactor::end_recv_if_paused(connection& c) {
    if (session_.wants_read(c)) return false;
    if ((c.io & io_recv_armed) && !(c.io & io_recv_cancel)) prep_cancel_recv(c);
    return true;
}

// Phase 3, end: (re-)arm the recv of every connection that asked for it,
// and read the rest of the large frames cut by this batch's CQEs.
void uring_reactor::read_queued() {
    connection* list = std::exchange(reads_, nullptr);
    while (list) {
        connection& c = *list;
        list = c.next_read;
        c.next_read = nullptr;
        c.io &= ~io_read_queued;
        deliver_buffered(c);  // wss://: what a paused session left decrypted
        if (c.state == conn_state::closed) continue;
        if (reads_direct_ok(c) && (read_within_share(c) < 0 || end_recv_if_paused(c))) continue;
        // Still armed (a cancel on its way): its last CQE calls read_soon again.
        if (session_.wants_read(c) && !(c.io & (io_recv_armed | io_eof))) prep_recv(c);
    }
    // The turn's reads are done: every share is whole again. (A slot closed
    // this turn is recycled only at its end, so the pointers are still ours.)
    for (connection* c : read_this_turn_) c->turn_read_4k = 0;
    read_this_turn_.clear();
}

// One turn reads at most recv_buffer bytes of a connection, wherever they
// come from. Without that, the connection whose armed recv ran first took
// the ring's whole buffer each turn and then, when its recv ended with
// -ENOBUFS, a plain read as large, while each of the others, run dry, got
// the plain read alone: at 10 × 8 × 1 MiB echo one connection of the ten
// completed exactly twice as many messages as each of the other nine, on
// every run (per-connection max/min 2.0; epoll 1.00).
void uring_reactor::count_read(connection& c, std::size_t bytes) {
    if (c.turn_read_4k == 0) read_this_turn_.push_back(&c);
    const std::size_t units = c.turn_read_4k + (bytes + 4095) / 4096;
    c.turn_read_4k = static_cast<std::uint8_t>(std::min<std::size_t>(units, 255));
    most_turn_read_4k_ = std::max(most_turn_read_4k_, c.turn_read_4k);
}

std::size_t uring_reactor::turn_share(const connection& c) const {
    const std::size_t read = std::size_t{c.turn_read_4k} * 4096;
    return ro_.recv_buffer - std::min(read, ro_.recv_buffer);
}

// read_once within what is left of c's share; 0 (nothing read, as if none
// were waiting) once the share is spent: c's next recv is then armed
// behind the others' (polling first) and reads in a later turn.
ssize_t uring_reactor::read_within_share(connection& c) {
    const std::size_t share = turn_share(c);
    if (share == 0) return 0;
    ssize_t n = read_once(c, share);
    if (n > 0) count_read(c, static_cast<std::size_t>(n));
    return n;
}

// Phase 5, one connection: one send of (up to max_iov segments of) its
// queue. With a send in flight, its CQE sends the rest.
void uring_reactor::flush(connection& c) {
    if (c.io & io_send_busy) return;
    iovec iov[write_queue::max_iov];
    std::size_t n = wire(c).gather(iov, write_queue::max_iov);
    if (n == 0) return sent(c);  // nothing queued: e.g. draining ends TCP
    prep_send(c, iov, n);
}

// Phase 3 (flush_own_replies): a synchronous send, not an SQE. Whatever
// the socket does not take goes to phase 5's send SQE, which waits for
// room; with a send in flight, its CQE sends the rest, in order.
void uring_reactor::flush_now(connection& c) {
    if (c.io & io_send_busy) return flush_soon(c);
    flush_status status = send_queue(c);
    if (status == flush_status::failed) return;
    if (status == flush_status::blocked) return flush_soon(c);
    sent(c);
}

// Phase 3 in a busy turn (busy_turn_cqes completions or more at its
// start): c's replies go into a send SQE, as phase 5's do, and every
// replies_per_submit of them leave in one io_uring_submit, not a send
// syscall each. On these VMs a syscall costs about 950 ns, and under a
// 100 × 16 × 16 B echo flush_now made 484 k sendto against 58 k
// io_uring_enter. What is left leaves with the turn's wait, at most a turn
// later than a synchronous send: a quiet turn (a lone request) still sends
// at once. Only WebSocket replies: the block of a batched reply is held
// until its CQE, behind the turn's other completions, and the 101s of a
// burst of upgrades held that way left their pages resident (fresh idle
// memory at 10 k connections 245 → 255–261 B each). A submit only while
// the SQ holds nothing but these sends: a recv SQE issued inline could
// read ahead of this turn's direct reads (reads_direct_ok); once one is
// there, the rest of the turn's replies leave at its end.
// Measured against uWebSockets (docs/performance.md, "Replies in batches
// on io_uring"), per server-CPU-second: where a syscall is dear (PTI),
// 16 B echo 1.13x -> 1.31x and 1 KiB 1.14x -> 1.28x, msgs/s level; where
// it is cheap, level within the noise; 64 KiB unchanged.
void uring_reactor::queue_own_replies(connection& c) {
    if (!take_own_replies(c)) return;
    if (c.io & io_send_busy) return flush_soon(c);  // its CQE sends the rest
    flush(c);
    if (!(c.io & io_send_busy)) return;  // nothing was queued
    ++uring_stats_.replies_batched;
    if (++unsubmitted_replies_ < replies_per_submit) return;
    if (io_uring_sq_ready(&ring_) == unsubmitted_replies_) {
        int rc = io_uring_submit(&ring_);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) die("io_uring_submit", -rc);
    }
    unsubmitted_replies_ = 0;
}

void uring_reactor::on_send_cqe(connection& c, const io_uring_cqe& cqe, std::uint16_t msg) {
    c.io &= ~io_send_busy;
    if (msg) free_msgs_.push_back(static_cast<std::uint16_t>(msg - 1));
    if (c.state == conn_state::closed) return;  // cancelled by close(); the queue is gone
    if (cqe.res == -EINTR || cqe.res == -EAGAIN) return flush_soon(c);
    if (cqe.res < 0) return send_failed(c, cqe.res);  // EPIPE, ECONNRESET
    write_queue& q = wire_queue(c);
    q.consume(pool_, static_cast<std::size_t>(cqe.res));
    if (!q.empty()) flush_soon(c);  // a short send: the rest at this turn's flush
    sent(c);
}

void uring_reactor::close_listener() {
    if (listen_fd_ < 0) return;  // a client's loop
    prep_close(listen_fd_, accept_armed_);  // the accept ends with -ECANCELED
    listen_fd_ = -1;
}

void uring_reactor::quiesce() {
    // Every connection is gone; end the listener's and the wakeup's
    // operations too, and see every close done: a close left to the ring's
    // teardown would run later, on a kernel thread, against an fd number
    // this process may have given to a new socket by then.
    quiescing_ = true;
    if (accept_armed_ || wakeup_armed_) {
        io_uring_sqe* s = get_sqe();
        io_uring_prep_cancel64(s, 0, IORING_ASYNC_CANCEL_ANY);
        io_uring_sqe_set_data64(s, op_data{nullptr, op::cancel}.pack());
    }
    while (accept_armed_ || wakeup_armed_ || closes_in_flight_ > 0) {
        int rc = io_uring_submit_and_wait(&ring_, 1);
        if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EAGAIN && rc != -EBUSY)
            die("io_uring_enter", -rc);
        dispatch();
    }
}

// ---- the provided buffers' way back ---------------------------------------------------

// After a recv CQE that named buffer `bid` was delivered. Incremental: the
// kernel keeps the buffer at the ring's head, its address moved past what
// it read, until a recv uses it up (no IORING_CQE_F_BUF_MORE); only then is
// it ours to give back. A CQE with no bytes (EOF) used none of it, whatever
// its flags say: kernels before the fix for liburing issue 1553 reported
// such a buffer as used up while it stayed at the head, and giving it back
// then would put it in the ring twice.
void uring_reactor::consume_buffer(std::uint16_t bid, const io_uring_cqe& cqe) {
    if (!used_.empty()) {
        if (cqe.res <= 0) return;
        if (cqe.flags & cqe_f_buf_more) {
            used_[bid] += static_cast<std::uint32_t>(cqe.res);
            return;
        }
        used_[bid] = 0;
    }
    give_back_buffer(bid);
}

void uring_reactor::give_back_buffer(std::uint16_t bid) {
    io_uring_buf_ring_add(bufs_, buf_mem_ + std::size_t{bid} * buf_size_, buf_size_, bid,
                          io_uring_buf_ring_mask(buffers_), 0);
    io_uring_buf_ring_advance(bufs_, 1);
}

// ---- transport -----------------------------------------------------------------

// Rare (an HTTP answer, a failed connection): a plain syscall, not an SQE.
// No send is in flight then (the queue drained), and the fd is still open.
bool uring_reactor::send_in_flight(const connection& c) const { return c.io & io_send_busy; }

void uring_reactor::shutdown_socket(connection& c) { ::shutdown(c.fd, SHUT_WR); }

void uring_reactor::close_socket(connection& c) {
    prep_close(c);
    c.fd = -1;
    closed_.push_back(&c);
}

}  // namespace wsring::net
#endif  // WSRING_HAVE_URING
