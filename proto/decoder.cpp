// The receive side: a resumable parse, header → payload, over whatever bytes
// the caller has (RFC 6455 §5.2-§5.5), with message reassembly (§5.4), UTF-8
// checks (§8.1) and close bodies (§5.5.1). Every rule is one short block in
// check_header(); every failure goes through fail(), which fixes the state.
// A complete unfragmented frame never touches message_ (whole_frame()).
#include "proto/decoder.hpp"

#include <algorithm>
#include <cstring>

#include "proto/close_payload.hpp"

namespace wsring::proto {

namespace {

constexpr std::uint8_t op_continuation = 0x0;
constexpr std::uint8_t op_text = 0x1;
constexpr std::uint8_t op_binary = 0x2;
constexpr std::uint8_t op_close = 0x8;
constexpr std::uint8_t op_ping = 0x9;

constexpr bool is_control_bits(std::uint8_t op) { return (op & 0x8) != 0; }

}  // namespace

decoder::decoder(role self, decoder_limits limits)
    : max_message_(limits.max_message), self_(self), allow_rsv1_(limits.allow_rsv1) {}

bool decoder::mid_message() const {
    return phase_ == phase::payload || header_have_ != 0 || message_op_ != 0;
}

event decoder::next_general(std::span<std::byte>& in) {
    release_delivered();
    for (;;) {
        switch (phase_) {
        case phase::header: {
            if (in.empty()) return {};
            frame_header h;
            // next() tried take_small_header() only when nothing was left
            // to release: after a buffered message, the next frame may be
            // a common one. Either way one whole_frame() call below.
            if (!take_small_header(in, h)) {
                if (!take_header(in, h)) return {};
                if (error e = check_header(h); e != error::none) return fail(e);
            }
            // Not part of a fragmented message and wholly here: no copy.
            bool fragment = !is_control_bits(h.opcode_bits) &&
                            (!h.fin || h.opcode_bits == op_continuation);
            if (!fragment && h.length <= in.size()) return whole_frame(h, in);
            start_frame(h);
            phase_ = phase::payload;
            [[fallthrough]];
        }
        case phase::payload: {
            event ev = take_payload(in);
            if (ev.kind != event_kind::need_more || phase_ == phase::payload) return ev;
            break;  // a non-final fragment ended: parse the next header
        }
        case phase::failed:
        case phase::closed: return terminal_event();
        }
    }
}

// An event may point into message_ until the next call; now trim it: drop an
// interleaved control frame's bytes from behind the open message's data, or
// free the buffer entirely once no message is open (an idle decoder holds no heap).
inline void decoder::release_delivered() {
    if (!release_) return;
    release_ = false;
    if (phase_ == phase::header && message_op_ != 0) {
        message_.shrink_to(message_.size() - frame_len_);
    } else {
        message_.release();
    }
}

message_buffer::storage decoder::take_delivered(std::span<const std::byte> payload) {
    if (!release_ || message_op_ != 0 || payload.empty()) return {};
    const std::byte* begin = message_.data();
    // Compared as addresses: `payload` may point anywhere (another buffer).
    const auto at = reinterpret_cast<std::uintptr_t>(payload.data());
    const auto from = reinterpret_cast<std::uintptr_t>(begin);
    if (at < from || at + payload.size() > from + message_.size()) return {};
    release_ = false;  // nothing left to trim: the buffer is gone
    return message_.take();
}

// Gathers the 2-14 header bytes, across calls if a read cut them.
inline bool decoder::take_header(std::span<std::byte>& in, frame_header& h) {
    if (header_have_ == 0) {
        header_result r = decode_header(in, h);
        if (r.size != 0) {
            in = in.subspan(r.size);
            return true;
        }
        std::memcpy(header_buf_, in.data(), in.size());  // < max_header_size bytes
        header_have_ = static_cast<std::uint8_t>(in.size());
        in = {};
        return false;
    }
    std::size_t add = std::min(in.size(), max_header_size - header_have_);
    std::memcpy(header_buf_ + header_have_, in.data(), add);
    header_result r = decode_header(std::span(header_buf_, header_have_ + add), h);
    if (r.size == 0) {
        header_have_ = static_cast<std::uint8_t>(header_have_ + add);
        in = in.subspan(add);
        return false;
    }
    in = in.subspan(r.size - header_have_);
    header_have_ = 0;
    return true;
}

inline error decoder::check_header(const frame_header& h) const {
    const std::uint8_t op = h.opcode_bits;
    const bool control = is_control_bits(op);
    // RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated".
    if (h.rsv2 || h.rsv3) return error::reserved_bits;
    // RFC 7692 §6: permessage-deflate owns RSV1 on a message's first frame
    // only; on a continuation or control frame it is an error.
    if (h.rsv1 && !(allow_rsv1_ && (op == op_text || op == op_binary)))
        return error::reserved_bits;
    // RFC 6455 §5.2: "If an unknown opcode is received, ... Fail".
    if (is_reserved(op)) return error::reserved_opcode;
    // RFC 6455 §5.5: control frames MUST NOT be fragmented.
    if (control && !h.fin) return error::control_fragmented;
    // RFC 6455 §5.5: control payloads are 125 bytes or less.
    if (control && h.length > max_control_payload) return error::control_too_long;
    // RFC 6455 §5.1: clients mask every frame, servers none.
    if (self_ == role::server && !h.masked) return error::unmasked_client_frame;
    if (self_ == role::client && h.masked) return error::masked_server_frame;
    // RFC 6455 §5.2: "the most significant bit MUST be 0" in a 64-bit length.
    if (h.length >> 63) return error::length_msb_set;
    if (control) return error::none;
    // RFC 6455 §5.4: fragments are a first frame, continuations, then FIN.
    if (op == op_continuation && message_op_ == 0) return error::unexpected_continuation;
    if (op != op_continuation && message_op_ != 0) return error::expected_continuation;
    // The size cap, from the declared length before any byte is buffered.
    std::size_t have = op == op_continuation ? message_.size() : 0;
    if (h.length > max_message_ - have) return error::message_too_big;
    return error::none;
}

void decoder::start_frame(const frame_header& h) {
    op_ = h.opcode_bits;
    fin_ = h.fin;
    masked_ = h.masked;
    key_ = h.key;
    frame_len_ = frame_left_ = h.length;
    mask_phase_ = 0;
    if (op_ == op_text || op_ == op_binary) {  // a message's first frame
        message_op_ = op_;
        message_rsv1_ = h.rsv1;
        utf8_.reset();
    }
    if (!is_control_bits(op_)) reserve_for_frame(h.length);
}

// Room for the frame's payload before its bytes arrive, so a large message
// cut across many reads is copied into message_ once, not again at every
// growth of the vector (at 64 KiB echo those regrowths were a third of the
// server's memmove). Growth stays geometric, so a message of many small
// fragments costs amortised O(1) per byte; and only reserve_ahead_limit is
// taken on the word of a header whose bytes have not arrived (the length
// already passed max_message in check_header).
void decoder::reserve_for_frame(std::uint64_t length) {
    std::size_t want = message_.size() +
                       static_cast<std::size_t>(std::min<std::uint64_t>(length, reserve_ahead_limit));
    if (want > message_.capacity()) message_.reserve(std::max(want, 2 * message_.capacity()));
}

// The copying path: append what is here to message_ (a control frame inside
// a fragmented message goes after the data), unmask it there with the phase
// carried across calls, and check text as it arrives. Bytes the caller read
// into payload_room() are there already: message_ just grows over them.
event decoder::take_payload(std::span<std::byte>& in) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(frame_left_, in.size()));
    std::size_t at = message_.size();
    if (in.data() == message_.data() + at && n <= message_.capacity() - at)
        message_.grow_by(n);  // read into payload_room(): the bytes are in place
    else
        message_.append(in.data(), n);
    in = in.subspan(n);
    frame_left_ -= n;
    std::span<std::byte> chunk = std::span(message_).subspan(at);
    if (masked_) mask_phase_ = static_cast<std::uint8_t>(apply_mask(chunk, key_, mask_phase_));
    // RFC 6455 §8.1, fail fast: reject a text message at its first bad byte,
    // not when (or if) the rest of it arrives.
    bool text = !is_control_bits(op_) && message_op_ == op_text && !message_rsv1_;
    if (text && !utf8_.feed(chunk)) return fail(error::invalid_utf8);
    if (frame_left_ != 0) return {};
    return finish_frame();
}

event decoder::finish_frame() {
    phase_ = phase::header;
    if (is_control_bits(op_)) {
        release_ = true;
        return control_event(op_, std::span(message_).last(static_cast<std::size_t>(frame_len_)));
    }
    if (!fin_) return {};  // RFC 6455 §5.4: more fragments follow
    bool text = message_op_ == op_text;
    if (text && !message_rsv1_ && !utf8_.complete()) return fail(error::invalid_utf8);
    message_op_ = 0;
    release_ = true;
    return {.kind = text ? event_kind::text : event_kind::binary,
            .payload = std::span(message_),
            .rsv1 = message_rsv1_};
}

event decoder::control_event(std::uint8_t op, std::span<std::byte> payload) {
    if (op == op_ping) return {.kind = event_kind::ping, .payload = payload};
    if (op != op_close) return {.kind = event_kind::pong, .payload = payload};
    // RFC 6455 §5.5.1, §7.4: the body is empty or a valid code + UTF-8 reason.
    close_payload body = parse_close_payload(payload);
    if (body.err != error::none) return fail(body.err);
    phase_ = phase::closed;
    close_code_ = static_cast<std::uint16_t>(body.code);
    return {.kind = event_kind::close, .payload = body.reason, .code = body.code};
}

event decoder::terminal_event() const {
    if (phase_ == phase::closed)
        return {.kind = event_kind::close, .code = static_cast<close_code>(close_code_)};
    return {.kind = event_kind::protocol_error, .code = to_close_code(err_), .err = err_};
}

// RFC 6455 §7.1.7 *Fail the WebSocket Connection*: no further data is
// processed, so the buffer goes now.
event decoder::fail(error e) {
    phase_ = phase::failed;
    err_ = e;
    release_ = false;
    message_.release();
    return terminal_event();
}

}  // namespace wsring::proto
