// Allocation and the reference count's release side. The block is one
// operator new of header + bytes; the bytes start right after the 24-byte
// header, so they are 8-aligned like any malloc'd buffer's first word. An
// adopted buffer's block is the header alone, pointing to bytes it frees.
#include "core/shared_buffer.hpp"

#include <cstring>
#include <new>

namespace wsring::core {

shared_buffer::block* shared_buffer::allocate(std::size_t inline_size) {
    void* mem = ::operator new(sizeof(block) + inline_size);
    block* b = new (mem) block;
    b->refs.store(1, std::memory_order_relaxed);
    b->size = inline_size;
    b->at = b->inline_bytes();
    return b;
}

shared_buffer shared_buffer::adopt(std::unique_ptr<std::byte[]> bytes, std::size_t size) {
    block* b = allocate(0);
    b->size = size;
    b->at = bytes.release();
    return shared_buffer(b);
}

shared_buffer shared_buffer::copy_of(std::span<const std::byte> bytes) {
    return make(bytes.size(), [&](std::span<std::byte> out) {
        if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    });
}

shared_buffer& shared_buffer::operator=(const shared_buffer& o) noexcept {
    if (this != &o) {
        o.retain();  // before release: o may be the last other owner of our block
        release();
        block_ = o.block_;
    }
    return *this;
}

shared_buffer& shared_buffer::operator=(shared_buffer&& o) noexcept {
    if (this != &o) {
        release();
        block_ = std::exchange(o.block_, nullptr);
    }
    return *this;
}

void shared_buffer::release() noexcept {
    if (!block_) return;
    // acq_rel: every other owner's last use happens-before the free (release
    // on their decrement, acquire on the final one).
    if (block_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        if (block_->at != block_->inline_bytes()) delete[] block_->at;
        block_->~block();
        ::operator delete(block_);
    }
    block_ = nullptr;
}

}  // namespace wsring::core
