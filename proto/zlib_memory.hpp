// zlib's allocator hooks, counting: every block zlib asks for carries its
// size in front, so a stream knows exactly how many heap bytes it holds
// (deflater::memory(), inflater::memory(): memory per connection is a
// number we report, not a guess). Used by deflater.cpp and inflater.cpp.
#pragma once
#include <zlib.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace wsring::proto {

struct zlib_memory {
    std::size_t bytes = 0;  // handed out by alloc() and not yet given back to release()

    // Points `z`'s hooks at this counter (before deflateInit2 / inflateInit2).
    void attach(z_stream& z) {
        z.zalloc = alloc;
        z.zfree = release;
        z.opaque = this;
    }

private:
    static constexpr std::size_t header = alignof(std::max_align_t);
    static void* alloc(void* self, uInt items, uInt size) {
        std::size_t n = std::size_t{items} * size;
        auto* p = static_cast<unsigned char*>(std::malloc(header + n));
        if (!p) return Z_NULL;
        std::memcpy(p, &n, sizeof n);
        static_cast<zlib_memory*>(self)->bytes += n;
        return p + header;
    }
    static void release(void* self, void* block) {
        auto* p = static_cast<unsigned char*>(block) - header;
        std::size_t n;
        std::memcpy(&n, p, sizeof n);
        static_cast<zlib_memory*>(self)->bytes -= n;
        std::free(p);
    }
};

}  // namespace wsring::proto
