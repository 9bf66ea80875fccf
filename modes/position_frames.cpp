// position_frames: two passes over the entry's frames, one to size the
// buffer (a prefix is 3 to 54 bytes and may move a header from 2 to 4
// bytes), one to write it, so the frames are made in one allocation.
#include "modes/position_frames.hpp"

#include <algorithm>

#include "proto/encoder.hpp"
#include "proto/wsring_v1.hpp"

namespace wsring::modes {

core::shared_buffer encode_v1_frames(std::span<const std::byte> frames, std::string_view epoch,
                                     std::uint64_t first) {
    std::size_t total = 0;
    std::uint64_t offset = first;
    for_each_frame(frames, 0, [&](proto::opcode, std::span<const std::byte> payload, bool) {
        total += proto::frame_size(proto::v1::prefix_size(epoch, offset++) + payload.size(), false);
    });
    return core::shared_buffer::make(total, [&](std::span<std::byte> out) {
        std::uint64_t at_offset = first;
        for_each_frame(frames, 0, [&](proto::opcode op, std::span<const std::byte> payload, bool) {
            const std::size_t prefix = proto::v1::prefix_size(epoch, at_offset);
            const std::size_t size = prefix + payload.size();
            proto::frame_header h;
            h.opcode_bits = static_cast<std::uint8_t>(op);
            h.length = size;
            const std::size_t header = proto::encode_header(h, out.data());
            out = out.subspan(header);
            proto::v1::write_prefix(out, epoch, at_offset++);
            out = out.subspan(prefix);
            std::copy(payload.begin(), payload.end(), out.begin());
            out = out.subspan(payload.size());
        });
    });
}

std::size_t frame_offset(std::span<const std::byte> frames, std::uint32_t k) {
    std::size_t at = 0;
    for (std::uint32_t i = 0; i < k && at < frames.size(); ++i) {
        proto::frame_header h;
        at += proto::decode_header(frames.subspan(at), h).size + static_cast<std::size_t>(h.length);
    }
    return at;
}

}  // namespace wsring::modes
