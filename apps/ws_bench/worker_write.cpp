// The write path: each connection's send block (sized once, at set-up);
// data frames masked with the worker's fast key (RFC 6455 §5.3), deflated
// with RSV1 under --deflate (RFC 7692 §6.1); the answers proto::connection
// owes and our close (§7.1.2), in room kept behind the data; and the flush
// that lets the driver fill the block and writes it in one send (wss://:
// encrypted, one sendmsg). What to send is the mode driver's.
#include "apps/ws_bench/worker.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proto/encoder.hpp"
#include "proto/frame_header.hpp"

namespace wsring::bench {

namespace {

constexpr std::size_t control_reserve = 2 * (proto::max_header_size + proto::max_control_payload);
constexpr std::size_t batch_cap = 128 * 1024;      // bytes of data frames per send block

}  // namespace

// Every send block is allocated here, before the run: the request, then
// either a window of data frames (capped at batch_cap) or only room for
// control frames, plus room for a pong and a close that never wait behind data.
void worker::setup_conns() {
    // The largest request: a replay's, with "?since=E:O" (≤ 60 bytes) added,
    // to --url or to --publish-url.
    auto request_bytes = [&](const url& to) {
        return proto::make_client_request({.host = to.host_header(),
                                           .path = to.path + "?since=" + std::string(64, 'x'),
                                           .subprotocols = subprotocols_,
                                           .extra_headers = opts_.headers,
                                           .extensions = deflate_.offer()},
                                          "dGhlIHNhbXBsZSBub25jZQ==")
            .size();
    };
    std::size_t request = std::max(request_bytes(opts_.target), request_bytes(opts_.publish_target));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        client_conn& c = conns_[i];
        c.kind = driver_->kind_of(i);
        std::size_t cap = request;
        if (c.kind == conn_kind::echo || c.kind == conn_kind::publisher)
            cap = std::max({cap, frame_bytes_, std::min<std::size_t>(frame_bytes_ * opts_.inflight, batch_cap)});
        c.out.reserve(cap + control_reserve);
    }
}

bool worker::queue_frame(client_conn& c, std::span<const std::byte> payload) {
    auto room = c.out.claim(frame_bytes_ + control_reserve);
    if (room.empty() || !c.ws->can_send()) return false;  // full, or our close went out (§5.5.1)
    // RFC 6455 §5.3: a new key per frame. From the worker's own fast
    // generator, not the CSPRNG behind fresh_mask_key(): a load generator
    // must not spend its time on keys; control frames take the default.
    auto key = static_cast<proto::mask_key>(rng_.next() >> 32);
    auto op = opts_.text ? proto::opcode::text : proto::opcode::binary;
    if (!c.deflate) {
        c.out.commit(c.ws->write_message(room, op, payload, {.mask = key}));
        return true;
    }
    // RFC 7692 §6.1: the whole message compressed, RSV1 on its first (here
    // only) frame. The room was claimed first: with context takeover a
    // compressed message that is not sent would corrupt every later one.
    auto wire = deflate_.compress(*c.deflate, payload);
    if (proto::frame_size(wire.size(), true) > frame_bytes_) {
        std::fprintf(stderr, "ws-bench: %zu bytes compressed to %zu, past net::client_deflate::bound()\n", payload.size(),
                     wire.size());
        std::abort();
    }
    c.out.commit(c.ws->write_message(room, op, wire, {.rsv1 = true, .mask = key}));
    return true;
}

// What the protocol owes for `ev` (connection::answer: a pong, the echo of
// a close), into the room control_reserve keeps behind the data frames.
void worker::queue_answer(client_conn& c, const proto::event& ev) {
    auto room = c.out.claim(proto::max_answer_size);
    if (room.empty()) return;  // cannot happen: control_reserve keeps room
    if (std::size_t n = c.ws->answer(ev, room)) {
        c.out.commit(n);
        mark_dirty(c);
    }
}

// Our close frame (RFC 6455 §7.1.2), once: the connection writes nothing
// if ours already went out.
void worker::queue_close(client_conn& c, proto::close_code code, std::string_view reason) {
    auto room = c.out.claim(proto::max_answer_size);
    if (room.empty()) return;  // cannot happen: control_reserve keeps room
    if (std::size_t n = c.ws->write_close(room, code, reason)) {
        c.out.commit(n);
        mark_dirty(c);
    }
}

// Lets the driver fill the send block, then writes it; repeats while the
// socket takes everything, so a window refills in as few sends as possible.
void worker::flush(client_conn& c) {
    if (c.tls) return flush_tls(c);
    for (;;) {
        if (c.state == conn_state::open) driver_->fill(c);
        auto p = c.out.pending();
        if (p.empty()) return;
        ssize_t n = send(c.fd, p.data(), p.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) c.want_write = true;
            else fail(c, fault::connection_reset, std::strerror(errno));
            return;
        }
        c.out.consume(static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < p.size()) {
            c.want_write = true;  // the socket buffer is full: wait for EPOLLOUT
            return;
        }
    }
}

// The same over TLS: the driver fills `out`, the stream encrypts from it
// (nothing before the handshake is done; at most ~64 KiB ahead of the
// socket), and the ciphertext leaves in one sendmsg per round.
void worker::flush_tls(client_conn& c) {
    net::tls_stream& t = *c.tls;
    for (;;) {
        if (c.state == conn_state::open) driver_->fill(c);
        auto p = c.out.pending();
        if (!p.empty()) {
            iovec plain{const_cast<std::byte*>(p.data()), p.size()};
            c.out.consume(t.write_plaintext(&plain, 1));
        }
        iovec iov[net::write_queue::max_iov];
        std::size_t n = t.pending_ciphertext(iov, net::write_queue::max_iov), offered = 0;
        if (n == 0) return;
        for (std::size_t i = 0; i < n; ++i) offered += iov[i].iov_len;
        msghdr m{};
        m.msg_iov = iov;
        m.msg_iovlen = n;
        ssize_t sent = sendmsg(c.fd, &m, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) c.want_write = true;
            else fail(c, fault::connection_reset, std::strerror(errno));
            return;
        }
        t.consume_ciphertext(static_cast<std::size_t>(sent));
        if (static_cast<std::size_t>(sent) < offered) {
            c.want_write = true;
            return;
        }
    }
}

}  // namespace wsring::bench
