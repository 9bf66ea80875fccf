// The TLS layer's steps (net/tls_layer.hpp). What the session sees is what a
// plaintext connection would show it: bytes in order, "flushed" when its
// output is on the wire, "the peer closed" on close_notify or EOF.
#include "net/tls_layer.hpp"

namespace wsring::net {

tls_layer::tls_layer(const tls_context* ctx, session& s, transport& t)
    : ctx_(ctx), session_(s), t_(t) {
    if (ctx_) scratch_ = std::make_unique_for_overwrite<std::byte[]>(tls_stream::max_record);
}

bool tls_layer::attach(connection& c) {
    c.tls = new tls_stream(*ctx_, t_.pool());
    return c.tls->error() == tls_error::none;  // resources: SSL_new failed
}

void tls_layer::detach(connection& c) {
    delete c.tls;
    c.tls = nullptr;
}

void tls_layer::deliver(connection& c, std::span<const std::byte> ciphertext) {
    if (c.state == conn_state::closed) return;
    tls_stream& s = *c.tls;
    bool was_done = s.handshake_done();
    s.feed_ciphertext(ciphertext);
    // Each record's plaintext goes to the session as it is decrypted; a
    // session that stops reading (backpressure, or it closed) leaves the
    // rest in the stream until the backend resumes reading.
    // Counted as soon as it is done: before the plaintext that came in the
    // same read (TLS 1.3 sends Finished and the request together), which
    // may end the connection or be a GET /metrics that should see it.
    const auto count_handshake = [&] {
        if (was_done || !s.handshake_done()) return;
        was_done = true;
        ++stats_.handshakes;
        if (s.resumed()) ++stats_.resumed;
    };
    s.read_plaintext({scratch_.get(), tls_stream::max_record}, [&](std::span<std::byte> plain) {
        count_handshake();
        session_.on_data(c, plain);
        return c.state != conn_state::closed && session_.wants_read(c);
    });
    count_handshake();
    if (c.state == conn_state::closed) return;
    if (s.error() != tls_error::none) {
        // Not TLS, a failed handshake, a bad record: no WebSocket close is
        // possible. The alert OpenSSL queued (if any) goes out in close().
        return session_.abort(c);
    }
    // RFC 8446 §6.1: close_notify means no more data from the peer — the
    // session treats it as the peer's EOF.
    if (s.peer_closed()) return session_.on_peer_closed(c, 0);
    if (s.pending_bytes()) t_.flush_soon(c);  // a handshake flight, a KeyUpdate answer
}

write_queue& tls_layer::seal(connection& c) {
    tls_stream& s = *c.tls;
    iovec iov[write_queue::max_iov];
    while (!c.out.empty()) {
        std::size_t n = c.out.gather(iov, write_queue::max_iov);
        std::size_t taken = s.write_plaintext(iov, n);
        if (taken == 0) break;  // the cap (or no session yet): the rest waits in c.out
        c.out.consume(t_.pool(), taken);
    }
    return s.wire();
}

bool tls_layer::sent(connection& c) {
    if (c.state == conn_state::closed) return false;
    tls_stream& s = *c.tls;
    if (s.pending_bytes()) return false;  // a short send: the rest first
    if (!c.out.empty() && s.handshake_done() && !s.close_sent()) {
        t_.flush_soon(c);  // sealing stopped at the cap: seal and send more this turn
        return false;
    }
    // Our close_notify is out (only shutdown_write() sends it while the
    // connection lives): now the FIN.
    if (s.close_sent()) return true;
    session_.on_flushed(c);
    return false;
}

bool tls_layer::shutdown_write(connection& c) {
    // RFC 8446 §6.1: each party MUST send close_notify before closing its
    // write side. The FIN follows once the record is out.
    if (!c.tls->want_close()) return true;  // no session to close: FIN at once
    t_.flush_soon(c);  // sent() shuts the socket once the record is out
    return false;
}

void tls_layer::on_close(connection& c) {
    tls_stream& s = *c.tls;
    if (s.error() != tls_error::none) {
        ++stats_.failed[static_cast<std::size_t>(s.error())];
    } else if (!s.handshake_done()) {
        // Cut short without a TLS error: silence until the handshake
        // deadline, EOF before a ClientHello, or a shutdown mid-handshake.
        ++stats_.failed[static_cast<std::size_t>(tls_error::bad_handshake)];
    } else if (!s.close_sent()) {
        s.want_close();  // a clean end says so (the backend sends it if it can)
    }
}

}  // namespace wsring::net
