// The mode seam: what happens to a complete message once the session has
// checked and reassembled it. Echo sends it back (net/echo_handler.hpp);
// broadcast and pub/sub publish it to the broadcast ring (modes/). A handler
// may also pick a subprotocol, refuse an upgrade (a bad query: 400) and serve
// plain HTTP requests on the WebSocket port (the publish API).
// A handler is per reactor, so it may keep per-reactor tables without locks.
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "proto/opcode.hpp"

namespace wsring::proto {
struct http_request;
}

namespace wsring::net {

struct connection;
class session;

// An upgrade the session accepted (RFC 6455 §4.2.1 rules all met).
struct upgrade_info {
    const proto::http_request& http;  // path ("/chat/room42"), query, headers
    std::string_view protocol;        // the subprotocol chosen (§4.2.2), or empty
};

// A handler's answer to a plain HTTP request (net/session.cpp formats it,
// with Content-Length and keep-alive or close: proto::http_answer_bytes).
struct http_answer {
    int status = 0;  // 0: not answered yet
    std::string body;
    std::string_view content_type = "text/plain; charset=utf-8";
    std::string extra_headers;  // whole header lines, each ending in CRLF
    bool close = false;         // end the connection after this answer, even if keep-alive
    // on_http_body only: the answer comes later, through
    // session::answer_deferred (e.g. once a broker confirmed a publish).
    // Until then nothing more is read from the connection; if it ends
    // first, the handler hears on_http_abandoned instead.
    bool deferred = false;
};

class message_handler {
public:
    virtual ~message_handler() = default;
    // Subprotocols this handler speaks, in preference order: the session
    // picks the first one a client offers (RFC 6455 §4.2.2, /subprotocol/).
    // Asked once, when the session is made.
    virtual std::span<const std::string_view> subprotocols() const { return {}; }
    // A handshake was accepted: called once, just before the 101 is queued,
    // while the request still exists. Pub/sub subscribes here. Returns
    // empty to go on; otherwise a complete HTTP response to send instead of
    // the 101 (e.g. 400 for a malformed query), and nothing else follows
    // for this connection. When it goes on, on_close follows, once.
    virtual std::string on_upgrade(session&, connection&, const upgrade_info&) { return {}; }
    // A WebSocket connection opened (after the 101).
    virtual void on_open(session&, connection&) {}
    // A text or binary message. `payload` is valid only during the call: it
    // may point into the reactor's receive buffer, reused right after — and
    // not after aborting `c` (session::abort) in the call: a message echoed
    // to `c` may then be held by c's output queue, which the abort empties.
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

    // Plain HTTP (no upgrade), asked when a request's header block is
    // complete. False: not the handler's (the session answers: /healthz,
    // 405, 426, and closes). True with `answer.status` set: sent at once, the
    // body (if any) unread, the connection closed. True without: the session
    // reads the body (Content-Length only, up to max_message; else 400, 413
    // or 501 and a close, with no on_http_body) and calls on_http_body with
    // a fresh answer, which it must set (left unset: 500 and a close). The
    // connection then stays open for the next request when the client wants
    // keep-alive (RFC 9112 §9.3) and the answer does not say `close`.
    // Between the two calls other connections of this reactor may be served:
    // what on_http_head learns for on_http_body is best taken from the
    // request again (it is the same object in both calls).
    virtual bool on_http_head(session&, connection&, const proto::http_request&, http_answer&) {
        return false;
    }
    // `body` is valid only during the call (it may point into the reactor's
    // receive buffer), like on_message's payload.
    virtual void on_http_body(session&, connection&, const proto::http_request&,
                              std::span<const std::byte> /*body*/, http_answer&) {}
    // A connection whose answer was deferred ended before it was given
    // (timeout, reset, shutdown): forget it; answer_deferred must not follow.
    virtual void on_http_abandoned(session&, connection&) {}
};

}  // namespace wsring::net
