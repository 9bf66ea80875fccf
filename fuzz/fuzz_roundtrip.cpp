// encode → decode round trip: the input describes messages (kind, payload,
// how many fragments, a ping between fragments, a masking key), encode_frame
// writes them, and the decoder, fed in input-chosen reads, must give back
// exactly those messages and pings, in order. Seeds: fuzz/corpus/fuzz_roundtrip.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "proto/decoder.hpp"
#include "proto/encoder.hpp"

using namespace wsring::proto;

namespace {

using bytes = std::vector<std::byte>;

void put(bytes& wire, opcode op, std::span<const std::byte> p, frame_options opts) {
    std::size_t at = wire.size();
    wire.resize(at + frame_size(p.size(), opts.mask.has_value()));
    encode_frame(std::span(wire).subspan(at), op, p, opts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const bool masked = data[0] & 1;  // client → server frames
    std::optional<mask_key> key;
    if (masked) key = 0x01020304u * data[1];
    std::vector<std::pair<event_kind, bytes>> want;
    bytes wire;
    for (std::size_t at = 2; at + 2 <= size;) {
        std::uint8_t ctl = data[at], len = data[at + 1];
        at += 2;
        std::size_t n = std::min<std::size_t>(len * (ctl & 0x80 ? 257u : 1u), size - at);
        bytes body(reinterpret_cast<const std::byte*>(data + at), reinterpret_cast<const std::byte*>(data + at + n));
        at += n;
        const bool text = ctl & 1;
        if (text) for (auto& b : body) b &= std::byte{0x7F};  // ASCII: always valid UTF-8
        const std::size_t parts = 1 + ((ctl >> 1) & 3);
        for (std::size_t i = 0, from = 0; i < parts; ++i) {
            std::size_t to = i + 1 == parts ? n : std::min(n, from + n / parts);
            opcode op = i ? opcode::continuation : text ? opcode::text : opcode::binary;
            put(wire, op, std::span(body).subspan(from, to - from), {.fin = i + 1 == parts, .mask = key});
            from = to;
            if ((ctl & 8) && i + 1 < parts) {  // RFC 6455 §5.4: a control frame between fragments
                put(wire, opcode::ping, std::span(body).first(std::min<std::size_t>(n, 125)), {.mask = key});
                want.push_back({event_kind::ping, bytes(body.begin(), body.begin() + std::min<std::ptrdiff_t>(n, 125))});
            }
        }
        want.push_back({text ? event_kind::text : event_kind::binary, body});
    }
    decoder d(masked ? role::server : role::client);
    std::size_t got = 0, step = 1 + data[1] % 97;
    for (std::size_t at = 0; at < wire.size(); at += step) {
        std::span<std::byte> in(wire.data() + at, std::min(step, wire.size() - at));
        for (event ev = d.next(in); ev.kind != event_kind::need_more; ev = d.next(in)) {
            if (got >= want.size() || ev.kind != want[got].first) std::abort();
            if (!std::equal(ev.payload.begin(), ev.payload.end(), want[got].second.begin(), want[got].second.end())) std::abort();
            ++got;
        }
    }
    if (got != want.size() || d.mid_message()) std::abort();
    return 0;
}
