// One client connection's bytes between its socket and its client_session:
// straight through for ws://, through a tls_stream for wss://
//
//   socket ─ciphertext→ tls_stream ─plaintext→ client_session::feed
//   client_session::output ─plaintext→ tls_stream ─ciphertext→ socket
//
// so client_session stays sans-IO on plaintext and never learns TLS is
// there (the shape of net/tls_layer.hpp on the server side). It owns the
// socket from connect to close; the loop that polls it is net/ws_client.cpp.
// Read next: ws_client.cpp, tls_stream.hpp.
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

    // `fd`: a connected non-blocking socket, closed by the destructor.
    // `tls`: null for ws://; else the stream's context, with `server_name`
    // the URL's host (SNI and the certificate's name check) and `resume` a
    // session an earlier link to the same server gave (borrowed; may be null).
    client_link(int fd, client_session& s, const tls_context* tls, std::string_view server_name,
                SSL_SESSION* resume);
    ~client_link();
    client_link(const client_link&) = delete;
    client_link& operator=(const client_link&) = delete;

    int fd() const { return fd_; }
    // The session's output → (records) → socket, until drained or the socket
    // pushes back; true when it pushed back (poll for POLLOUT). A failed
    // send ends the session (client_session::eof).
    bool flush(clock::time_point now);
    // Bytes not yet on the socket: the session's, or records.
    bool pending() const { return !s_.output().empty() || (tls_ && tls_->pending_bytes() > 0); }
    // The socket is readable (or hung up): one read, its plaintext to the
    // session. EOF, a reset or a TLS failure end the session with a reason
    // (the certificate check's, for a refused server).
    void read(clock::time_point now);

    // wss:// and the TLS handshake completed.
    bool secured() const { return tls_ && tls_->handshake_done(); }
    // After the session finished: a session the next link to this server
    // may resume (RFC 8446 §2.2), for the caller to SSL_SESSION_free; or null.
    SSL_SESSION* take_resumable();

private:
    bool flush_plain(clock::time_point now);
    void fail_tls(clock::time_point now);

    static constexpr std::size_t read_size = 64u << 10;

    int fd_;
    client_session& s_;
    segment_pool pool_;                  // the stream's ciphertext blocks; outlives tls_
    std::unique_ptr<tls_stream> tls_;    // null: ws://
    std::unique_ptr<std::byte[]> buf_;   // read_size bytes read, then (TLS) a record's plaintext
};

}  // namespace wsring::net
