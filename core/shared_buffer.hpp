// A refcounted, immutable run of bytes in one allocation (count, size, then
// the bytes). Made once — the bytes are written only by the fill function
// given to make() — then shared: the broadcast ring puts an encoded frame in
// one and every receiver's write queue holds a reference instead of a copy.
//
// The count is atomic because references cross reactor threads; copying a
// handle is one relaxed increment, dropping the last one frees the block.
// The handle is one pointer wide. A buffer can also adopt bytes allocated
// elsewhere (adopt(): a message the decoder assembled, kept for the socket
// instead of copied); then the block holds the count and a pointer to them.
// Read next: net/write_queue.hpp.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

namespace wsring::core {

class shared_buffer {
public:
    shared_buffer() = default;

    // A buffer of `size` bytes, written by fill(std::span<std::byte>) before
    // anyone else can see it.
    template <class Fill>
    static shared_buffer make(std::size_t size, Fill&& fill) {
        shared_buffer b(allocate(size));
        fill(std::span<std::byte>(b.block_->bytes(), size));
        return b;
    }
    static shared_buffer copy_of(std::span<const std::byte> bytes);
    // Takes over `size` bytes allocated with new[] (freed with delete[] when
    // the last reference goes): kept where they lie, not copied.
    static shared_buffer adopt(std::unique_ptr<std::byte[]> bytes, std::size_t size);
    // Text kept in a shared buffer (topic names, epochs), in and out.
    static shared_buffer copy_of_text(std::string_view text) {
        return copy_of(std::as_bytes(std::span(text.data(), text.size())));
    }

    shared_buffer(const shared_buffer& o) noexcept : block_(o.block_) { retain(); }
    shared_buffer(shared_buffer&& o) noexcept : block_(std::exchange(o.block_, nullptr)) {}
    shared_buffer& operator=(const shared_buffer& o) noexcept;
    shared_buffer& operator=(shared_buffer&& o) noexcept;
    ~shared_buffer() { release(); }

    std::span<const std::byte> bytes() const {
        return block_ ? std::span<const std::byte>(block_->bytes(), block_->size)
                      : std::span<const std::byte>();
    }
    const std::byte* data() const { return block_ ? block_->bytes() : nullptr; }
    std::size_t size() const { return block_ ? block_->size : 0; }
    std::string_view text() const { return {reinterpret_cast<const char*>(data()), size()}; }
    explicit operator bool() const { return block_ != nullptr; }
    // References alive right now (tests, stats); racy by nature across threads.
    std::uint32_t use_count() const {
        return block_ ? block_->refs.load(std::memory_order_relaxed) : 0;
    }
    void reset() noexcept { release(); }

private:
    struct block {
        std::atomic<std::uint32_t> refs;
        std::size_t size;
        // Right after the block (make, copy_of), or an adopted allocation.
        // A pointer, not a flag: data() stays one load with no branch.
        std::byte* at;
        std::byte* bytes() const { return at; }
        std::byte* inline_bytes() { return reinterpret_cast<std::byte*>(this + 1); }
    };

    explicit shared_buffer(block* b) : block_(b) {}
    // A block with `inline_size` bytes after it; `at` points to them.
    static block* allocate(std::size_t inline_size);

    void retain() const noexcept {
        // A new reference is made from an existing one, so nothing needs to
        // be ordered with it: relaxed (as std::shared_ptr does).
        if (block_) block_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    void release() noexcept;

    block* block_ = nullptr;
};

}  // namespace wsring::core
