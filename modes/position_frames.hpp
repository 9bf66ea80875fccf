// Frames with positions: the wsring.v1 encoding of a ring entry's messages
// (each payload gets its "<epoch>:<offset>\n" first line, proto/wsring_v1.hpp)
// and the walk over a run of encoded frames that finds where message k
// starts. The frames are ours: complete, unmasked, unfragmented server
// frames, so walking them needs no validation.
// Read next: modes/pubsub_deliver.cpp, "Positions".
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/shared_buffer.hpp"
#include "proto/opcode.hpp"

namespace wsring::modes {

// The messages of `frames` again, each payload prefixed with its position:
// the first gets `first`, the next first + 1, and so on. Same opcodes.
core::shared_buffer encode_v1_frames(std::span<const std::byte> frames, std::string_view epoch,
                                     std::uint64_t first);

// The byte where message `k` (0-based) of `frames` starts (frames.size()
// when k is the count of messages in it).
std::size_t frame_offset(std::span<const std::byte> frames, std::uint32_t k);

// Calls fn(proto::opcode, std::span<const std::byte> payload, bool rsv1) for
// each frame of `frames`, from byte `begin`.
template <class Fn>
void for_each_frame(std::span<const std::byte> frames, std::size_t begin, Fn&& fn);

}  // namespace wsring::modes

#include "proto/frame_header.hpp"

namespace wsring::modes {

template <class Fn>
void for_each_frame(std::span<const std::byte> frames, std::size_t begin, Fn&& fn) {
    std::span<const std::byte> rest = frames.subspan(begin);
    while (!rest.empty()) {
        proto::frame_header h;
        const std::size_t header = proto::decode_header(rest, h).size;
        auto payload = rest.subspan(header, static_cast<std::size_t>(h.length));
        fn(static_cast<proto::opcode>(h.opcode_bits), payload, h.rsv1);
        rest = rest.subspan(header + payload.size());
    }
}

}  // namespace wsring::modes
