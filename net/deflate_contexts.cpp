// deflate_contexts: which zlib context serves which connection's message.
// The agreement fits in one byte of the connection:
//   bit 7      agreed
//   bits 0-3   server_max_window_bits: the window our compressor uses for it
//   bit 4      we keep our compressor's window between its messages
//   bit 5      the client keeps its window: we keep our inflater's too
// RFC 7692 §7.1 (the parameters), §7.2.1 and §7.2.2 (what takeover means).
#include "net/deflate_contexts.hpp"

#include <algorithm>
#include <string_view>

#include "net/connection.hpp"

namespace wsring::net {

namespace {

constexpr std::uint8_t agreed_bit = 0x80;
constexpr std::uint8_t window_mask = 0x0f;
constexpr std::uint8_t server_takeover_bit = 0x10;
constexpr std::uint8_t client_takeover_bit = 0x20;

std::uint8_t pack(const proto::deflate_params& p) {
    std::uint8_t b = agreed_bit | (p.server_max_window_bits & window_mask);
    if (!p.server_no_context_takeover) b |= server_takeover_bit;
    if (!p.client_no_context_takeover) b |= client_takeover_bit;
    return b;
}

std::uint8_t window_of(const connection& c) { return c.deflate & window_mask; }

// zlib's hash table (2^(memLevel+7) entries) is rebuilt as the window
// slides: one far larger than the window costs time for nothing. With a
// 512-byte window memLevel 8 took 44 µs per 1 KiB message, memLevel 4 16 µs
// (docs/deflate.md): at most 4 hash entries per window byte.
int mem_level_for(int asked, std::uint8_t window_bits) {
    return std::max(1, std::min(asked, static_cast<int>(window_bits) - 5));
}

// Scratch that held one large message is freed rather than kept.
constexpr std::size_t scratch_keep = 256u << 10;

void shrink(std::vector<std::byte>& v) {
    if (v.capacity() > scratch_keep) std::vector<std::byte>().swap(v);
}

}  // namespace

deflate_contexts::deflate_contexts(const deflate_options& opts)
    : opts_(opts), config_{.context_takeover = opts.takeover, .max_window_bits = opts.window_bits} {}

deflate_contexts::~deflate_contexts() = default;

std::string deflate_contexts::negotiate(connection& c, const proto::http_request& req) {
    c.deflate = 0;
    if (!opts_.enabled) return {};
    // RFC 6455 §9.1: the offers may be split over several header lines.
    std::vector<std::string_view> lines;
    for (const auto& h : req.headers)
        if (proto::iequals(h.name, "Sec-WebSocket-Extensions")) lines.push_back(h.value);
    if (lines.empty()) return {};
    auto agreed = proto::negotiate_deflate(lines, config_);
    if (!agreed) return {};
    c.deflate = pack(*agreed);
    return proto::format_deflate_response(*agreed);
}

bool deflate_contexts::shares(const connection& c) const {
    return agreed(c) && !(c.deflate & server_takeover_bit) && window_of(c) >= opts_.window_bits;
}

bool deflate_contexts::compress_for(connection& c, std::span<const std::byte> message,
                                    std::span<const std::byte>& compressed) {
    if (!agreed(c) || message.size() < opts_.threshold) return false;
    deflated_.clear();
    deflater_for(c).compress(message, deflated_);
    compressed = deflated_;
    return true;
}

std::size_t deflate_contexts::compress_shared(std::span<const std::byte> message,
                                              std::vector<std::byte>& out) {
    return shared_deflater(opts_.window_bits).compress(message, out);
}

proto::error deflate_contexts::inflate_for(connection& c, std::span<const std::byte> payload,
                                           std::size_t max_message,
                                           std::span<const std::byte>& message) {
    switch (inflater_for(c).decompress(payload, max_message, inflated_)) {
    case proto::inflater::status::ok: message = inflated_; return proto::error::none;
    case proto::inflater::status::too_large: return proto::error::message_too_big;  // 1009
    case proto::inflater::status::corrupt: return proto::error::deflate_corrupt;    // 1007
    }
    return proto::error::deflate_corrupt;
}

void deflate_contexts::release(connection& c) {
    if (c.deflate & (server_takeover_bit | client_takeover_bit)) own_.erase(&c);
    c.deflate = 0;
}

void deflate_contexts::trim() {
    shrink(deflated_);
    shrink(inflated_);
}

std::size_t deflate_contexts::memory() const {
    std::size_t n = shared_rx_ ? shared_rx_->memory() : 0;
    for (const auto& d : shared_tx_)
        if (d) n += d->memory();
    for (const auto& [conn, own] : own_)
        n += (own.tx ? own.tx->memory() : 0) + (own.rx ? own.rx->memory() : 0);
    return n;
}

// §7.2.1: with server context takeover the connection's own compressor,
// made at its first compressed message; otherwise the reactor's for its window.
proto::deflater& deflate_contexts::deflater_for(const connection& c) {
    if (!(c.deflate & server_takeover_bit)) return shared_deflater(window_of(c));
    auto& own = own_[&c];
    if (!own.tx)
        own.tx = std::make_unique<proto::deflater>(
            proto::deflater_options{.window_bits = window_of(c),
                                    .context_takeover = true,
                                    .level = opts_.level,
                                    .mem_level = mem_level_for(opts_.mem_level, window_of(c))});
    return *own.tx;
}

// §7.2.2: a client that keeps its window needs our inflater to keep it too.
// A window of 15 reads any smaller one, so the shared inflater needs no size.
proto::inflater& deflate_contexts::inflater_for(const connection& c) {
    if (c.deflate & client_takeover_bit) {
        auto& own = own_[&c];
        if (!own.rx)
            own.rx = std::make_unique<proto::inflater>(
                proto::inflater_options{.window_bits = 15, .context_takeover = true});
        return *own.rx;
    }
    if (!shared_rx_) shared_rx_ = std::make_unique<proto::inflater>();
    return *shared_rx_;
}

proto::deflater& deflate_contexts::shared_deflater(std::uint8_t window_bits) {
    auto& d = shared_tx_[window_bits & window_mask];
    if (!d)
        d = std::make_unique<proto::deflater>(
            proto::deflater_options{.window_bits = window_bits,
                                    .context_takeover = false,
                                    .level = opts_.level,
                                    .mem_level = mem_level_for(opts_.mem_level, window_bits)});
    return *d;
}

}  // namespace wsring::net
