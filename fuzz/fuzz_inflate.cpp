// permessage-deflate's inflater (RFC 7692 §7.2.2) on input-chosen options
// and messages. Raw mode: arbitrary payloads never crash, leak, grow memory
// past the window, or give more than max_out bytes, and a roomy max_out
// agrees with the tight one. Differential mode: deflate → inflate, with or
// without context takeover, gives every message back.
// Seeds: fuzz/corpus/fuzz_inflate; dictionary: fuzz_inflate.dict.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "proto/deflater.hpp"
#include "proto/inflater.hpp"

using namespace wsring::proto;
using status = inflater::status;

// Input: [options] [max_out or level] [shift or mem_level], then messages,
// each a length byte (0xF0.. = 512-byte units) and that many bytes.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const bool takeover = data[0] & 0x08, differential = data[0] & 0x10;
    std::vector<std::span<const std::byte>> messages;
    for (std::size_t at = 3; at < size;) {
        std::size_t n = data[at++];
        if (n >= 0xF0) n = (n - 0xEF) * 512;
        n = std::min(n, size - at);
        messages.push_back({reinterpret_cast<const std::byte*>(data + at), n});
        at += n;
    }
    std::vector<std::byte> out, roomy_out, wire;
    if (differential) {
        const std::uint8_t w = 9 + (data[0] & 7) % 7;
        deflater d({.window_bits = w, .context_takeover = takeover, .level = data[1] % 10,
                    .mem_level = 1 + data[2] % 9});
        inflater in({.window_bits = w, .context_takeover = takeover});
        for (auto m : messages) {
            wire.clear();
            d.compress(m, wire);
            if (in.decompress(wire, m.size(), out) != status::ok) std::abort();
            if (!std::equal(out.begin(), out.end(), m.begin(), m.end())) std::abort();
        }
        return 0;
    }
    const std::uint8_t w = 8 + (data[0] & 7);
    const std::size_t max_out = std::size_t{data[1]} << (data[2] & 7);  // 0 .. 32640
    inflater tight({.window_bits = w, .context_takeover = takeover}), roomy(tight.options());
    bool same_state = true;  // until one of them fails (and resets) alone
    for (auto m : messages) {
        const status st = tight.decompress(m, max_out, out);
        if (st == status::ok ? out.size() > max_out : !out.empty()) std::abort();
        if (out.capacity() > max_out + 1) std::abort();  // the bound holds while inflating
        if (tight.memory() > (std::size_t{1} << w) + 8192) std::abort();  // inflate_state + window
        if (!same_state) continue;
        const status big = roomy.decompress(m, std::size_t{1} << 22, roomy_out);
        if (st == status::ok && (big != status::ok || out != roomy_out)) std::abort();
        if (st == status::corrupt && big != status::corrupt) std::abort();
        if (st == status::too_large && big == status::ok && roomy_out.size() <= max_out) std::abort();
        same_state = st == status::ok && big == status::ok;
    }
    return 0;
}
