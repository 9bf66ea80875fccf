// The receive side of a WebSocket connection, sans-IO (RFC 6455 §5, §6.2,
// §8.1): bytes in, events out. It parses frame headers, unmasks payloads,
// enforces every framing rule, reassembles fragmented messages (with control
// frames between fragments), validates text as UTF-8 as it arrives, checks
// close payloads, and caps message size.
//
// Zero copy where possible: a complete unfragmented frame that is wholly in
// the caller's buffer is unmasked *in place* and its event points into that
// buffer. Only a frame cut by the end of the buffer, or the fragments of a
// message, are copied into the decoder's own message buffer, which is
// released when the message is delivered (an idle decoder holds no heap) —
// and a caller that reads the rest of a cut frame into payload_room() saves
// even that copy.
// Read next: encoder.hpp for the send side.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "proto/error.hpp"
#include "proto/frame_header.hpp"
#include "proto/message_buffer.hpp"
#include "proto/utf8.hpp"

namespace wsring::proto {

struct decoder_limits {
    std::size_t max_message = 16u << 20;  // bytes, over all fragments → 1009
    bool allow_rsv1 = false;              // set when permessage-deflate owns RSV1 (RFC 7692)
};

enum class event_kind : std::uint8_t {
    need_more,       // the input is used up; call again with more bytes
    text,            // a complete text message (valid UTF-8)
    binary,          // a complete binary message
    ping,            // §5.5.2: answer with a pong carrying the same payload
    pong,            // §5.5.3
    close,           // §5.5.1: the peer's close frame (code, reason)
    protocol_error,  // the peer broke a rule: send a close with `code`, then stop reading
};

struct event {
    event_kind kind = event_kind::need_more;
    // text/binary/ping/pong: the payload; close: the reason's bytes. Points
    // into the caller's buffer or the decoder's; valid until the next call.
    std::span<std::byte> payload{};
    // close: the peer's code (no_status when the payload was empty);
    // protocol_error: the code to send.
    close_code code = close_code::no_status;
    error err = error::none;  // protocol_error: the rule broken
    // text/binary: the first frame had RSV1 set (RFC 7692: compressed; only
    // with decoder_limits::allow_rsv1). Such text is NOT UTF-8 checked here:
    // the inflater must check it after decompression.
    bool rsv1 = false;

    std::string_view text() const {
        return {reinterpret_cast<const char*>(payload.data()), payload.size()};
    }
};

class decoder {
public:
    // `self` is the side this decoder runs on: a server expects masked
    // frames and rejects unmasked ones (RFC 6455 §5.1), a client the reverse.
    explicit decoder(role self, decoder_limits limits = {});

    // Consumes bytes from the front of `in` (unmasking them in place) until
    // one event is complete or `in` is used up, and advances `in` past what
    // it consumed. Returns need_more with `in` empty when it needs more input.
    // After protocol_error or close, every later call returns the same kind
    // (and code) and consumes nothing: RFC 6455 §5.5.1, nothing after a close
    // frame is data.
    event next(std::span<std::byte>& in);

    // RSV1 on a data message's first frame becomes legal (RFC 7692 §6: the
    // handshake agreed on permessage-deflate, which owns the bit). Control
    // frames and continuations with RSV1 still fail (1002).
    void allow_rsv1(bool on) { allow_rsv1_ = on; }

    // Where the rest of a data frame already begun can be read to: the free
    // space after the message buffer's bytes, as much of it as the frame
    // still has to come (empty otherwise). Bytes read there and passed to
    // next() as a prefix of this span stay where they are (unmasked and
    // checked in place), so a large frame cut across reads is copied once,
    // by the kernel, not again into the message. Valid until the next call.
    std::span<std::byte> payload_room();

    // The storage of the message next() just delivered, handed over, when
    // `payload` lies in it: a message the decoder assembled itself (cut
    // across reads, or fragmented) outlives the next call without a copy.
    // An echo of 1 MiB messages spent 8-10 % of the server copying the
    // part of each reply the socket did not take. Empty (and nothing
    // changes) when `payload` lies elsewhere, or a fragmented message is
    // still open (a control frame between its fragments shares its buffer).
    message_buffer::storage take_delivered(std::span<const std::byte> payload);

    // True while a frame or a fragmented message is partly received (the
    // connection holds bytes of its own).
    bool mid_message() const;

    // Heap bytes held right now (for memory accounting and tests).
    std::size_t buffered_bytes() const { return message_.capacity(); }

private:
    // The most message_ reserves ahead of bytes that have arrived.
    static constexpr std::size_t reserve_ahead_limit = 1u << 20;
    enum class phase : std::uint8_t { header, payload, failed, closed };

    // next() for every case but the inline one: the resumable parse.
    event next_general(std::span<std::byte>& in);
    // The steps of the resumable parse, in the order a frame meets them.
    bool take_small_header(std::span<std::byte>& in, frame_header& h) const;
    bool take_header(std::span<std::byte>& in, frame_header& h);
    error check_header(const frame_header& h) const;
    event whole_frame(const frame_header& h, std::span<std::byte>& in);
    void start_frame(const frame_header& h);
    void reserve_for_frame(std::uint64_t length);
    event take_payload(std::span<std::byte>& in);
    event finish_frame();
    event control_event(std::uint8_t op, std::span<std::byte> payload);
    event terminal_event() const;
    void release_delivered();
    event fail(error e);

    // Laid out largest first: sizeof(decoder) is memory per connection.
    message_buffer message_;          // fragments / cut frames; empty when idle
    std::size_t max_message_;         // decoder_limits::max_message
    std::uint64_t frame_len_ = 0;     // payload length of the frame being received
    std::uint64_t frame_left_ = 0;    // payload bytes still to come
    mask_key key_ = 0;                // §5.3: the frame's masking key
    std::uint16_t close_code_ = 0;    // the peer's close code, replayed after close
    role self_;
    bool allow_rsv1_;
    phase phase_ = phase::header;
    std::uint8_t op_ = 0;             // opcode of the frame being received
    bool fin_ = false;
    bool masked_ = false;
    std::uint8_t mask_phase_ = 0;     // §5.3: key octet for the next payload byte
    std::uint8_t message_op_ = 0;     // opcode of the open buffered message, 0 if none
    bool message_rsv1_ = false;       // RFC 7692: the open message is compressed
    bool release_ = false;            // an event points into message_: trim it next call
    error err_ = error::none;         // the rule broken, replayed after protocol_error
    utf8_validator utf8_;             // text messages, across fragments and reads
    std::uint8_t header_have_ = 0;    // header bytes gathered so far
    std::byte header_buf_[max_header_size]{};  // a header cut by a read boundary
};

// Inline: a backend asks before every read.
inline std::span<std::byte> decoder::payload_room() {
    if (phase_ != phase::payload || is_control(static_cast<opcode>(op_))) return {};
    std::size_t at = message_.size();
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(frame_left_, message_.capacity() - at));
    return {message_.data() + at, n};
}

// ---- the per-frame path, inline ----------------------------------------------------
// A server's reads are mostly whole frames, each one call to next(). Were
// that call out of line, its 32-byte event would come back through memory:
// written in narrow stores, read back in wide loads, a store-forward stall
// on every message. Inline, the common case stays in the caller's
// registers; the rest (a frame cut by the read, fragments, control frames,
// anything take_small_header() turns down) is next_general(), out of line.

inline event decoder::next(std::span<std::byte>& in) {
    frame_header h;
    if (!release_ && phase_ == phase::header && take_small_header(in, h)) return whole_frame(h, in);
    return next_general(in);
}

// The common case, told from the first two to four bytes: a data frame of
// up to 64 KiB that is wholly here. FIN set and no RSV bit, text or
// binary, masked as our role requires (§5.1), a 7- or 16-bit length
// (§5.2), no fragmented message open (§5.4), within max_message: every
// rule of check_header() holds for such a frame, so next() takes it to
// whole_frame() without them, its header filled in from those bytes and
// the key (fin and the RSV bits keep frame_header's defaults). Anything
// else (a 64-bit length too: there the parse is a small share of the
// frame's cost) takes the general path, and `in` is left as it was.
inline bool decoder::take_small_header(std::span<std::byte>& in, frame_header& h) const {
    constexpr auto fin_text = 0x80 | static_cast<std::uint8_t>(opcode::text);
    constexpr auto fin_binary = 0x80 | static_cast<std::uint8_t>(opcode::binary);
    if (in.size() < 2 || header_have_ != 0 || message_op_ != 0) return false;
    const auto b0 = std::to_integer<std::uint8_t>(in[0]);
    const auto b1 = std::to_integer<std::uint8_t>(in[1]);
    const bool masked = (b1 & 0x80) != 0;
    std::size_t length = b1 & 0x7f;
    std::size_t head = masked ? 6 : 2;
    if (length == 127 || (length == 126 && in.size() < 4)) return false;  // §5.2: 64-bit length
    if (length == 126) {  // §5.2: a 16-bit length follows
        length = std::to_integer<std::size_t>(in[2]) << 8 | std::to_integer<std::size_t>(in[3]);
        head += 2;
    }
    if ((b0 != fin_text && b0 != fin_binary) || masked != (self_ == role::server) ||
        in.size() < head + length || length > max_message_)
        return false;
    h.opcode_bits = b0 & 0x0f;
    h.masked = masked;
    h.length = length;
    if (masked) std::memcpy(&h.key, in.data() + head - sizeof h.key, sizeof h.key);
    in = in.subspan(head);
    return true;
}

// The zero-copy path: unmask in place, check, point the event at the bytes.
inline event decoder::whole_frame(const frame_header& h, std::span<std::byte>& in) {
    std::span<std::byte> payload = in.first(static_cast<std::size_t>(h.length));
    in = in.subspan(payload.size());
    if (h.masked) apply_mask(payload, h.key, 0);
    switch (static_cast<opcode>(h.opcode_bits)) {
    case opcode::text:
        // RFC 6455 §8.1: text must be valid UTF-8 (compressed text is checked
        // by the inflater, after decompression).
        if (!h.rsv1 && !is_valid_utf8(payload)) return fail(error::invalid_utf8);
        return {.kind = event_kind::text, .payload = payload, .rsv1 = h.rsv1};
    case opcode::binary: return {.kind = event_kind::binary, .payload = payload, .rsv1 = h.rsv1};
    default: return control_event(h.opcode_bits, payload);
    }
}

}  // namespace wsring::proto
