// The compressing half of permessage-deflate (RFC 7692 §7.2.1), over zlib:
// one whole message in, the payload of a compressed message out — DEFLATE
// blocks ended by a sync flush with its 4-byte tail 00 00 ff ff removed.
// Without context takeover the LZ77 window is reset after every message, so
// one deflater can serve every connection of a reactor in turn; with it, a
// deflater belongs to one connection and remembers the previous messages.
// Read next: inflater.hpp (the other direction), permessage_deflate.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace wsring::proto {

struct deflater_options {
    std::uint8_t window_bits = 15;  // 9..15 (zlib has no raw 8-bit window)
    bool context_takeover = false;  // keep the window across messages (§7.2.1)
    int level = 6;                  // zlib level 0..9 (6: zlib's default, as uWebSockets; 0: stored blocks, §7.2.3.3)
    int mem_level = 8;              // zlib memLevel 1..9: hash table size, memory vs speed
};

class deflater {
public:
    explicit deflater(deflater_options opts = {});
    ~deflater();
    deflater(const deflater&) = delete;
    deflater& operator=(const deflater&) = delete;

    // Appends the compressed payload of `message` (which may be empty:
    // §7.2.3.6, the single byte 0x00) to `out` and returns how many bytes it
    // appended. The caller may have put a frame header's room in `out` first.
    // Never fails: zlib's deflate cannot fail on valid state, and a failure
    // aborts. Without takeover, ends with deflateReset, which clears the
    // 2^(mem_level+8)-byte hash table (~1.4 µs at memLevel 8, bench_deflate).
    std::size_t compress(std::span<const std::byte> message, std::vector<std::byte>& out);

    // Heap bytes zlib holds for this stream right now (counted by our
    // allocator hooks): memory per connection in takeover mode. 0 until the
    // first non-empty message; then 2^(w+2) + 2^(m+9) bytes plus zlib's
    // 5,952-byte state (268,096 B at window 15, memLevel 8), never more.
    std::size_t memory() const;

    const deflater_options& options() const { return opts_; }

private:
    struct stream;  // z_stream and its byte count; zlib.h stays out of this header
    deflater_options opts_;
    std::unique_ptr<stream> s_;
};

}  // namespace wsring::proto
