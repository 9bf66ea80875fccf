// wss:// in the reactor: the one place where a connection's bytes pass
// through TLS, shared by both backends. It sits between the byte movers and
// the connection logic:
//
//   socket ─ciphertext→ deliver() ─ tls_stream ─plaintext→ session::on_data
//   session's c.out ─plaintext→ seal() ─ tls_stream ─ciphertext→ wire queue ─→ socket
//
// so net/session.cpp never learns that TLS is there, and epoll and io_uring
// send from the "wire" queue (c.out for ws://, the stream's ciphertext for
// wss://) with the same write_queue calls. The session's notion of "all sent"
// (on_flushed) waits until the ciphertext is out too, and a connection says
// close_notify before its socket closes. Counts what went wrong, logs nothing
// per connection. The record layer itself: net/tls_stream.hpp. docs/tls.md.
#pragma once
#include <cstddef>
#include <memory>
#include <span>

#include "net/connection.hpp"
#include "net/reactor.hpp"
#include "net/session.hpp"
#include "net/tls_stream.hpp"
#include "net/transport.hpp"

namespace wsring::net {

class tls_layer {
public:
    // ctx null: off (every call below is then for connections without a stream).
    tls_layer(const tls_context* ctx, session& s, transport& t);

    bool enabled() const { return ctx_ != nullptr; }
    // At accept: c speaks TLS from its first byte. False: out of memory.
    bool attach(connection& c);
    // At recycle (no operation can name c's ciphertext any more).
    void detach(connection& c);

    // Ciphertext the backend read (any split), or none: decrypted bytes
    // that a paused session left inside the stream are delivered then.
    void deliver(connection& c, std::span<const std::byte> ciphertext);
    // TCP EOF or a reset, before the session hears of it.
    void deliver_eof(connection& c) { c.tls->feed_eof(); }
    // Encrypts what the session queued, up to the stream's cap; returns the
    // queue of records to send.
    write_queue& seal(connection& c);
    // After a send from the wire queue: the session hears "flushed" only
    // once the ciphertext is out; a pending FIN goes once close_notify is.
    // Returns true when the backend should shut its write side now.
    bool sent(connection& c);

    // transport::shutdown_write for TLS: close_notify first; true if the FIN
    // can go now (else sent() says when).
    bool shutdown_write(connection& c);
    // transport::close for TLS: queues close_notify (after a clean session),
    // counts how it ended; the backend sends what is queued if it can.
    void on_close(connection& c);

    const tls_stats& stats() const { return stats_; }

private:
    const tls_context* ctx_;
    session& session_;
    transport& t_;
    std::unique_ptr<std::byte[]> scratch_;  // decrypted records, handed to on_data in place
    tls_stats stats_;
};

}  // namespace wsring::net
