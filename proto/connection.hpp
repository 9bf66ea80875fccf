// One WebSocket connection's protocol state, for either role, sans-IO (the
// shape of python-hyper's wsproto): bytes in → events out, and every frame we
// send written through it, so the rules that tie the two directions together
// live in this one place — RFC 6455 §5.5.1 (answer a close, nothing after
// ours), §5.5.2/§5.5.3 (answer a ping with its payload), §5.3 (a client masks
// every frame, with a fresh key), §7.1.5 (the close code the application is
// told: the peer's, the one we failed with, or 1006), §7.1.7 (*Fail the
// WebSocket Connection*). Framing, fragmentation and UTF-8 stay in the
// decoder (decoder.hpp); sockets, timers and the TCP teardown are the
// caller's (net/session.cpp for the server, net/client_session.cpp for the
// client, apps/ws_bench/worker_*.cpp for the load generator).
// Read next: connection.cpp, then net/session.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "proto/decoder.hpp"
#include "proto/encoder.hpp"
#include "proto/opcode.hpp"

namespace wsring::proto {

// Where the closing handshake stands (RFC 6455 §7). The only transitions:
//   open ──we write a close──▶ close_sent ──their close──▶ closed
//   open ──their close──▶ close_received ──we answer──▶ closed
//   any but closed ──a protocol error in their bytes──▶ failed
//       (failed: the answer() to that error is our close; read nothing more)
enum class ws_state : std::uint8_t {
    open,            // messages flow both ways
    close_sent,      // §7.1.2: our close went out; theirs is awaited, data may still arrive
    close_received,  // §5.5.1: theirs arrived; ours is owed (answer())
    closed,          // §7.1.4: both close frames exchanged: *The WebSocket Closing Handshake is Completed*
    failed,          // §7.1.7: they broke a rule; we close with its code and read nothing more
};

// The largest frame answer() writes: a close or pong with a full control payload, masked.
inline constexpr std::size_t max_answer_size = max_header_size + max_control_payload;

// A fresh masking key from a cryptographically strong source (§5.3: "MUST be
// unpredictable"), drawn from OpenSSL's CSPRNG in batches per thread.
mask_key fresh_mask_key();

class connection {
public:
    // `self` is this side: a server reads masked frames and writes unmasked
    // ones; a client the reverse (§5.1). `reads_own_echo`: the peer is a raw
    // echo of our own bytes (ws-bench --raw), so frames are read masked as we
    // write them; the state machine is unchanged (our close coming back
    // completes the handshake).
    explicit connection(role self, decoder_limits limits = {}, bool reads_own_echo = false);

    // ---- bytes in → events out --------------------------------------------
    // The decoder's next event (decoder::next: unmasks in place, advances
    // `in`), with the state moved by it: a close frame → close_received or
    // closed, a protocol error → failed. After closed or failed it replays
    // the terminal event and consumes nothing.
    // Inline, like write_message: both run once per message on the hot path.
    event next(std::span<std::byte>& in) {
        event ev = rx_.next(in);
        if (ev.kind == event_kind::close) move(step::their_close, ev.code);
        else if (ev.kind == event_kind::protocol_error) move(step::their_error, ev.code);
        return ev;
    }

    // Where the rest of a data frame already begun can be read to
    // (decoder::payload_room): bytes read there skip the copy into the message.
    std::span<std::byte> payload_room() { return rx_.payload_room(); }

    // The storage of the message next() just delivered, if `payload` lies
    // in the decoder's own buffer (decoder::take_delivered).
    message_buffer::storage take_delivered(std::span<const std::byte> payload) {
        return rx_.take_delivered(payload);
    }

    // The frame the protocol requires in reply to `ev` (the event next() just
    // returned), written into `out` (≥ max_answer_size bytes); returns its
    // size, 0 when nothing is owed:
    //   ping           → pong with the same payload (§5.5.3), unless our close went out
    //   close          → close echoing their code (§5.5.1), unless ours went out first
    //   protocol_error → close with the error's code (§7.1.7), unless ours went out
    // `key` fixes a client's masking key (tests); otherwise one is drawn.
    std::size_t answer(const event& ev, std::span<std::byte> out,
                       std::optional<mask_key> key = std::nullopt);

    // ---- our frames ----------------------------------------------------------
    // Bytes write_message() needs for a payload of `n` bytes (masked or not by role).
    std::size_t frame_size(std::size_t n) const { return proto::frame_size(n, self_ == role::client); }
    // One whole message (or, with fin = false / op = continuation, a
    // fragment: §5.4) into `out` (≥ frame_size(payload.size())). A client's
    // key is opts.mask if set (a caller with its own key source), else a
    // fresh one; a server ignores opts.mask. Returns its
    // size, or 0 and writes nothing once our close went out (§5.5.1: "MUST
    // NOT send any more data frames after sending a Close frame").
    // opts by reference, and a server's passed on as it is: a copy made to
    // set the mask was written field by field and read back as one word, a
    // stalled store forward that took half of session::queue_frame's time
    // in the 16 B echo's profile.
    std::size_t write_message(std::span<std::byte> out, opcode op, std::span<const std::byte> payload,
                              const frame_options& opts = {}) {
        // §5.5.1: "The application MUST NOT send any more data frames after
        // sending a Close frame."
        if (!can_send()) return 0;
        if (self_ == role::server && !opts.mask) return encode_frame(out, op, payload, opts);
        frame_options ours = opts;
        ours.mask = mask_for(opts.mask);
        return encode_frame(out, op, payload, ours);
    }
    // The header write_message() would put before a payload of `length`
    // bytes, alone (≤ max_header_size into `out`), for a caller that sends
    // header and payload as two pieces: a server only, whose frames are
    // unmasked (§5.1) so the payload goes out as it is. 0 after our close.
    std::size_t write_header(std::span<std::byte> out, opcode op, std::size_t length,
                             const frame_options& opts = {}) {
        if (!can_send() || self_ != role::server) return 0;
        return encode_unmasked_header(out, op, length, opts);
    }
    // A ping (keep-alive, §5.5.2) into `out` (≥ max_answer_size); 0 after our close.
    std::size_t write_ping(std::span<std::byte> out, std::span<const std::byte> payload = {},
                           std::optional<mask_key> key = std::nullopt);
    // Our close frame (§5.5.1, §7.1.2 *Start the WebSocket Closing
    // Handshake*) into `out` (≥ max_answer_size): code and a reason cut to
    // fit on a UTF-8 boundary (no_status: an empty body). 0 if ours already went out.
    std::size_t write_close(std::span<std::byte> out, close_code code, std::string_view reason = {},
                            std::optional<mask_key> key = std::nullopt);

    // A rule broken above the decoder, found by the caller in a message the
    // decoder passed (RFC 7692 §6.2: a compressed message that does not
    // inflate, or inflates past the size limit): §7.1.7 as if the decoder had
    // found it — failed, code() becomes `code` (unless a close already set
    // it), read nothing more. The caller then writes the close (write_close).
    void fail(close_code code) { move(step::their_error, code); }

    // ---- where it stands -----------------------------------------------------
    ws_state state() const { return state_; }
    role self() const { return self_; }
    // Data frames may still be written (our close has not gone out).
    bool can_send() const { return state_ == ws_state::open || state_ == ws_state::close_received; }
    bool close_sent() const { return !can_send(); }
    // Nothing more will be read: both closes exchanged, or we failed it. The
    // caller ends TCP — a server at once, a client after waiting a little
    // for the server to do it (§7.1.1).
    bool finished() const { return state_ == ws_state::closed || state_ == ws_state::failed; }
    // §7.1.5 *The WebSocket Connection Close Code*: the code of the peer's
    // close frame (no_status if it had none), the code we failed with, or
    // abnormal (1006) when no close frame was received.
    close_code code() const { return code_; }
    // (The peer's close reason, §7.1.6, is the close event's payload.)

    // The decoder's knobs, passed through.
    void allow_rsv1(bool on) { rx_.allow_rsv1(on); }
    bool mid_message() const { return rx_.mid_message(); }
    std::size_t buffered_bytes() const { return rx_.buffered_bytes(); }

private:
    // The inputs that move the state (the table in connection.cpp).
    enum class step : std::uint8_t { our_close, their_close, their_error };
    void move(step s, close_code code);
    // §5.1: a client masks every frame, a server none; `key` is a caller's own.
    std::optional<mask_key> mask_for(std::optional<mask_key> key) const {
        if (self_ == role::server) return std::nullopt;
        return key ? key : fresh_mask_key();
    }

    // [[no_unique_address]]: the fields below live in the decoder's tail
    // padding (Itanium C++ ABI), so a connection costs no more memory than
    // a decoder — net::connection's per-connection budget (static_assert in
    // connection.cpp).
    [[no_unique_address]] decoder rx_;
    role self_;
    ws_state state_ = ws_state::open;
    bool sent_close_ = false;                  // our close went out (failed says nothing of it)
    close_code code_ = close_code::abnormal;   // §7.1.5, see code()
};

}  // namespace wsring::proto
