// A buffer whose last byte sits right before a PROT_NONE page, so reading
// even one byte past the end crashes the test (picohttpparser's trick).
// Place input with place(); the returned span ends at the guard page.
// Used by the handshake and frame tests to prove parsers never over-read.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

namespace wsring::test {

class guard_page_buffer {
public:
    // Room for up to `capacity` bytes before the guard page.
    explicit guard_page_buffer(std::size_t capacity) {
        page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        usable_ = (capacity + page_ - 1) / page_ * page_;
        if (usable_ == 0) usable_ = page_;
        void* p = mmap(nullptr, usable_ + page_, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) std::abort();
        base_ = static_cast<std::byte*>(p);
        if (mprotect(base_ + usable_, page_, PROT_NONE) != 0) std::abort();
    }
    ~guard_page_buffer() { munmap(base_, usable_ + page_); }
    guard_page_buffer(const guard_page_buffer&) = delete;
    guard_page_buffer& operator=(const guard_page_buffer&) = delete;

    // Copies `bytes` so that their last byte is the last readable one.
    std::span<std::byte> place(std::span<const std::byte> bytes) {
        if (bytes.size() > usable_) std::abort();
        std::byte* start = base_ + usable_ - bytes.size();
        if (!bytes.empty()) std::memcpy(start, bytes.data(), bytes.size());
        return {start, bytes.size()};
    }
    std::span<std::byte> place(std::string_view text) {
        return place(std::as_bytes(std::span(text.data(), text.size())));
    }

private:
    std::byte* base_ = nullptr;
    std::size_t page_ = 0;
    std::size_t usable_ = 0;
};

}  // namespace wsring::test
