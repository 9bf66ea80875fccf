// The decompressing half of permessage-deflate (RFC 7692 §7.2.2), over
// zlib: the payload of a compressed message in (all its frames' payloads,
// joined), the message out. The 4-byte tail 00 00 ff ff the sender removed
// is appended here; a block with BFINAL set ends the message early
// (§7.2.3.4) and, with context takeover, the window carries over anyway.
//
// The output is bounded while inflating: a few KB that would inflate to
// gigabytes stop at `max_out` + 1 bytes with too_large (→ 1009), so a zip
// bomb costs a bounded amount of memory and time, never more.
// Read next: deflater.hpp, permessage_deflate.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace wsring::proto {

struct inflater_options {
    std::uint8_t window_bits = 15;  // 8..15: at least the peer's compressor window
    bool context_takeover = false;  // the peer keeps its window across messages (§7.2.2)
};

class inflater {
public:
    enum class status : std::uint8_t {
        ok,         // `out` holds the message
        too_large,  // more than max_out bytes would come out → 1009
        corrupt,    // not valid DEFLATE data → 1007 (error::deflate_corrupt)
    };

    explicit inflater(inflater_options opts = {});
    ~inflater();
    inflater(const inflater&) = delete;
    inflater& operator=(const inflater&) = delete;

    // Inflates one whole compressed message into `out` (replacing what it
    // held). After too_large or corrupt the stream is reset and `out` is
    // empty: a later message starts from an empty window (the connection is
    // failing anyway). `out` stays the caller's: its capacity is kept from
    // call to call, and this call grows it to max_out + 1 bytes at most.
    status decompress(std::span<const std::byte> payload, std::size_t max_out,
                      std::vector<std::byte>& out);

    // Heap bytes zlib holds for this stream right now: 0 before the first
    // message, then zlib's 7,160-byte state and, once something was
    // inflated, the 2^w-byte window (39,928 B at window 15), never more.
    std::size_t memory() const;

    const inflater_options& options() const { return opts_; }

private:
    struct stream;
    inflater_options opts_;
    std::unique_ptr<stream> s_;
};

}  // namespace wsring::proto
