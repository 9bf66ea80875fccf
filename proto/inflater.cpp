// The decompressing half of permessage-deflate over zlib (RFC 7692 §7.2.2):
// the payload, then the 4-byte tail the sender removed, inflated into a
// vector that never grows past max_out + 1 bytes. Owns the z_stream and
// counts what zlib allocates (memory()). A block with BFINAL set is handled
// here (§7.2.3.4); which messages are compressed (RSV1) is the decoder's
// business. Read next: deflater.cpp.
#define ZLIB_CONST  // next_in is const: zlib never writes through it
#include "proto/inflater.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "proto/zlib_memory.hpp"

namespace wsring::proto {
namespace {

// RFC 7692 §7.2.2 step 1: "Append 4 octets of 0x00 0x00 0xff 0xff".
constexpr std::byte sync_tail[4] = {std::byte{0x00}, std::byte{0x00}, std::byte{0xff}, std::byte{0xff}};

// zlib counts in uInt; larger spans are fed in pieces of this size.
constexpr std::size_t max_piece = std::size_t{1} << 30;

// The first output chunk; later ones double what `out` holds.
constexpr std::size_t first_chunk = 4096;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "wsring::proto::inflater: %s\n", what);
    std::abort();
}

}  // namespace

struct inflater::stream {
    z_stream z{};
    zlib_memory memory;     // what zlib holds for this stream
    bool ready = false;     // inflateInit2 done (at the first message)

    // Starts a new raw DEFLATE stream whose window still holds the old
    // one's last bytes, as if the stream had gone on (zlib keeps no window
    // across a BFINAL block, so we carry it over by hand).
    void restart_keeping_window(unsigned window_bits) {
        std::vector<Bytef> window(std::size_t{1} << window_bits);
        uInt n = 0;
        inflateGetDictionary(&z, window.data(), &n);
        inflateReset(&z);
        inflateSetDictionary(&z, window.data(), n);
    }
};

inflater::inflater(inflater_options opts) : opts_(opts), s_(std::make_unique<stream>()) {
    if (opts_.window_bits < 8 || opts_.window_bits > 15) die("window_bits must be 8..15");
}

inflater::~inflater() {
    if (s_->ready) inflateEnd(&s_->z);
}

std::size_t inflater::memory() const { return s_->memory.bytes; }

inflater::status inflater::decompress(std::span<const std::byte> payload, std::size_t max_out,
                                      std::vector<std::byte>& out) {
    out.clear();
    z_stream& z = s_->z;
    if (!s_->ready) {
        s_->memory.attach(z);
        // Raw DEFLATE (negative windowBits). zlib allocates the window itself
        // at the first output, not here.
        if (inflateInit2(&z, -opts_.window_bits) != Z_OK) die("inflateInit2 failed (out of memory)");
        s_->ready = true;
    }
    // Lenient: an empty payload (no bytes at all, not even §7.2.3.6's 0x00)
    // is an empty message, and leaves the window as it was.
    if (payload.empty()) return status::ok;

    // The input is the payload, then the tail, fed as a second piece so that
    // the payload is never copied.
    std::span<const std::byte> rest[2] = {payload, sync_tail};
    z.avail_in = 0;  // a failed message may have left some of its input behind
    std::size_t piece = 0;
    const std::size_t cap = max_out == SIZE_MAX ? max_out : max_out + 1;  // one byte past the limit tells too_large
    std::size_t produced = 0;
    bool out_was_full = false;  // zlib may still hold output it had no room for
    status result = status::ok;
    for (;;) {
        if (z.avail_in == 0) {
            while (piece < 2 && rest[piece].empty()) ++piece;
            if (piece == 2 && !out_was_full) break;  // all in, tail included, and all out
            if (piece < 2) {
                const std::size_t n = std::min(rest[piece].size(), max_piece);
                z.next_in = reinterpret_cast<const Bytef*>(rest[piece].data());
                z.avail_in = static_cast<uInt>(n);
                rest[piece] = rest[piece].subspan(n);
            }
        }
        if (produced == out.size()) {
            // Grow by doubling, never past cap; reserve first so the capacity
            // is exactly the size (resize alone may round it up).
            const std::size_t next = std::min(cap, std::max(first_chunk, 2 * out.size()));
            out.reserve(next);
            out.resize(next);
        }
        const std::size_t room = std::min(out.size() - produced, max_piece);
        z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        z.avail_out = static_cast<uInt>(room);
        const int rc = inflate(&z, Z_SYNC_FLUSH);
        produced += room - z.avail_out;
        out_was_full = z.avail_out == 0;
        if (produced > max_out) {  // → 1009, without inflating the rest
            result = status::too_large;
            break;
        }
        if (rc == Z_OK) continue;
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && piece == 2) break;  // nothing was pending after all
        if (rc != Z_STREAM_END) {  // Z_DATA_ERROR, Z_MEM_ERROR, Z_BUF_ERROR mid-input
            result = status::corrupt;
            break;
        }
        // A block with BFINAL set (RFC 7692 §7.2.3.4). When the payload ends
        // right there (all that is left is our tail), so does the message.
        // Otherwise "the next DEFLATE block follows the padded data" (§7.2.1),
        // at least §7.2.3.4's 0x00, the empty stored block our tail completes,
        // and it may refer back to what came before: the window carries over.
        const std::size_t left = z.avail_in + rest[0].size() + rest[1].size();
        if (left == sizeof sync_tail && !opts_.context_takeover) {
            inflateReset(&z);
            out.resize(produced);
            return status::ok;
        }
        s_->restart_keeping_window(opts_.window_bits);
        if (left == sizeof sync_tail) {
            out.resize(produced);
            return status::ok;
        }
    }
    // A whole message ends on a block boundary (zlib: data_type bit 128),
    // after the empty stored block the tail completed; anything else was cut short.
    if (result == status::ok && (z.data_type & 128) == 0) result = status::corrupt;
    // After a failure the window is incomplete or garbage: start afresh (the
    // connection is failing anyway). Without takeover, every message does.
    if (result != status::ok || !opts_.context_takeover) inflateReset(&z);
    if (result == status::ok)
        out.resize(produced);
    else
        out.clear();
    return result;
}

}  // namespace wsring::proto
