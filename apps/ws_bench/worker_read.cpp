// The read path, ws:// and wss://: each read lands in the worker's one large
// buffer (wss://: decrypted into it), whole frames go to the connection's
// proto::connection and each message to the mode driver — inflated first
// with --deflate (RFC 7692 §6.2), its position checked on wsring.v1. --raw
// without --verify reads lengths only and skips the decoder. Not here: what
// a close frame or EOF means (worker_close.cpp), the 101 check
// (worker_open.cpp), the answers the connection owes (worker_write.cpp).
#include "apps/ws_bench/worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "proto/frame_header.hpp"

namespace wsring::bench {

namespace {

// What a failed wsring.v1 check is counted as.
fault v1_fault(v1_verdict v) {
    switch (v) {
        case v1_verdict::gap:
        case v1_verdict::epoch_changed: return fault::position_gap;
        case v1_verdict::repeat: return fault::position_repeat;
        case v1_verdict::unrecovered: return fault::unrecovered;
        default: return fault::content_mismatch;
    }
}

// Bytes at the front of `data` that form whole frames: only those reach the
// decoder, so it never has to copy a cut frame into a buffer of its own.
std::size_t whole_frames(std::span<const std::byte> data) {
    std::size_t off = 0;
    for (;;) {
        proto::frame_header h;
        auto r = proto::decode_header(data.subspan(off), h);
        if (r.size == 0 || h.length > data.size() - off - r.size) return off;
        off += r.size + static_cast<std::size_t>(h.length);
    }
}

}  // namespace

// Reads into the worker's large buffer, behind the tail a previous read cut.
// A short read means the socket is drained: with edge-triggered epoll, bytes
// that arrive later raise a new event. But a FIN that came with this event
// raises none, so when the peer hung up (`hup`) read on until EOF.
void worker::on_readable(client_conn& c, bool hup) {
    for (;;) {
        if (c.close_received()) return discard_until_eof(c);
        std::size_t have = c.tail.size();
        if (have) std::memcpy(rbuf_.data(), c.tail.data(), have);
        ssize_t n = read(c.fd, rbuf_.data() + have, rbuf_.size() - have);
        if (n == 0) return on_eof(c);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) fail(c, fault::connection_reset, std::strerror(errno));
            return;
        }
        c.tail.clear();
        std::size_t end = have + static_cast<std::size_t>(n), left = 0;
        if (!take_bytes(c, {rbuf_.data(), end}, end == rbuf_.size(), left)) return;
        if (left) c.tail.assign(rbuf_.begin() + static_cast<std::ptrdiff_t>(end - left), rbuf_.begin() + static_cast<std::ptrdiff_t>(end));
        if (!hup && static_cast<std::size_t>(n) < rbuf_.size() - have) return;
    }
}

// Bytes read (behind the tail of the last read) to the upgrade checker, then
// whole frames to the decoder; `left` is how many bytes at the end of `data`
// are a cut frame to keep. `buffer_full`: no room to wait for the rest of a
// frame, so even a cut one goes to the decoder. False once the connection is gone.
bool worker::take_bytes(client_conn& c, std::span<std::byte> data, bool buffer_full, std::size_t& left) {
    if (driver_->reads_stream()) {  // http-publish: answers, not frames
        std::size_t used = driver_->on_stream(c, data);
        if (!has_socket(c.state)) return false;
        left = data.size() - used;
        if (left && buffer_full) return fail(c, fault::http_error, "an answer larger than the read buffer"), false;
        mark_dirty(c);
        return true;
    }
    if (c.state == conn_state::upgrading && !feed_upgrade(c, data)) return false;
    std::size_t whole = whole_frames(data);
    if (whole == 0 && buffer_full) whole = data.size();  // a frame larger than the buffer
    bool alive = light_raw_ ? deliver_raw(c, data.first(whole)) : deliver(c, data.first(whole));
    if (!alive) return false;
    mark_dirty(c);  // replies free window slots: refill at this turn's flush
    left = data.size() - whole;
    return true;
}

// The read path over TLS. Ciphertext is read into cbuf_ and decrypted into
// the back half of rbuf_, one record per call of the lambda; the tail of a
// frame cut by a record waits right in front of it, at [half - have, half),
// so each record's frames are parsed where they were decrypted. A cut frame
// longer than half the buffer goes to the decoder in pieces, as in on_readable.
void worker::on_readable_tls(client_conn& c, bool hup) {
    net::tls_stream& t = *c.tls;
    const std::size_t half = rbuf_.size() / 2;  // ≥ 128 KiB: room for a 16 KiB record behind it
    for (;;) {
        ssize_t n = read(c.fd, cbuf_.data(), cbuf_.size());
        if (n == 0) {
            t.feed_eof();
            if (t.error() != net::tls_error::none) return fail_tls(c);
            return on_eof(c);
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            if (c.close_received()) return finish_close(c, true);  // both close frames were exchanged
            return fail(c, fault::connection_reset, std::strerror(errno));
        }
        bool was_done = t.handshake_done();
        std::size_t have = c.tail.size();
        if (have) std::memcpy(rbuf_.data() + half - have, c.tail.data(), have);
        c.tail.clear();
        t.feed_ciphertext({cbuf_.data(), static_cast<std::size_t>(n)});
        t.read_plaintext(std::span(rbuf_).subspan(half), [&](std::span<std::byte> p) {
            if (!has_socket(c.state) || c.close_received()) return true;  // the rest does not matter
            std::size_t left = 0;
            std::span<std::byte> data(rbuf_.data() + half - have, have + p.size());
            if (take_bytes(c, data, data.size() > half, left) && left)
                std::memmove(rbuf_.data() + half - left, data.data() + data.size() - left, left);
            have = left;
            return true;
        });
        if (!has_socket(c.state)) return;
        if (t.error() != net::tls_error::none) {
            if (c.close_received()) return finish_close(c, true);  // both close frames were exchanged
            return fail_tls(c);
        }
        if (!was_done && t.handshake_done()) on_tls_handshake(c);
        // RFC 5246 §7.2.1: answer the server's close_notify with ours while
        // its TCP is open (Python's asyncio waits for it before closing);
        // after its FIN (`hup`, ws-server) ours would only earn an RST.
        if (t.peer_closed() && !t.close_sent() && !hup) t.want_close();
        if (have && !c.close_received()) c.tail.assign(rbuf_.begin() + static_cast<std::ptrdiff_t>(half - have), rbuf_.begin() + static_cast<std::ptrdiff_t>(half));
        mark_dirty(c);  // handshake replies, the request that waited for them, refills
        if (!hup && static_cast<std::size_t>(n) < cbuf_.size()) return;
    }
}

// After the peer's close frame nothing more matters but its EOF (RFC 6455
// §7.1.1: the server closes the TCP connection first).
void worker::discard_until_eof(client_conn& c) {
    for (;;) {
        ssize_t n = read(c.fd, rbuf_.data(), rbuf_.size());
        if (n > 0) continue;
        if (n == 0) return on_eof(c);
        if (errno == EINTR) continue;
        if (errno != EAGAIN) finish_close(c, true);  // both close frames were exchanged
        return;
    }
}

// Hands whole frames to the connection's decoder, event by event; what the
// protocol owes in reply (a pong, the echo of a close) the connection
// writes. False once the connection closed or failed (the rest of the
// bytes do not matter then).
bool worker::deliver(client_conn& c, std::span<std::byte> frames) {
    while (!frames.empty() && has_socket(c.state)) {
        proto::event ev = c.ws->next(frames);  // unmasks in place, in `frames`
        switch (ev.kind) {
            case proto::event_kind::need_more: return true;
            case proto::event_kind::text:
            case proto::event_kind::binary: {
                bool text = ev.kind == proto::event_kind::text;
                if (ev.rsv1 && !inflate(c, text, ev.payload)) return false;
                if (c.v1.on && !check_position(c, text, ev.payload)) break;  // a notice, or a fault
                driver_->on_message(c, text, ev.payload);
                break;
            }
            case proto::event_kind::ping:  // RFC 6455 §5.5.3: a pong with the same payload
                queue_answer(c, ev);
                break;
            case proto::event_kind::pong: break;
            case proto::event_kind::close:
                on_close_frame(c, ev);
                if (c.state == conn_state::closing && !c.tls) discard_until_eof(c);  // TLS reads on for close_notify
                return false;
            case proto::event_kind::protocol_error:
                fail(c, fault::protocol_error, proto::describe(ev.err), ev.err);
                return false;
        }
    }
    return has_socket(c.state);
}

// wsring.v1: every message passes the cursor (v1_cursor.hpp). True for a
// data message at the next offset, its payload narrowed to the published
// bytes; a notice that fits goes to the driver; anything else is a fault.
bool worker::check_position(client_conn& c, bool text, std::span<std::byte>& payload) {
    std::string why;
    v1_verdict v = v1_accept(c.v1, payload, text, why);
    if (v == v1_verdict::data) return true;
    if (v == v1_verdict::notice) driver_->on_notice(c);
    else fail(c, v1_fault(v), why);
    return false;
}

// RFC 7692 §6.2: a message with RSV1 means nothing until inflated; one
// that does not inflate (or is not UTF-8 text after it) fails the connection.
bool worker::inflate(client_conn& c, bool text, std::span<std::byte>& payload) {
    proto::error e = deflate_.inflate(*c.deflate, payload, text, max_message_, payload);
    if (e == proto::error::none) return true;
    fail(c, fault::protocol_error, proto::describe(e), e);
    return false;
}

// --raw without --verify: the echo server returns our own masked frames, and
// a plain TCP echo needs no parsing beyond the lengths, so the baseline's
// client work stays below any WebSocket run's — only the header and the
// sequence stamp are read and unmasked, never the whole payload, and the
// connection's decoder is skipped. It sees the close: ours, come back.
bool worker::deliver_raw(client_conn& c, std::span<std::byte> frames) {
    while (!frames.empty() && has_socket(c.state)) {
        proto::frame_header h;
        auto r = proto::decode_header(frames, h);
        if (r.size == 0 || h.length > frames.size() - r.size) return deliver(c, frames);  // a frame past the buffer
        if (h.op() == proto::opcode::close) return deliver(c, frames);  // the close handshake is the connection's
        auto payload = frames.subspan(r.size, static_cast<std::size_t>(h.length));
        frames = frames.subspan(r.size + payload.size());
        std::size_t stamp_end = payload_.stamp_offset() + echo_header_bytes;
        if (h.masked) proto::apply_mask(payload.first(std::min(payload.size(), stamp_end)), h.key);
        driver_->on_message(c, h.op() == proto::opcode::text, payload);
    }
    return has_socket(c.state);
}

}  // namespace wsring::bench
