// One client connection's bytes between its socket and its client_session:
// straight through for ws://, through a tls_stream for wss://
//
//   socket ─ciphertext→ tls_stream ─plaintext→ client_session::feed
//   client_session::output ─plaintext→ tls_stream ─ciphertext→ wire()
//
// so client_session stays sans-IO on plaintext and never learns TLS is
// there (the shape of net/tls_layer.hpp on the server side). It owns no
// socket: a reactor moves its bytes (reactor_base::dial, the same backend
// code as a server connection's), and net/ws_client.cpp makes the socket.
// Read next: reactor_base.hpp (dial), tls_stream.hpp.
#pragma once
#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string_view>

#include "net/client_session.hpp"
#include "net/tls_context.hpp"
#include "net/tls_stream.hpp"
#include "net/write_queue.hpp"

namespace wsring::net {

class client_link {
public:
    using clock = client_session::clock;

    // `tls`: null for ws://; else the stream's context, with `server_name`
    // the URL's host (SNI and the certificate's name check) and `resume` a
    // session an earlier link to the same server gave (borrowed; may be null).
    client_link(client_session& s, const tls_context* tls, std::string_view server_name, SSL_SESSION* resume);
    ~client_link();
    client_link(const client_link&) = delete;
    client_link& operator=(const client_link&) = delete;

    // The reactor that moves the bytes lends its block pool (the wire
    // queue's blocks go back to it); the ClientHello is pending from here.
    void start(segment_pool& pool, clock::time_point now);

    // Bytes read from the socket: their plaintext to the session. A TLS
    // failure ends the session with a reason (the certificate check's, for
    // a refused server).
    void feed(std::span<const std::byte> in, clock::time_point now);
    // The peer's EOF (err 0) or a socket error (-errno, a refused connect too).
    void feed_eof(int err, clock::time_point now);
    // The queue a backend sends from: the session's output moved in first
    // (sealed into records for wss://), at most ~64 KiB ahead of the socket.
    write_queue& wire();
    // The same queue without moving anything (a send in flight reads it).
    write_queue& wire_queue();
    // wire() would have something to send.
    bool has_wire_work() const;
    // The session finished and every byte of it left: close the socket.
    bool done() const { return s_.finished() && !has_wire_work(); }
    client_session& session() { return s_; }

    // wss:// and the TLS handshake completed.
    bool secured() const { return tls_ && tls_->handshake_done(); }
    // After the session finished: a session the next link to this server
    // may resume (RFC 8446 §2.2), for the caller to SSL_SESSION_free; or null.
    SSL_SESSION* take_resumable();

private:
    void fail_tls(clock::time_point now);

    static constexpr std::size_t ahead = 64u << 10;  // ws://: plaintext queued before the socket takes it

    client_session& s_;
    const tls_context* ctx_;
    std::string server_name_;
    SSL_SESSION* resume_;
    segment_pool* pool_ = nullptr;       // the reactor's, from start()
    write_queue plain_;                  // ws://: the session's output on its way
    std::unique_ptr<tls_stream> tls_;    // null: ws://
    std::unique_ptr<std::byte[]> buf_;   // wss://: a record's plaintext
};

}  // namespace wsring::net
