// Every transition of a connection's lifecycle, in one file:
//
//   ┌─answer, keep-alive─┐
//   ▼                    │
//   handshake ──101──▶ open ──our close──▶ closing
//       │                │                     │
//       │ any other      │ their close,        │ their close
//       │ answer         │ protocol error      │
//       ▼                ▼                     ▼
//   draining ◀───────────┴─────────────────────┘
//       │ queue sent, clean close ──────────────────────────▶ closed
//       │ queue sent, after an error ── FIN ──▶ lingering ──EOF──▶ closed
//   From any state: reset, EPIPE, EOF (unless draining) or its timer ──▶ closed.
//
// `draining` sends what is queued (a close frame, an HTTP error) and then
// ends TCP: at once after a clean close handshake (RFC 6455 §7.1.1: the
// server closes first), or with FIN and a bounded linger after an error, so
// unread input does not turn our close into a reset that destroys the very
// frame explaining it. Every wait has a timer; every path ends in finish().
#include "net/session.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "net/http_exchange.hpp"
#include "net/refusal_log.hpp"
#include "net/static_site.hpp"
#include "proto/error.hpp"
#include "proto/http_body.hpp"
#include "proto/utf8.hpp"

namespace wsring::net {

using proto::close_code;
using proto::opcode;

session::session(const session_options& opts, milliseconds tick, transport& t, message_handler& h,
                 session_shared& shared)
    : opts_(opts), tick_(tick), t_(t), pool_(t.pool()), handler_(h), shared_(shared), deflate_(opts.deflate) {
    handshake_ticks_ = ticks(opts_.handshake_timeout);
    idle_ticks_ = opts_.idle_timeout.count() > 0 ? ticks(opts_.idle_timeout) : 0;
    ping_ticks_ = opts_.ping_interval.count() > 0 ? ticks(opts_.ping_interval) : 0;
    close_ticks_ = ticks(opts_.close_timeout);
    for (std::string_view p : h.subprotocols()) policy_.subprotocols.emplace_back(p);
}

// A duration in wheel ticks, rounded up, plus one: the current tick has
// partly elapsed already, and a deadline must never fire early.
core::tick_t session::ticks(milliseconds d) const {
    auto n = std::max<std::int64_t>(d.count(), 0);
    return static_cast<core::tick_t>((n + tick_.count() - 1) / tick_.count()) + 1;
}

// ---- backend → session ---------------------------------------------------------

void session::on_accept(connection& c) {
    ++stats_.accepted;
    c.state = conn_state::handshake;
    c.last_rx = now32();
    c.deflate = 0;
    c.mode = 0;
    // Absolute deadline: trickling bytes does not extend it (slowloris).
    t_.timers().schedule_in(c, handshake_ticks_);
}

void session::on_data(connection& c, std::span<std::byte> in) {
    stats_.bytes_received += in.size();
    c.last_rx = now32();  // any byte is a sign of life, a pong included
    if (c.flags & sf_pinged) {
        // The keep-alive round trip is done (once per ping, not per
        // message): the next deadline is a ping interval from now again.
        c.flags &= ~sf_pinged;
        if (c.state == conn_state::open) arm_idle(c);
    }
    switch (c.state) {
    case conn_state::handshake: on_request(c, in); break;
    case conn_state::open:
    case conn_state::closing: on_frames(c, in); break;
    default: break;  // draining, lingering: the input is read and dropped
    }
    // Backpressure: a peer that sends faster than it reads stops being read
    // (TCP then pushes back on it) until its replies drain below low water.
    if (c.out.bytes() > opts_.high_water) c.flags |= sf_read_paused;
}

void session::on_flushed(connection& c) {
    if ((c.flags & sf_read_paused) && !(c.flags & sf_deferred) && c.out.bytes() <= opts_.low_water) {
        c.flags &= ~sf_read_paused;
        t_.read_soon(c);  // edge-triggered: input may already be waiting
    }
    if (c.state != conn_state::draining || !c.out.empty()) return;
    if ((c.flags & sf_linger) && !(c.flags & sf_peer_eof)) {
        // FIN now, then read and drop until the peer's EOF (or the timer,
        // still armed from entering draining).
        t_.shutdown_write(c);
        c.state = conn_state::lingering;
        if (c.flags & sf_read_paused) {
            c.flags &= ~sf_read_paused;
            t_.read_soon(c);
        }
        return;
    }
    finish(c);
}

void session::on_peer_closed(connection& c, int err) {
    if (err == 0 && c.state == conn_state::draining) {
        // A half-close (e.g. `printf 'GET /healthz ...' | nc`): the answer is
        // still wanted. Send it, then close.
        c.flags |= sf_peer_eof;
        return;
    }
    if (err == 0 && c.state == conn_state::handshake && !c.out.empty()) {
        // The same for keep-alive answers not sent yet (a client that writes
        // its requests and shuts its side, as `printf 'POST ...' | nc` does);
        // a half-read next request goes unanswered.
        c.flags |= sf_peer_eof;
        return enter_draining(c, false);
    }
    // Anything else: EOF without a close frame (1006 to the application), a
    // reset, EPIPE, or the EOF a lingering close waits for.
    finish(c);
}

void session::on_timer(connection& c) {
    switch (c.state) {
    case conn_state::open: on_idle_timer(c); return;
    case conn_state::handshake:  // no complete request in time (slowloris)
    case conn_state::closing:    // §7.1.1: no close frame back in time
    case conn_state::draining:   // the peer does not read what we send
    case conn_state::lingering:  // the peer does not close its side
        finish(c);
        return;
    default: return;
    }
}

void session::begin_shutdown(connection& c) {
    // A keep-alive connection may still hold answers: they go out first.
    if (c.state == conn_state::handshake && !c.out.empty()) enter_draining(c, true);
    else if (c.state == conn_state::handshake) finish(c);
    else if (c.state == conn_state::open) close(c, close_code::going_away, "server shutting down");
    // closing, draining, lingering: already on their way out, on a timer.
}

void session::abort(connection& c) { finish(c); }

// ---- message handler → session -------------------------------------------------

// send_message's path for a connection that agreed to permessage-deflate:
// compressed unless too short to gain (deflate_contexts::compress_for).
void session::send_compressible(connection& c, opcode op, std::span<const std::byte> payload) {
    std::span<const std::byte> compressed;
    ++stats_.messages_sent;
    if (deflate_.compress_for(c, payload, compressed)) {
        ++stats_.deflated;
        return queue_frame(c, op, compressed, true);  // RFC 7692 §6.1: RSV1 marks it
    }
    queue_frame(c, op, payload);
}

void session::send_encoded(connection& c, core::shared_buffer frames, std::uint64_t messages) {
    std::size_t n = frames.size();
    send_encoded(c, std::move(frames), 0, n, messages);
}

void session::send_encoded(connection& c, core::shared_buffer frames, std::size_t begin,
                           std::size_t end, std::uint64_t messages) {
    if (c.state != conn_state::open || !c.ws.can_send() || begin == end) return;
    settle(c);
    stats_.messages_sent += messages;
    stats_.bytes_sent += end - begin;
    c.out.append_shared(pool_, std::move(frames), begin, end - begin);
    want_flush(c);
}

void session::close(connection& c, close_code code, std::string_view reason) {
    if (c.state == conn_state::handshake) return finish(c);
    if (c.state != conn_state::open) return;
    // RFC 6455 §7.1.2 *Start the WebSocket Closing Handshake*; then wait
    // for the peer's close, but not forever. (Mostly a timer's or a
    // shutdown's doing, for many connections at once: sent unprompted.)
    std::byte frame[proto::max_answer_size];
    if (std::size_t n = c.ws.write_close(frame, code, reason)) {
        stats_.bytes_sent += n;
        send_unprompted(c, std::span(frame, n));
    }
    c.state = conn_state::closing;
    t_.timers().schedule_in(c, close_ticks_);
}

// ---- the HTTP request: an upgrade (RFC 6455 §4.2) or plain HTTP ----------------

void session::on_request(connection& c, std::span<std::byte> in) {
    // An answer is still deferred: what comes meanwhile (reading is paused,
    // but a read already under way — io_uring's multishot recv — still
    // lands) waits behind it, bounded like a request and its body.
    if (c.flags & sf_deferred) return hold_while_deferred(c, in);
    // One read may end a request, hold whole ones behind it (pipelining,
    // RFC 9112 §9.3.2: answered in order) and begin the next; every byte is
    // taken here, since the backend hands each read over once.
    while (c.state == conn_state::handshake && !in.empty()) {
        // Allocated at a request's first byte, freed at its answer: between
        // keep-alive requests a connection holds nothing.
        if (!c.http) c.http = new http_exchange(opts_.max_header);
        std::size_t used = 0;
        if (c.http->reading_body()) {
            std::span<const std::byte> body;
            bool whole = c.http->take_body(in, used, body);
            in = in.subspan(used);
            if (!whole) return;
            on_http_body(c, body);
            if (c.flags & sf_deferred) return hold_while_deferred(c, in);
            continue;
        }
        switch (c.http->parser().feed(in, used)) {
        case proto::request_parser::status::need_more: return;
        case proto::request_parser::status::too_large:
            return reject(c, proto::http_response(431, "request header fields too large\n"));
        case proto::request_parser::status::malformed:
            return reject(c, proto::http_response(400, "malformed HTTP request\n"));
        case proto::request_parser::status::complete: break;
        }
        in = in.subspan(used);
        const proto::http_request& req = c.http->request();
        // A request naming websocket in Upgrade, or carrying Sec-WebSocket-*
        // fields, is a handshake attempt: accept_upgrade judges it (400, 426...).
        bool attempt = req.wants_websocket() || !req.header("Sec-WebSocket-Key").empty() ||
                       !req.header("Sec-WebSocket-Version").empty();
        if (attempt && opts_.websocket) return upgrade(c, req, in);  // §4.2.1: what follows is frames
        on_http_head(c, req, in.empty());
        if ((c.flags & sf_deferred) && c.state == conn_state::handshake) return hold_while_deferred(c, in);
    }
}

void session::hold_while_deferred(connection& c, std::span<const std::byte> in) {
    if (c.http->hold(in) > opts_.max_header + opts_.max_message) finish(c);  // on_http_abandoned
}

void session::upgrade(connection& c, const proto::http_request& req, std::span<std::byte> rest) {
    // RFC 7692 §5: the extension is agreed in the same exchange; an offer
    // we decline costs nothing but the missing answer.
    std::string extensions = deflate_.negotiate(c, req);
    proto::handshake_result r = proto::accept_upgrade(req, policy_, extensions);
    if (!r.accepted()) {
        ++stats_.bad_handshakes;
        deflate_.release(c);
        return reject(c, r.response);
    }
    // An address over its handshake rate is refused first (429: cheap, and
    // it spares the signature check below); then who may connect (Origin,
    // token, roles: issue 15) — all before anything is counted or subscribed.
    std::optional<ip_address> client;
    if (!within_rate(c, req, client)) return;
    if (!admit(c, req)) return;
    // Admission: one shared counter across reactors, touched once per
    // connection (not on the data path).
    if (shared_.open.fetch_add(1, std::memory_order_relaxed) >= opts_.max_connections) {
        shared_.open.fetch_sub(1, std::memory_order_relaxed);
        ++stats_.at_capacity;
        log_refusal(refusal_reason::at_capacity);
        deflate_.release(c);
        return reject(c, proto::http_response(503, "server at its connection limit\n",
                                              "Retry-After: 1\r\n"));
    }
    c.flags |= sf_counted;
    if (!within_per_address(c, client)) {
        c.flags &= ~sf_counted;
        shared_.open.fetch_sub(1, std::memory_order_relaxed);
        deflate_.release(c);
        return reject(c, proto::http_response(503, "too many connections from this address\n",
                                              "Retry-After: 1\r\n"));
    }
    if (deflate_contexts::agreed(c)) c.ws.allow_rsv1(true);  // RFC 7692 §6: RSV1 is ours now
    // Before `req` goes (the topic is its path, `since` is in its query).
    if (std::string refusal = handler_.on_upgrade(*this, c, {req, r.protocol}); !refusal.empty()) {
        c.flags &= ~sf_counted;
        shared_.open.fetch_sub(1, std::memory_order_relaxed);
        deflate_.release(c);
        return reject(c, refusal);
    }
    queue_bytes(c, r.response);
    delete c.http;  // `req` and `r.protocol` point into it: not used past here
    c.http = nullptr;
    c.state = conn_state::open;
    ++stats_.upgraded;
    handler_.on_open(*this, c);
    arm_idle(c);
    if (!rest.empty()) on_frames(c, rest);
}

void session::reject(connection& c, std::string_view response) {
    ++stats_.rejected;
    queue_bytes(c, response);
    enter_draining(c, true);
}

// ---- plain HTTP (RFC 9112) ---------------------------------------------------------

// A request that is not an upgrade: the handler's (the publish API) if it
// claims it, else a health check and precise refusals that close.
void session::on_http_head(connection& c, const proto::http_request& req, bool body_unseen) {
    http_answer a;
    if (!handler_.on_http_head(*this, c, req, a)) return answer_http(c, req);
    if (c.state != conn_state::handshake) return;  // the handler closed it
    if (a.status != 0)  // decided on the head alone (401, 404...): the body stays unread
        return reject(c, proto::http_answer_bytes(a.status, a.content_type, a.body, false,
                                                  a.extra_headers));
    proto::body_framing f = proto::request_body(req);
    switch (f.status) {
    case proto::body_status::unsupported:  // RFC 9112 §6.1: a coding we do not decode
        return reject(c, proto::http_response(501, "Transfer-Encoding is not supported: "
                                                   "send Content-Length\n"));
    case proto::body_status::bad_length:  // RFC 9112 §6.3 rule 5
        return reject(c, proto::http_response(400, "malformed Content-Length\n"));
    case proto::body_status::none:
    case proto::body_status::length: break;
    }
    // Refused on the length alone, before a byte of the body is read.
    if (f.length > opts_.max_message)
        return reject(c, proto::http_response(413, "request body over the size limit\n"));
    if (f.length == 0) return on_http_body(c, {});
    // RFC 9110 §10.1.1: a client that asked "Expect: 100-continue" waits for
    // this before sending the body (curl does, for a second); HTTP/1.0's
    // expectation "MUST" be ignored. Sent only when no body byte came yet.
    bool expects = proto::iequals(req.header("Expect"), "100-continue");
    if (expects && body_unseen && req.version_minor >= 1)
        queue_bytes(c, "HTTP/1.1 100 Continue\r\n\r\n");
    c.http->expect_body(f.length);
}

// The request is whole: the handler answers, and the connection either waits
// for the next request (keep-alive) or ends like any other HTTP answer.
void session::on_http_body(connection& c, std::span<const std::byte> body) {
    const proto::http_request& req = c.http->request();
    http_answer a;
    handler_.on_http_body(*this, c, req, body, a);
    if (c.state != conn_state::handshake) return;  // the handler closed it
    if (a.deferred) {  // reading waits for the answer (answer_deferred)
        c.flags |= sf_deferred | sf_read_paused;
        return;
    }
    send_http_answer(c, a);
}

void session::answer_deferred(connection& c, http_answer a) {
    if (!(c.flags & sf_deferred) || c.state != conn_state::handshake) return;
    c.flags &= ~sf_deferred;
    std::vector<std::byte> held = c.http->take_held();
    a.deferred = false;
    send_http_answer(c, a);
    if (c.state != conn_state::handshake) return;  // answered with a close
    if (c.out.bytes() <= opts_.high_water) c.flags &= ~sf_read_paused;
    if (!held.empty()) on_request(c, held);  // a pipelined request came with the last one
    if (!(c.flags & sf_read_paused)) t_.read_soon(c);  // more may be waiting in the socket
}

void session::send_http_answer(connection& c, http_answer& a) {
    const proto::http_request& req = c.http->request();
    if (a.status == 0) {  // a handler bug: say so, and close
        a.status = 500;
        a.body = "the handler gave no answer\n";
        a.close = true;
    }
    bool keep = proto::wants_keep_alive(req) && !a.close;
    ++stats_.rejected;  // "non-101": every plain HTTP answer counts there
    queue_bytes(c, proto::http_answer_bytes(a.status, a.content_type, a.body, keep,
                                            a.extra_headers));
    if (!keep) return enter_draining(c, true);  // the client may have sent more: linger
    // Keep-alive: nothing of this request stays, and the next one gets a new
    // absolute deadline (a silent client is closed by it, a trickling one
    // too). It never counts against max_connections: only WebSockets do.
    delete c.http;
    c.http = nullptr;
    t_.timers().schedule_in(c, handshake_ticks_);
}

// Not the handler's: a health check, and a precise refusal for everything
// else. Every answer closes the connection.
void session::answer_http(connection& c, const proto::http_request& req) {
    // --web: the site answers every plain request but the health check
    // (200, 404, or 405 naming HEAD too), from memory (net/static_site.hpp).
    const bool metrics = opts_.metrics && req.path == "/metrics";
    if (opts_.site && req.path != "/healthz" && !metrics) return reject(c, opts_.site->answer(req.method, req.path));
    if (req.method != "GET")
        return reject(c, proto::http_response(405, "only GET is served here\n", "Allow: GET\r\n"));
    if (req.path == "/healthz") return reject(c, proto::http_response(200, "ok\n"));
    if (metrics)  // rendered here, on this thread: counters read without a lock (net/metrics.hpp)
        return reject(c, proto::http_answer_bytes(200, metrics_content_type, opts_.metrics->render(), false));
    if (!opts_.websocket) return reject(c, proto::http_response(404, "not found: GET /metrics or /healthz\n"));
    // Any path upgrades in echo mode, so the resource exists but needs the
    // WebSocket protocol: 426 with Upgrade (RFC 9110 §15.5.22), not 404.
    reject(c, proto::http_response(426, "this is a WebSocket endpoint: send an upgrade request\n",
                                   "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"));
}

// ---- frames (RFC 6455 §5, §6.2) ---------------------------------------------------

// One read's frames. Large replies whose payloads lie in `in` wait in
// batch_ while it is decoded and leave together at its end (send_batch.hpp)
// — unless `in` was read straight into the decoder's message (receive_room):
// the decoder frees that at its next call, before the read is handled, so
// such a frame's echo leaves at once (a header alone, then the whole payload
// in one such read, came back with its first bytes overwritten by the heap).
void session::on_frames(connection& c, std::span<std::byte> in) {
    const bool into_message = in.data() == c.ws.payload_room().data();
    reading_ = into_message ? std::span<std::byte>{} : in;
    decode_frames(c, in);
    reading_ = {};
    if (batch_.owner()) send_batched();
}

void session::decode_frames(connection& c, std::span<std::byte> in) {
    while (c.state == conn_state::open || c.state == conn_state::closing) {
        proto::event ev = c.ws.next(in);  // unmasks in place; may point into `in`
        switch (ev.kind) {
        case proto::event_kind::need_more: return;
        case proto::event_kind::text:
        case proto::event_kind::binary:
            ++stats_.messages;
            // While closing, data is still read (to reach the peer's close) but dropped.
            if (c.state == conn_state::open) on_data_message(c, ev);
            break;
        case proto::event_kind::ping:
            // RFC 6455 §5.5.3: a pong with the ping's payload (none after our close).
            queue_answer(c, ev);
            break;
        case proto::event_kind::pong: break;  // on_data already counted it as life
        case proto::event_kind::close: return on_close_frame(c, ev);
        case proto::event_kind::protocol_error:
            // RFC 6455 §7.1.7 *Fail the WebSocket Connection*: the answer is
            // a close with the rule's code (unless ours went out); read nothing more.
            ++stats_.failed;
            queue_answer(c, ev);
            return enter_draining(c, true);
        }
    }
}

// A whole text or binary message. A compressed one (RSV1 on its first
// frame) is inflated first, bounded by max_message on the inflated size
// (RFC 7692 §8: a peer must not make us use unbounded memory), and a text
// one is checked as UTF-8 only then (the decoder could not: RFC 6455 §8.1
// applies to the message, not to its compressed bytes).
void session::on_data_message(connection& c, const proto::event& ev) {
    const opcode op = ev.kind == proto::event_kind::text ? opcode::text : opcode::binary;
    if (!ev.rsv1) {
        handler_.on_message(*this, c, op, ev.payload);
        if (deflate_contexts::agreed(c)) deflate_.trim();  // a large reply may have been compressed
        return;
    }
    std::span<const std::byte> message;
    proto::error e = deflate_.inflate_for(c, ev.payload, opts_.max_message, message);
    if (e == proto::error::none && op == opcode::text && !proto::is_valid_utf8(message))
        e = proto::error::invalid_utf8;
    if (e != proto::error::none) {
        ++stats_.failed;
        return fail(c, proto::to_close_code(e), proto::describe(e));
    }
    ++stats_.inflated;
    handler_.on_message(*this, c, op, message);
    deflate_.trim();
}

void session::on_close_frame(connection& c, const proto::event& ev) {
    // RFC 6455 §5.5.1: the echo of their close, unless ours went out first
    // (proto::connection::answer decides).
    queue_answer(c, ev);
    // §7.1.1: the server closes the TCP connection first, once its close is out.
    enter_draining(c, false);
}

// RFC 6455 §7.1.7 *Fail the WebSocket Connection* for a rule broken after
// the decoder (a compressed message that does not inflate, or inflates to
// bad UTF-8): a close frame with its code (unless ours went out), read
// nothing more, close.
void session::fail(connection& c, close_code code, std::string_view reason) {
    queue_close(c, code, reason);
    enter_draining(c, true);
}

// ---- keep-alive (RFC 6455 §5.5.2) -----------------------------------------------

// The timer is lazy: traffic only stamps last_rx; when the timer fires it
// checks how long the peer has really been silent and re-arms for the next
// point that matters. No timer work per message. The rules:
//   silence ≥ ping interval        → one ping (per silence; any byte resets it)
//   silence ≥ idle timeout         → close 1001: the pong did not come in time
//   no idle timeout, pinged, and silence ≥ 2 × ping interval → close 1001
void session::on_idle_timer(connection& c) {
    if ((c.flags & sf_expires) && t_.timers().now() >= expiry_.at(&c)) {
        ++stats_.expired;
        return close(c, close_code::policy_violation, "token expired");
    }
    core::tick_t silent = static_cast<std::uint32_t>(now32() - c.last_rx);
    if (idle_ticks_ && silent >= idle_ticks_)
        return close(c, close_code::going_away, "idle timeout");
    if (ping_ticks_ && !(c.flags & sf_pinged) && silent >= ping_ticks_) {
        std::byte frame[proto::max_header_size];
        if (c.ws.can_send()) {
            std::size_t n = c.ws.write_message(frame, opcode::ping, {}, {});
            stats_.bytes_sent += n;
            send_unprompted(c, std::span(frame, n));
        }
        c.flags |= sf_pinged;
    } else if (ping_ticks_ && !idle_ticks_ && (c.flags & sf_pinged) && silent >= 2 * ping_ticks_) {
        return close(c, close_code::going_away, "no pong");
    }
    arm_idle(c);
}

void session::arm_idle(connection& c) {
    constexpr core::tick_t never = std::numeric_limits<core::tick_t>::max();
    core::tick_t next = idle_ticks_ ? idle_ticks_ : never;
    if (ping_ticks_ && !(c.flags & sf_pinged)) next = std::min(next, ping_ticks_);
    if (ping_ticks_ && !idle_ticks_ && (c.flags & sf_pinged)) next = 2 * ping_ticks_;
    core::tick_t in = never;
    if (next != never) {
        core::tick_t silent = static_cast<std::uint32_t>(now32() - c.last_rx);
        in = next > silent ? next - silent : 1;
    }
    if (c.flags & sf_expires) {  // the token's end comes first if it is sooner
        const core::tick_t at = expiry_.at(&c), now = t_.timers().now();
        in = std::min(in, at > now ? at - now : 1);
    }
    if (in == never) return t_.timers().cancel(c);
    t_.timers().schedule_in(c, in);
}

// ---- the end -------------------------------------------------------------------

void session::enter_draining(connection& c, bool linger) {
    c.state = conn_state::draining;
    if (linger) c.flags |= sf_linger;
    delete c.http;
    c.http = nullptr;
    t_.timers().schedule_in(c, close_ticks_);
    want_flush(c);  // even with nothing queued: the flush's on_flushed ends TCP
}

void session::finish(connection& c) {
    if (c.state == conn_state::closed) return;
    if (batch_.owner() == &c) batch_.clear();  // its payloads are no longer owed
    t_.timers().cancel(c);
    if (c.flags & sf_deferred) {
        c.flags &= ~sf_deferred;
        handler_.on_http_abandoned(*this, c);
    }
    delete c.http;
    c.http = nullptr;
    c.out.clear(pool_);
    if (c.flags & sf_counted) {
        shared_.open.fetch_sub(1, std::memory_order_relaxed);
        c.flags &= ~sf_counted;
        handler_.on_close(*this, c, c.ws.code());  // RFC 6455 §7.1.5, 1006 included
    }
    deflate_.release(c);  // after on_close: the handler may still ask what it agreed
    if (c.flags & sf_expires) expiry_.erase(&c);
    if (!per_address_.empty()) release_address(c);
    c.flags &= ~(sf_expires | sf_read_only);
    c.state = conn_state::closed;
    t_.close(c);
}

session_stats& session_stats::operator+=(const session_stats& o) {
    accepted += o.accepted;
    upgraded += o.upgraded;
    rejected += o.rejected;
    messages += o.messages;
    bytes_received += o.bytes_received;
    messages_sent += o.messages_sent;
    bytes_sent += o.bytes_sent;
    failed += o.failed;
    inflated += o.inflated;
    deflated += o.deflated;
    expired += o.expired;
    for (std::size_t i = 0; i < refused.size(); ++i) refused[i] += o.refused[i];
    too_fast += o.too_fast;
    too_many_per_ip += o.too_many_per_ip;
    at_capacity += o.at_capacity;
    bad_handshakes += o.bad_handshakes;
    return *this;
}

}  // namespace wsring::net
