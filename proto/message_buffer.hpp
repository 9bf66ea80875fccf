// The decoder's own bytes for a message it cannot hand over in place (a
// frame cut across reads, a fragmented message): a growable byte array,
// like std::vector<std::byte> but for two things the decoder needs.
//  - Growing it does not write the new bytes. A caller may read the rest
//    of a cut frame straight into the free space (decoder::payload_room),
//    and grow_by() then takes those bytes in where they lie; a vector's
//    resize() would zero them.
//  - It moves its bytes with memcpy. (A vector with an allocator that skips
//    the zeroing is no way round: libstdc++ then copies element by element,
//    a byte at a time.)
// And its storage can be handed over whole (take()), so a caller that must
// keep a delivered message past the next decoder call need not copy it.
// Read next: decoder.hpp, its one user.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>

namespace wsring::proto {

class message_buffer {
public:
    std::byte* data() { return bytes_.get(); }
    const std::byte* data() const { return bytes_.get(); }
    std::size_t size() const { return size_; }
    std::size_t capacity() const { return capacity_; }
    // A contiguous range: std::span(buffer) is its bytes.
    std::byte* begin() { return data(); }
    std::byte* end() { return data() + size_; }

    // Room for `n` bytes in all; the bytes kept are moved with memcpy.
    void reserve(std::size_t n) {
        if (n <= capacity_) return;
        auto grown = std::make_unique_for_overwrite<std::byte[]>(n);
        if (size_ > 0) std::memcpy(grown.get(), bytes_.get(), size_);
        bytes_ = std::move(grown);
        capacity_ = n;
    }
    // `n` more bytes, as they are in the free space (doubling the capacity
    // when it is short: amortised O(1) per byte).
    void grow_by(std::size_t n) {
        if (n > capacity_ - size_) reserve(std::max(size_ + n, 2 * capacity_));
        size_ += n;
    }
    void append(const std::byte* from, std::size_t n) {
        if (n == 0) return;
        grow_by(n);
        std::memcpy(bytes_.get() + size_ - n, from, n);
    }
    void shrink_to(std::size_t n) { size_ = std::min(n, size_); }
    // Back to empty with no heap (an idle decoder holds none).
    void release() {
        bytes_.reset();
        size_ = capacity_ = 0;
    }

    // The bytes and their allocation, handed over; this buffer is left
    // empty with no heap, as after release().
    struct storage {
        std::unique_ptr<std::byte[]> bytes;
        std::size_t size = 0;  // the bytes that were in use: [bytes, bytes + size)
    };
    storage take() {
        storage s{std::move(bytes_), size_};
        size_ = capacity_ = 0;
        return s;
    }

private:
    std::unique_ptr<std::byte[]> bytes_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace wsring::proto
