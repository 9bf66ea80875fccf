// The compressing half of permessage-deflate over zlib (RFC 7692 §7.2.1):
// raw DEFLATE ended by a sync flush, whose 4-byte tail is cut off. Owns the
// z_stream and counts every byte zlib allocates through it (memory()).
// Framing (RSV1 on the first frame only, §6) is the encoder's business.
// Read next: inflater.cpp, the other direction.
#define ZLIB_CONST  // next_in is const: zlib never writes through it
#include "proto/deflater.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proto/zlib_memory.hpp"

namespace wsring::proto {
namespace {

// RFC 7692 §7.2.1 step 3: the LEN/NLEN of the empty stored block a sync flush ends with.
constexpr std::byte sync_tail[4] = {std::byte{0x00}, std::byte{0x00}, std::byte{0xff}, std::byte{0xff}};

// zlib counts in uInt; larger spans are fed in pieces of this size.
constexpr std::size_t max_piece = std::size_t{1} << 30;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "wsring::proto::deflater: %s\n", what);
    std::abort();
}

}  // namespace

struct deflater::stream {
    z_stream z{};
    zlib_memory memory;     // what zlib holds for this stream
    bool ready = false;     // deflateInit2 done: zlib allocates everything there, so we wait for a message
};

deflater::deflater(deflater_options opts) : opts_(opts), s_(std::make_unique<stream>()) {
    // zlib refuses a raw 256-byte window (deflateInit2 with windowBits -8),
    // so negotiation never agrees to 8 for our compressor (§7.1.2).
    if (opts_.window_bits < 9 || opts_.window_bits > 15) die("window_bits must be 9..15 (zlib has no raw 8-bit window)");
    if (opts_.level < 0 || opts_.level > 9) die("level must be 0..9");
    if (opts_.mem_level < 1 || opts_.mem_level > 9) die("mem_level must be 1..9");
}

deflater::~deflater() {
    if (s_->ready) deflateEnd(&s_->z);
}

std::size_t deflater::memory() const { return s_->memory.bytes; }

std::size_t deflater::compress(std::span<const std::byte> message, std::vector<std::byte>& out) {
    // RFC 7692 §7.2.3.6: an empty message is an empty stored block less its
    // tail, the single byte 0x00 — what zlib writes too. Writing it here also
    // avoids zlib's Z_BUF_ERROR for a sync flush right after another one, and
    // leaves the window as it was, as the empty block would.
    if (message.empty()) {
        out.push_back(std::byte{0x00});
        return 1;
    }
    z_stream& z = s_->z;
    if (!s_->ready) {
        s_->memory.attach(z);
        // Negative windowBits: raw DEFLATE, no zlib header or checksum (§7.2.1).
        if (deflateInit2(&z, opts_.level, Z_DEFLATED, -opts_.window_bits, opts_.mem_level,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            die("deflateInit2 failed (out of memory)");
        s_->ready = true;
    }
    const std::size_t start = out.size();
    std::size_t at = start;  // where zlib writes next
    // deflateBound is for one Z_FINISH call; a sync flush adds its empty block.
    out.resize(start + deflateBound(&z, message.size()) + 16);
    for (std::size_t fed = 0; fed < message.size();) {
        const std::size_t piece = std::min(message.size() - fed, max_piece);
        z.next_in = reinterpret_cast<const Bytef*>(message.data() + fed);
        z.avail_in = static_cast<uInt>(piece);
        fed += piece;
        // RFC 7692 §7.2.1 step 1: compress, and end the message with a sync
        // flush (an empty stored block) so that it ends on a byte boundary.
        const int flush = fed == message.size() ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        do {
            // zlib wants more than 6 bytes of room for a sync flush ("avoid
            // repeated flush markers"); grow by half again when short.
            if (out.size() - at < 64) out.resize(out.size() + std::max<std::size_t>(4096, (out.size() - start) / 2));
            const std::size_t room = std::min(out.size() - at, max_piece);
            z.next_out = reinterpret_cast<Bytef*>(out.data() + at);
            z.avail_out = static_cast<uInt>(room);
            const int rc = deflate(&z, flush);
            at += room - z.avail_out;
            if (rc == Z_BUF_ERROR) break;  // no progress possible: everything is out
            if (rc != Z_OK) die("deflate failed on a valid stream");
        } while (z.avail_out == 0 || z.avail_in != 0);
    }
    // RFC 7692 §7.2.1 step 3: remove the 00 00 ff ff a sync flush always ends with.
    if (at - start < 5 || std::memcmp(out.data() + at - 4, sync_tail, 4) != 0)
        die("zlib's sync flush did not end with 00 00 ff ff");
    at -= 4;
    out.resize(at);
    // §7.2.1: without context takeover the next message starts from an empty
    // window. deflateReset clears the hash table: 2^(mem_level+8) bytes of memset.
    if (!opts_.context_takeover) deflateReset(&z);
    return at - start;
}

}  // namespace wsring::proto
