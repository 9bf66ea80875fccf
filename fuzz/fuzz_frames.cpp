// Differential fuzzer for the decoder: the input picks the role, the limits
// and how reads cut the stream; the events must equal those of the same
// bytes decoded in one piece, and every event must keep the decoder's
// promises (valid UTF-8 text, ≤125-byte control payloads, size cap, no heap
// when idle). With RSV1 allowed (permessage-deflate agreed), a compressed
// message goes on to the inflater as the server does it (RFC 7692 §7.2.2):
// the inflated size never passes the cap, not even while inflating, and the
// verdict is the same however reads cut the stream. A third pass reads a
// cut data frame's rest into decoder::payload_room(), as the server's
// backends do: the events must be the same again.
// Seeds: fuzz/corpus/fuzz_frames; dictionary: fuzz_frames.dict.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "proto/decoder.hpp"
#include "proto/inflater.hpp"
#include "proto/utf8.hpp"

using namespace wsring::proto;

namespace {

struct seen {
    event_kind kind;
    std::vector<std::byte> payload;
    close_code code;
    error err;
    int inflated = -1;  // RFC 7692: the inflater's verdict on a compressed message
    bool operator==(const seen&) const = default;
};

// Chunk sizes come from a tiny xorshift seeded by the input; max_chunk 0 =
// whole. With `into_room`, a chunk that continues a data frame's payload is
// written to payload_room() first and decoded from there.
std::vector<seen> decode(role self, decoder_limits lim, const std::uint8_t* data, std::size_t size,
                         std::uint32_t seed, std::size_t max_chunk, bool into_room = false) {
    std::vector<std::byte> copy(reinterpret_cast<const std::byte*>(data),
                                reinterpret_cast<const std::byte*>(data) + size);
    decoder d(self, lim);
    inflater z;  // no context takeover, as ws-server agrees by default
    std::vector<std::byte> message;
    std::vector<seen> out;
    for (std::size_t at = 0; at < size;) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        std::size_t n = max_chunk ? 1 + seed % max_chunk : size;
        std::span<std::byte> in(copy.data() + at, std::min(n, size - at));
        std::span<std::byte> room = into_room ? d.payload_room() : std::span<std::byte>{};
        if (!room.empty()) {
            in = room.first(std::min(in.size(), room.size()));
            std::memcpy(in.data(), copy.data() + at, in.size());
        }
        at += in.size();
        for (event ev = d.next(in); ev.kind != event_kind::need_more; ev = d.next(in)) {
            if (ev.kind == event_kind::text && !ev.rsv1 && !is_valid_utf8(ev.payload)) std::abort();
            if (ev.kind == event_kind::ping && ev.payload.size() > 125) std::abort();
            bool is_data = ev.kind == event_kind::text || ev.kind == event_kind::binary;
            if (is_data && ev.payload.size() > lim.max_message) std::abort();
            out.push_back({ev.kind, {ev.payload.begin(), ev.payload.end()}, ev.code, ev.err});
            if (is_data && ev.rsv1) {
                auto st = z.decompress(ev.payload, lim.max_message, message);
                if (message.size() > lim.max_message || message.capacity() > lim.max_message + 1) std::abort();
                out.back().inflated = static_cast<int>(st);
            }
            if (ev.kind == event_kind::close || ev.kind == event_kind::protocol_error) return out;
        }
        if (!in.empty()) std::abort();                                 // need_more used it all
        if (!d.mid_message() && d.buffered_bytes() != 0) std::abort();  // idle holds no heap
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    role self = (data[0] & 1) ? role::server : role::client;
    decoder_limits lim{.max_message = (data[0] & 2) ? std::size_t{1} << (data[1] & 15) : 1u << 20,
                       .allow_rsv1 = (data[0] & 4) != 0};
    std::size_t max_chunk = 1 + (data[0] >> 3);  // 1..32 bytes per read
    std::uint32_t seed = 0x9E3779B9u ^ data[2];
    auto whole = decode(self, lim, data + 3, size - 3, seed, 0);
    auto split = decode(self, lim, data + 3, size - 3, seed, max_chunk);
    if (whole != split) std::abort();
    if (decode(self, lim, data + 3, size - 3, seed, max_chunk, true) != whole) std::abort();
    return 0;
}
