// The client side of permessage-deflate (RFC 7692), used by ws-bench and
// net/ws_client: the offer a client makes, what each connection agreed, and
// the compressors behind it. A connection whose agreement keeps a sender's
// window across messages (context takeover, §7.1.1) owns that direction's
// deflater or inflater, made at its first compressed message; without it
// one deflater (per window size) and one inflater serve every connection of
// the owner (one thread), reset after each message. Framing (RSV1, one frame
// per message) stays with the caller. The server's side is deflate_contexts.hpp.
// Read next: proto/permessage_deflate.hpp, proto/deflater.hpp.
#pragma once
#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/deflater.hpp"
#include "proto/error.hpp"
#include "proto/inflater.hpp"
#include "proto/permessage_deflate.hpp"

namespace wsring::net {

// Over a client's whole life: how many connections agreed, and the bytes
// of compressed messages before and after DEFLATE each way.
struct deflate_tally {
    std::uint64_t agreed = 0, declined = 0;           // connections that offered
    std::uint64_t sent_payload = 0, sent_wire = 0;    // messages we compressed: in, out
    std::uint64_t received_wire = 0, received_payload = 0;  // messages we inflated: in, out
    std::string params;  // the first agreement, as format_deflate_response writes it

    void merge(const deflate_tally& other);
};

// What one open connection agreed; a connection holds none when it agreed nothing.
struct client_deflate_conn {
    proto::deflate_params params;
    std::unique_ptr<proto::deflater> tx;  // !client_no_context_takeover: this connection's own
    std::unique_ptr<proto::inflater> rx;  // !server_no_context_takeover: this connection's own
};

class client_deflate {
public:
    // `enabled`: offer the extension at all (ws-bench --deflate); `level`:
    // zlib's 1..9. The counts go to `tally`, which must outlive this object.
    client_deflate(bool enabled, int level, deflate_tally& tally);

    // The config the offer was made from (nullopt when not enabled), for
    // the response checker, and the Sec-WebSocket-Extensions value ("" without).
    const std::optional<proto::deflate_client_config>& config() const { return cfg_; }
    const std::string& offer() const { return offer_; }

    // The most bytes compress() can return for a message of `size` bytes:
    // zlib's deflateBound() for a raw stream, plus the sync flush.
    static std::size_t bound(std::size_t size) { return size + (size >> 3) + (size >> 6) + 64; }

    // After an accepted upgrade: the connection's state when it agreed to
    // the extension, else null. Sets `why` when the agreement cannot be
    // honoured (the connection must fail).
    std::unique_ptr<client_deflate_conn> open(const std::optional<proto::deflate_params>& agreed, std::string& why);

    // RFC 7692 §7.2.1: the compressed payload of `message` (tail 00 00 ff ff
    // removed), valid until the next call.
    std::span<const std::byte> compress(client_deflate_conn& c, std::span<const std::byte> message);

    // RFC 7692 §7.2.2: inflates a message that arrived with RSV1 into `out`
    // (valid until the next call). Returns the rule broken, or none:
    // message_too_big past `max_out`, deflate_corrupt, or invalid_utf8 for
    // a text message (RFC 6455 §8.1, checked after decompression).
    proto::error inflate(client_deflate_conn& c, std::span<const std::byte> payload, bool text, std::size_t max_out,
                         std::span<std::byte>& out);

private:
    proto::deflater& deflater_for(client_deflate_conn& c);
    proto::inflater& inflater_for(client_deflate_conn& c);

    std::optional<proto::deflate_client_config> cfg_;
    std::string offer_;
    deflate_tally& tally_;
    int level_;  // zlib level of every compressor here
    std::array<std::unique_ptr<proto::deflater>, 16> shared_tx_;  // by window bits: no takeover
    std::unique_ptr<proto::inflater> shared_rx_;                   // 32 KiB window: no takeover
    std::vector<std::byte> wire_;   // compress() output
    std::vector<std::byte> plain_;  // inflate() output
};

}  // namespace wsring::net
