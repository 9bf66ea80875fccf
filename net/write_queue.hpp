// The per-connection output queue: a singly linked list of segments, flushed
// with one gather write per loop turn (corking).
//
// Two kinds of segment: *owned* ones are 16 KiB blocks from the reactor's
// segment_pool into which frames are encoded back to back (so sixteen
// queued 1 KiB echo replies leave in one or two iovecs), and *shared* ones
// reference a core::shared_buffer (a large echo, later a broadcast frame that every
// receiver shares). An empty queue holds no memory: three words in the
// connection. The queue knows nothing of sockets: flush() takes the send
// function, so tests drive it with fake short writes and failures.
// Read next: net/connection.hpp.
#pragma once
#include <sys/uio.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstddef>
#include <span>
#include <sys/types.h>

#include "core/counter.hpp"
#include "core/shared_buffer.hpp"

namespace wsring::net {

struct segment {
    segment* next = nullptr;
    core::shared_buffer ref;  // shared segment: the bytes; owned segment: empty
    std::size_t begin = 0;    // unsent bytes are [begin, end) of data()
    std::size_t end = 0;

    bool owned() const { return !ref; }
    const std::byte* data() const {
        return owned() ? reinterpret_cast<const std::byte*>(this + 1) : ref.data();
    }
    std::byte* owned_bytes() { return reinterpret_cast<std::byte*>(this + 1); }
};

// Recycles segments for one reactor (one thread: no locks). The free list
// follows the load: it keeps as many blocks as were in use at the recent
// peak (at least min_free, at most max_free), so a turn that queues 1,000
// replies does not hand 900 blocks to malloc and take them back the next
// turn (a profile of the 1,000 x 16 x 1 KiB echo had 5 % of the server in
// malloc/free, all from here). trim(), once a second from the reactor, lets
// the peak decay, so a burst does not pin its memory for good.
class segment_pool {
public:
    // 16 KiB, not 4 KiB: a turn's replies to one connection take a quarter
    // of the blocks and iovecs, and frames up to 16 KiB are encoded in place
    // instead of into a buffer of their own. Measured (messages per
    // server-CPU-second, interleaved rounds, epoll): 1,000 × 16 × 1 KiB echo
    // 2.04–2.22 M → 2.15–2.22 M (medians 2.08 → 2.18 M, 5 rounds); 8 KiB
    // 455–470 k → 480–486 k; 16 B and 64 KiB unchanged. The cost: a
    // connection whose output waits (a slow peer) holds at least 16 KiB.
    static constexpr std::size_t block_size = 16384;  // header + owned bytes
    static constexpr std::size_t owned_capacity = block_size - sizeof(segment);

    // 16 blocks = 256 KiB stay however quiet it gets: enough for an ordinary
    // turn, little next to the memory per idle connection. 1,024 = 16 MiB is
    // the most a reactor keeps after a burst, until trim() lets it go.
    explicit segment_pool(std::size_t min_free_blocks = 16, std::size_t max_free_blocks = 1024)
        : min_free_(min_free_blocks), max_free_(std::max(min_free_blocks, max_free_blocks)) {}
    segment_pool(const segment_pool&) = delete;
    segment_pool& operator=(const segment_pool&) = delete;
    ~segment_pool();

    segment* get_owned();
    segment* get_shared(core::shared_buffer b);
    void put(segment* s);
    // Frees the free blocks beyond what the peak since the last trim() needs,
    // and starts a new peak from what is in use now.
    void trim();

    std::size_t blocks_in_use() const { return in_use_; }  // leak checks in tests
    // The most blocks in use at once since the pool was made (never reset;
    // any thread may read it: reactor_stats::write_blocks_peak).
    const core::counter& most_in_use() const { return most_in_use_; }
    std::size_t free_blocks() const { return owned_free_count_; }
    // More free blocks than trim() would keep if nothing more happened (the
    // floor, or as many as are in use now): there is something to give back.
    // Blocks held by queues that stay full (stuck peers) do not count, so
    // such a reactor is not woken every second for nothing.
    bool holds_spare() const { return owned_free_count_ > std::clamp(in_use_, min_free_, max_free_); }

private:
    std::size_t keep_limit() const { return std::clamp(peak_in_use_, min_free_, max_free_); }
    void free_block(segment* s);

    segment* free_owned_ = nullptr;
    segment* free_shared_ = nullptr;
    std::size_t owned_free_count_ = 0;
    std::size_t min_free_;
    std::size_t max_free_;
    std::size_t in_use_ = 0;       // owned blocks handed out
    std::size_t peak_in_use_ = 0;  // the most in use at once since the last trim()
    core::counter most_in_use_;    // ... since the start
};

// What a flush ended with.
enum class flush_status : std::uint8_t {
    drained,  // everything was sent
    blocked,  // the socket is full (EAGAIN): wait for writable
    failed,   // the send failed for good (EPIPE, ECONNRESET, ...)
};

class write_queue {
public:
    static constexpr std::size_t max_iov = 64;  // per send call; well under IOV_MAX (1024)

    write_queue() = default;
    write_queue(const write_queue&) = delete;
    write_queue& operator=(const write_queue&) = delete;
    ~write_queue();  // must be clear()ed first: it has no pool to give blocks back to

    bool empty() const { return head_ == nullptr; }
    std::size_t bytes() const { return bytes_; }

    // `n` (≤ segment_pool::owned_capacity) contiguous bytes at the tail for
    // the caller to fill, then commit(n): how frames are encoded in place.
    // Inline: both run once per small reply (out of line they were 10 % of
    // the session's own time at 16 B, bench_session).
    std::span<std::byte> reserve(segment_pool& pool, std::size_t n) {
        assert(n <= segment_pool::owned_capacity);
        if (!tail_ || !tail_->owned() || segment_pool::owned_capacity - tail_->end < n)
            push_owned(pool);
        return {tail_->owned_bytes() + tail_->end, n};
    }
    void commit(std::size_t n) {
        tail_->end += n;
        bytes_ += n;
    }

    // Copies `bytes` in (across blocks if it must).
    void append_copy(segment_pool& pool, std::span<const std::byte> bytes);
    // References bytes [offset, offset + len) of `b` without copying.
    void append_shared(segment_pool& pool, core::shared_buffer b, std::size_t offset,
                       std::size_t len);

    // Fills up to `max` iovecs with the unsent bytes, in order; returns how many.
    std::size_t gather(iovec* iov, std::size_t max) const;
    // Drops the first `n` unsent bytes (they were sent); frees finished segments.
    void consume(segment_pool& pool, std::size_t n);
    void clear(segment_pool& pool);

    // Sends until drained or the socket pushes back. `send(const iovec*, int)`
    // returns bytes sent or -errno, like a non-blocking sendmsg(); a short
    // count just means "send the rest next".
    template <class Send>
    flush_status flush(segment_pool& pool, Send&& send, int& err);

private:
    void push(segment* s);
    void push_owned(segment_pool& pool);  // a new block at the tail

    segment* head_ = nullptr;
    segment* tail_ = nullptr;
    std::size_t bytes_ = 0;
};

template <class Send>
flush_status write_queue::flush(segment_pool& pool, Send&& send, int& err) {
    iovec iov[max_iov];
    while (!empty()) {
        std::size_t n = gather(iov, max_iov);
        ssize_t sent = send(iov, static_cast<int>(n));
        if (sent == -EINTR) continue;
        if (sent == -EAGAIN || sent == -EWOULDBLOCK) return flush_status::blocked;
        if (sent < 0) {
            err = static_cast<int>(-sent);
            return flush_status::failed;
        }
        std::size_t offered = 0;
        for (std::size_t i = 0; i < n; ++i) offered += iov[i].iov_len;
        consume(pool, static_cast<std::size_t>(sent));
        // A short write means the socket buffer is full: asking again would
        // only return EAGAIN, so save the syscall and wait for writable.
        if (static_cast<std::size_t>(sent) < offered) return flush_status::blocked;
    }
    return flush_status::drained;
}

}  // namespace wsring::net
