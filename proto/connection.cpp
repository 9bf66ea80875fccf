// proto::connection: the rules that tie what we read to what we write
// (RFC 6455 §5.5.1, §5.5.2, §5.5.3, §7.1.2-§7.1.7), in one state table and
// the few functions that consult it; and fresh_mask_key() (§5.3). Framing,
// fragmentation and UTF-8 are the decoder's (decoder.cpp), frame bytes the
// encoder's (encoder.cpp); no socket, timer or clock is touched here.
// Read next: net/session.cpp, the server's use of it.
#include "proto/connection.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proto/error.hpp"

namespace wsring::proto {

static_assert(sizeof(connection) == sizeof(decoder),
              "the connection's fields must fit in the decoder's tail padding");

// ---- masking keys (RFC 6455 §5.3) ---------------------------------------------

// "The masking key ... MUST be unpredictable": OpenSSL's CSPRNG, but one
// RAND_bytes call per 256 keys, since a call costs far more than a frame.
mask_key fresh_mask_key() {
    constexpr std::size_t batch = 256;
    thread_local std::array<mask_key, batch> keys;
    thread_local std::size_t next = batch;
    if (next == batch) {
        if (RAND_bytes(reinterpret_cast<unsigned char*>(keys.data()), sizeof keys) != 1) {
            // No safe key can be made; a predictable one would break §10.3.
            std::fputs("wsring: RAND_bytes failed: no masking key\n", stderr);
            std::abort();
        }
        next = 0;
    }
    return keys[next++];
}

// ---- the state machine ----------------------------------------------------------

connection::connection(role self, decoder_limits limits, bool reads_own_echo)
    : rx_(reads_own_echo ? (self == role::client ? role::server : role::client) : self, limits),
      self_(self) {}

// Every transition (RFC 6455 §7). Rows: where we are; columns: what happened.
//   our_close:   we wrote a close frame (§7.1.2)
//   their_close: the decoder delivered the peer's close frame (§5.5.1)
//   their_error: the decoder found a broken rule (§7.1.7)
// After their close the decoder reads nothing more, so their_error cannot
// follow it; failed and closed are terminal.
void connection::move(step s, close_code code) {
    using enum ws_state;
    static constexpr ws_state table[5][3] = {
        //                  our_close   their_close     their_error
        /* open */          {close_sent, close_received, failed},
        /* close_sent */    {close_sent, closed,         failed},
        /* close_received */{closed,     close_received, close_received},
        /* closed */        {closed,     closed,         closed},
        /* failed */        {failed,     failed,         failed},
    };
    ws_state to = table[static_cast<int>(state_)][static_cast<int>(s)];
    // §7.1.5: the code is the first close frame's (or the error's) and
    // never changes after: a replayed event finds the state already moved.
    if (s != step::our_close && to != state_) code_ = code;
    if (s == step::our_close) sent_close_ = true;
    state_ = to;
}

std::size_t connection::answer(const event& ev, std::span<std::byte> out, std::optional<mask_key> key) {
    switch (ev.kind) {
    case event_kind::ping:
        // §5.5.3: "A Pong frame sent in response to a Ping frame must have
        // identical 'Application data'" — unless our close went out (§5.5.1).
        if (!can_send()) return 0;
        return encode_frame(out, opcode::pong, ev.payload, {.mask = mask_for(key)});
    case event_kind::close:
        // §5.5.1: "If an endpoint receives a Close frame and did not
        // previously send a Close frame, the endpoint MUST send a Close frame
        // in response ... typically echoing the status code it received." An
        // empty close (no_status) is answered with an empty close.
        return write_close(out, ev.code, {}, key);
    case event_kind::protocol_error:
        // §7.1.7 *Fail the WebSocket Connection*: a close with the rule's code.
        return write_close(out, ev.code, describe(ev.err), key);
    default: return 0;
    }
}

// ---- our frames -------------------------------------------------------------------

std::size_t connection::write_ping(std::span<std::byte> out, std::span<const std::byte> payload,
                                   std::optional<mask_key> key) {
    if (!can_send()) return 0;
    payload = payload.first(std::min(payload.size(), max_control_payload));  // §5.5: ≤ 125 bytes
    return encode_frame(out, opcode::ping, payload, {.mask = mask_for(key)});
}

std::size_t connection::write_close(std::span<std::byte> out, close_code code, std::string_view reason,
                                    std::optional<mask_key> key) {
    if (sent_close_) return 0;  // §5.5.1: one close frame per side
    std::size_t n = encode_close(out, code, reason, mask_for(key));
    move(step::our_close, code);
    return n;
}

}  // namespace wsring::proto
