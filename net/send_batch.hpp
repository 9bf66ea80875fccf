// The large frames one read produces for one connection, held by reference
// until that read is handled and then sent with one gather write. An echo of
// 100 × 4 × 64 KiB sent each frame as it was decoded (header and payload,
// straight from the receive buffer): 1.25 sendmsg per message where the
// plain TCP echo writes a whole read at once (0.6 per message), and the
// TCP echo itself lost 11 % per server-CPU-second when made to write 64 KiB
// at a time. The payloads stay where they lie (the read's own bytes, valid
// until it is handled); only the headers are copied here. What the socket
// does not take is copied into the connection's queue by the session.
// Read next: net/session_output.cpp (queue_frame, send_batched).
#pragma once
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <span>

#include "net/connection.hpp"
#include "proto/frame_header.hpp"

namespace wsring::net {

class send_batch {
public:
    // A read of 512 KiB (the epoll reactor's buffer) holds at most eight
    // 64 KiB frames; sixteen leaves room for smaller large ones.
    static constexpr std::size_t max_frames = 16;

    // The connection whose frames wait here, or nullptr.
    connection* owner() const { return owner_; }
    bool full() const { return frames_ == max_frames; }

    // Adds one frame for `c` (the owner, or the first): `header` copied,
    // `payload` by reference. The caller checks full() first.
    void add(connection& c, std::span<const std::byte> header, std::span<const std::byte> payload) {
        owner_ = &c;
        std::byte* h = headers_[frames_].data();
        std::memcpy(h, header.data(), header.size());
        iov_[2 * frames_] = {h, header.size()};
        iov_[2 * frames_ + 1] = {const_cast<std::byte*>(payload.data()), payload.size()};
        bytes_ += header.size() + payload.size();
        ++frames_;
    }

    std::span<const iovec> iovecs() const { return {iov_.data(), 2 * frames_}; }
    std::size_t bytes() const { return bytes_; }

    void clear() {
        owner_ = nullptr;
        frames_ = 0;
        bytes_ = 0;
    }

private:
    connection* owner_ = nullptr;
    std::size_t frames_ = 0;
    std::size_t bytes_ = 0;
    std::array<std::array<std::byte, proto::max_header_size>, max_frames> headers_{};
    std::array<iovec, 2 * max_frames> iov_{};
};

}  // namespace wsring::net
