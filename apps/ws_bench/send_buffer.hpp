// A connection's outgoing bytes: one fixed block, allocated when the
// connection opens and never resized, filled at the back and drained from
// the front by write(). Frames are built straight into it (no per-message
// allocation), so INFLIGHT frames leave in one write — batching comes free.
#pragma once
#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

namespace wsring::bench {

class send_buffer {
public:
    void reserve(std::size_t capacity) {
        if (block_.size() < capacity) block_.resize(capacity);
    }
    std::size_t capacity() const { return block_.size(); }

    // Room for `n` more bytes at the back, moving the unsent bytes to the
    // front first if that makes room. Empty span when they do not fit.
    std::span<std::byte> claim(std::size_t n) {
        if (block_.size() - end_ < n && begin_ > 0) compact();
        if (block_.size() - end_ < n) return {};
        return {block_.data() + end_, n};
    }
    void commit(std::size_t n) { end_ += n; }

    bool append(std::span<const std::byte> bytes) {
        auto room = claim(bytes.size());
        if (room.size() < bytes.size()) return false;
        if (!bytes.empty()) std::memcpy(room.data(), bytes.data(), bytes.size());
        commit(bytes.size());
        return true;
    }

    std::span<const std::byte> pending() const { return {block_.data() + begin_, end_ - begin_}; }
    void consume(std::size_t n) {
        begin_ += n;
        if (begin_ == end_) begin_ = end_ = 0;
    }
    bool empty() const { return begin_ == end_; }
    void clear() { begin_ = end_ = 0; }

private:
    void compact() {
        std::memmove(block_.data(), block_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }

    std::vector<std::byte> block_;
    std::size_t begin_ = 0;  // first unsent byte
    std::size_t end_ = 0;    // one past the last queued byte
};

}  // namespace wsring::bench
