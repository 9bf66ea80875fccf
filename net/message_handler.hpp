// The mode seam: what happens to a complete message once the session has
// checked and reassembled it. Echo sends it back (net/echo_handler.hpp);
// broadcast and pub/sub (issue 5) will publish it to the broadcast ring.
// A handler is per reactor, so it may keep per-reactor tables without locks.
#pragma once
#include <cstddef>
#include <span>
#include <string_view>

#include "proto/opcode.hpp"

namespace wsring::net {

struct connection;
class session;

class message_handler {
public:
    virtual ~message_handler() = default;
    // A handshake was accepted: called once, just before the 101 is queued,
    // while the request (and so `path`, e.g. "/chat/room42?x=1") still
    // exists. Pub/sub subscribes here. on_close follows it, once.
    virtual void on_upgrade(session&, connection&, std::string_view /*path*/) {}
    // A WebSocket connection opened (after the 101).
    virtual void on_open(session&, connection&) {}
    // A text or binary message. `payload` is valid only during the call: it
    // may point into the reactor's receive buffer, reused right after.
    virtual void on_message(session& s, connection& c, proto::opcode op,
                            std::span<const std::byte> payload) = 0;
    // The connection is gone, for a connection that got on_upgrade: called
    // exactly once, before the slot is reused. `code` says why, as RFC 6455
    // §7.1.5 defines *The WebSocket Connection Close Code*: the code of the
    // peer's close frame (1005 when it carried none), whoever closed first;
    // after the peer broke a rule, the code we failed it with (1002, 1007,
    // 1009, ...); and 1006 (close_code::abnormal) when no close frame came
    // back: EOF, a reset, a send error, or a timeout — our own close
    // unanswered included. No cost per message: computed once, at the end.
    virtual void on_close(session&, connection&, proto::close_code /*code*/) {}
};

}  // namespace wsring::net
