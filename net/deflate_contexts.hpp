// permessage-deflate in the server (RFC 7692): the compression contexts one
// reactor keeps for its connections, and what each connection agreed to.
//
// The memory model. By default the server answers every offer with
// server_no_context_takeover and client_no_context_takeover, so no message
// depends on the one before: one deflater per window size and one inflater
// serve every connection of the reactor in turn, and an idle deflate
// connection costs one byte (connection::deflate). With --deflate-takeover a
// connection whose agreement keeps a context gets its own deflater and/or
// inflater, made at its first compressed message and kept until it closes
// (the price of the better ratio: docs/deflate.md has the figures); they
// live in a table here, so a connection without them pays nothing.
//
// Only the reactor's thread touches this object: no locks.
// Read next: net/session.cpp (where messages pass through it), docs/deflate.md.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/connection.hpp"
#include "proto/deflater.hpp"
#include "proto/error.hpp"
#include "proto/handshake.hpp"
#include "proto/inflater.hpp"
#include "proto/permessage_deflate.hpp"

namespace wsring::net {

struct deflate_options {
    bool enabled = false;         // --deflate: negotiate permessage-deflate at all
    bool takeover = false;        // --deflate-takeover: per-connection contexts
    int level = 6;                // --deflate-level: zlib 1..9
    std::uint8_t window_bits = 15;  // --deflate-window: our compressor's largest window
    int mem_level = 8;            // --deflate-mem-level: zlib memLevel 1..9 (hash table size)
    std::size_t threshold = 64;   // --deflate-threshold: shorter messages go out as they are
};

class deflate_contexts {
public:
    explicit deflate_contexts(const deflate_options& opts);
    ~deflate_contexts();
    deflate_contexts(const deflate_contexts&) = delete;
    deflate_contexts& operator=(const deflate_contexts&) = delete;

    const deflate_options& options() const { return opts_; }

    // The handshake: chooses among the request's offers and records the
    // agreement in `c`. Returns the Sec-WebSocket-Extensions answer, empty
    // when deflate is off or no offer was acceptable.
    std::string negotiate(connection& c, const proto::http_request& req);

    // Whether `c` agreed to permessage-deflate (connection::deflate is 0
    // otherwise). Inline: asked for every message sent and received.
    static bool agreed(const connection& c) { return c.deflate != 0; }
    // Whether `c` can read a message compressed once for everyone (no
    // server context takeover, and a window at least shared_window_bits()).
    bool shares(const connection& c) const;
    std::uint8_t shared_window_bits() const { return opts_.window_bits; }

    // Sending: true with `compressed` set to the payload of `message`
    // compressed for `c` (valid until the next call), or false when the
    // message goes out as it is (deflate not agreed, or shorter than the
    // threshold: RFC 7692 §6 lets any message go uncompressed).
    bool compress_for(connection& c, std::span<const std::byte> message,
                      std::span<const std::byte>& compressed);
    // Compresses `message` once for every connection that shares(): the
    // payload is appended to `out`; returns its size.
    std::size_t compress_shared(std::span<const std::byte> message, std::vector<std::byte>& out);

    // Receiving: inflates the payload of a compressed message from `c`,
    // bounded by `max_message` inflated bytes (error::message_too_big,
    // 1009), error::deflate_corrupt (1007) when it does not inflate.
    // `message` is valid until the next call.
    proto::error inflate_for(connection& c, std::span<const std::byte> payload,
                             std::size_t max_message, std::span<const std::byte>& message);

    // The connection ends: its own contexts (if any) go.
    void release(connection& c);
    // Between messages: scratch buffers that grew past a large message are
    // given back, so one 16 MiB message does not pin 16 MiB per reactor.
    void trim();

    // Heap bytes zlib holds in this reactor: shared and per connection.
    std::size_t memory() const;
    std::size_t connections_with_contexts() const { return own_.size(); }

private:
    struct own_contexts {
        std::unique_ptr<proto::deflater> tx;  // server context takeover
        std::unique_ptr<proto::inflater> rx;  // client context takeover
    };
    proto::deflater& deflater_for(const connection& c);
    proto::inflater& inflater_for(const connection& c);
    proto::deflater& shared_deflater(std::uint8_t window_bits);

    deflate_options opts_;
    proto::deflate_server_config config_;
    // Without context takeover, by window bits (9..15), made on first use.
    std::array<std::unique_ptr<proto::deflater>, 16> shared_tx_;
    std::unique_ptr<proto::inflater> shared_rx_;  // window 15 reads any window
    std::unordered_map<const connection*, own_contexts> own_;
    std::vector<std::byte> deflated_;  // the last compress_for's output
    std::vector<std::byte> inflated_;  // the last inflate_for's output
};

}  // namespace wsring::net
