// The segment list and its pool. Everything here is single-threaded: a
// queue belongs to one connection, a pool to one reactor.
#include "net/write_queue.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

namespace wsring::net {

// ---- segment_pool -------------------------------------------------------------

segment_pool::~segment_pool() {
    for (segment* s = free_owned_; s;) {
        segment* next = s->next;
        free_block(s);
        s = next;
    }
    for (segment* s = free_shared_; s;) {
        segment* next = s->next;
        delete s;
        s = next;
    }
}

void segment_pool::free_block(segment* s) {
    s->~segment();
    ::operator delete(s);
}

segment* segment_pool::get_owned() {
    peak_in_use_ = std::max(peak_in_use_, ++in_use_);
    if (in_use_ > most_in_use_) most_in_use_.set(in_use_);
    if (segment* s = free_owned_) {
        free_owned_ = s->next;
        --owned_free_count_;
        s->next = nullptr;
        s->begin = s->end = 0;
        return s;
    }
    return new (::operator new(block_size)) segment;  // header, then owned_capacity bytes
}

segment* segment_pool::get_shared(core::shared_buffer b) {
    segment* s = free_shared_;
    if (s) {
        free_shared_ = s->next;
        s->next = nullptr;
    } else {
        s = new segment;
    }
    s->ref = std::move(b);
    return s;
}

void segment_pool::put(segment* s) {
    if (!s->owned()) {
        s->ref.reset();  // drop our reference now, not when the header is reused
        s->next = free_shared_;
        free_shared_ = s;
        return;
    }
    --in_use_;
    if (owned_free_count_ >= keep_limit()) return free_block(s);
    s->next = free_owned_;
    free_owned_ = s;
    ++owned_free_count_;
}

void segment_pool::trim() {
    std::size_t keep = keep_limit();
    while (owned_free_count_ > keep) {
        segment* s = free_owned_;
        free_owned_ = s->next;
        --owned_free_count_;
        free_block(s);
    }
    peak_in_use_ = in_use_;
}

// ---- write_queue --------------------------------------------------------------

write_queue::~write_queue() { assert(empty() && "clear(pool) a write_queue before destroying it"); }

void write_queue::push(segment* s) {
    if (tail_) tail_->next = s;
    else head_ = s;
    tail_ = s;
}

void write_queue::push_owned(segment_pool& pool) { push(pool.get_owned()); }

void write_queue::append_copy(segment_pool& pool, std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
        std::size_t room = tail_ && tail_->owned() ? segment_pool::owned_capacity - tail_->end : 0;
        std::size_t n = std::min(bytes.size(), room ? room : segment_pool::owned_capacity);
        std::span<std::byte> dst = reserve(pool, n);
        std::memcpy(dst.data(), bytes.data(), n);
        commit(n);
        bytes = bytes.subspan(n);
    }
}

void write_queue::append_shared(segment_pool& pool, core::shared_buffer b, std::size_t offset,
                                std::size_t len) {
    assert(offset + len <= b.size());
    if (len == 0) return;
    segment* s = pool.get_shared(std::move(b));
    s->begin = offset;
    s->end = offset + len;
    push(s);
    bytes_ += len;
}

std::size_t write_queue::gather(iovec* iov, std::size_t max) const {
    std::size_t n = 0;
    for (const segment* s = head_; s && n < max; s = s->next) {
        if (s->end == s->begin) continue;  // a reserved block not yet committed
        iov[n].iov_base = const_cast<std::byte*>(s->data() + s->begin);
        iov[n].iov_len = s->end - s->begin;
        ++n;
    }
    return n;
}

void write_queue::consume(segment_pool& pool, std::size_t n) {
    assert(n <= bytes_);
    bytes_ -= n;
    while (head_) {
        std::size_t left = head_->end - head_->begin;
        if (n < left) {
            head_->begin += n;
            return;
        }
        n -= left;
        segment* done = head_;
        head_ = done->next;
        if (!head_) tail_ = nullptr;
        pool.put(done);  // an emptied queue holds no block
    }
}

void write_queue::clear(segment_pool& pool) {
    while (head_) {
        segment* done = head_;
        head_ = done->next;
        pool.put(done);
    }
    tail_ = nullptr;
    bytes_ = 0;
}

}  // namespace wsring::net
