// The compressors behind a client's permessage-deflate (see client_deflate.hpp).
// RFC 7692 §7.1 (agreed parameters), §7.2.1 (compression), §7.2.2
// (decompression).
#include "net/client_deflate.hpp"

#include "proto/utf8.hpp"

namespace wsring::net {

// The default offer, "permessage-deflate; client_max_window_bits": we accept
// any window the server wants us to use, and ask nothing of its compressor.
client_deflate::client_deflate(bool enabled, int level, deflate_tally& tally)
    : tally_(tally), level_(level) {
    if (!enabled) return;
    cfg_ = proto::deflate_client_config{};
    offer_ = proto::format_deflate_offer(*cfg_);
}

void deflate_tally::merge(const deflate_tally& o) {
    agreed += o.agreed;
    declined += o.declined;
    sent_payload += o.sent_payload;
    sent_wire += o.sent_wire;
    received_wire += o.received_wire;
    received_payload += o.received_payload;
    if (params.empty()) params = o.params;
}

std::unique_ptr<client_deflate_conn> client_deflate::open(const std::optional<proto::deflate_params>& agreed,
                                                          std::string& why) {
    if (!agreed) {
        if (cfg_) ++tally_.declined;  // RFC 7692 §5: the server may decline; plain frames then
        return nullptr;
    }
    // RFC 7692 §7.1.2.2 allows a server to ask for an 8-bit window, but
    // zlib's raw deflate refuses one (deflateInit2: Z_STREAM_ERROR), and a
    // 9-bit window would write distances the server's cannot reach.
    if (agreed->client_max_window_bits < 9) {
        why = "server asked for client_max_window_bits=" + std::to_string(agreed->client_max_window_bits) +
              ", which zlib cannot compress with";
        return nullptr;
    }
    ++tally_.agreed;
    if (tally_.params.empty()) tally_.params = proto::format_deflate_response(*agreed);
    auto c = std::make_unique<client_deflate_conn>();
    c->params = *agreed;
    return c;
}

std::span<const std::byte> client_deflate::compress(client_deflate_conn& c, std::span<const std::byte> message) {
    wire_.clear();
    deflater_for(c).compress(message, wire_);
    tally_.sent_payload += message.size();
    tally_.sent_wire += wire_.size();
    return wire_;
}

proto::error client_deflate::inflate(client_deflate_conn& c, std::span<const std::byte> payload, bool text,
                                      std::size_t max_out, std::span<std::byte>& out) {
    auto st = inflater_for(c).decompress(payload, max_out, plain_);
    tally_.received_wire += payload.size();
    if (st == proto::inflater::status::too_large) return proto::error::message_too_big;
    if (st == proto::inflater::status::corrupt) return proto::error::deflate_corrupt;
    tally_.received_payload += plain_.size();
    // The decoder leaves compressed text unchecked: only the inflated bytes are text.
    if (text && !proto::is_valid_utf8(plain_)) return proto::error::invalid_utf8;
    out = plain_;
    return proto::error::none;
}

// §7.1.1.2: without client_no_context_takeover the server keeps our window,
// so our compressor must too (one per connection); with it, any deflater
// of the agreed window size will do, reset after every message.
proto::deflater& client_deflate::deflater_for(client_deflate_conn& c) {
    const std::uint8_t bits = c.params.client_max_window_bits;
    if (!c.params.client_no_context_takeover) {
        if (!c.tx) c.tx = std::make_unique<proto::deflater>(proto::deflater_options{.window_bits = bits, .context_takeover = true, .level = level_});
        return *c.tx;
    }
    auto& shared = shared_tx_[bits];
    if (!shared) shared = std::make_unique<proto::deflater>(proto::deflater_options{.window_bits = bits, .level = level_});
    return *shared;
}

// §7.1.1.1: the same for the server's messages. A shared inflater has the
// full 32 KiB window, which inflates any smaller window's output too.
proto::inflater& client_deflate::inflater_for(client_deflate_conn& c) {
    if (!c.params.server_no_context_takeover) {
        if (!c.rx)
            c.rx = std::make_unique<proto::inflater>(
                proto::inflater_options{.window_bits = c.params.server_max_window_bits, .context_takeover = true});
        return *c.rx;
    }
    if (!shared_rx_) shared_rx_ = std::make_unique<proto::inflater>(proto::inflater_options{});
    return *shared_rx_;
}

}  // namespace wsring::net
