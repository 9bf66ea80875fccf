// The server's TLS configuration (and, for ws-bench, a client's): one SSL_CTX
// built once from PEM files and shared by every reactor (SSL_new on a shared SSL_CTX is thread-safe; we
// never change the context after load()). It owns the policy — TLS 1.2 and
// 1.3 only, ALPN http/1.1, stateless tickets, no renegotiation, released
// buffers — and nothing per connection: that is net/tls_stream.hpp, the
// record layer over memory, which the reactors put between their byte
// movers and net/session.cpp. Read next: net/tls_stream.hpp.
#pragma once
#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace wsring::net {

class tls_context {
public:
    // TLS 1.3 tickets sent after a full handshake (RFC 8446 §4.6.1). OpenSSL
    // sends at most one after a resumed handshake whatever this says, so a
    // client that reconnects one connection at a time always holds a fresh
    // one; RFC 8446 §C.4 asks clients not to reuse a ticket, and a WebSocket
    // client rarely opens parallel connections to one server. The default
    // (2) would double the ticket work (an AEAD seal and ~250 bytes on the
    // wire) on every full handshake for little use.
    static constexpr std::size_t tickets_per_handshake = 1;

    // Reads the certificate chain (PEM: the server certificate first, then
    // its intermediates) and the private key (PEM, unencrypted). On failure
    // returns nothing and sets `why` to one line a user can act on (names
    // the file and what is wrong with it). Setup code, may allocate freely.
    static std::optional<tls_context> load(const std::string& cert_chain_file,
                                           const std::string& key_file, std::string& why);

    // A client's context (ws-bench's wss://): the same versions and record
    // modes, ALPN offering http/1.1, the peer's chain checked against the
    // PEM certificates in `ca_file` ("" = the system's default store) and
    // the host name set per stream (tls_stream's client constructor).
    // `insecure` checks nothing — for a server with a self-signed
    // certificate — and must be asked for explicitly. Sessions are kept by
    // the caller (tls_stream::resumable_session), not cached here.
    static std::optional<tls_context> load_client(const std::string& ca_file, bool insecure,
                                                  std::string& why);

    // A server's certificate and key rotated in place (SIGHUP): read and
    // checked like load(), then every handshake from now on presents them
    // (OpenSSL's certificate callback installs them per connection);
    // connections already open keep theirs, and session tickets stay valid
    // (their keys belong to this context, which does not change). Callable
    // from any thread; false with `why` (the old identity stays) on failure.
    bool rotate(const std::string& cert_chain_file, const std::string& key_file, std::string& why) const;

    tls_context(tls_context&& o) noexcept : ctx_(o.ctx_), rotated_(std::move(o.rotated_)) { o.ctx_ = nullptr; }
    tls_context& operator=(tls_context&& o) noexcept;
    tls_context(const tls_context&) = delete;
    tls_context& operator=(const tls_context&) = delete;
    ~tls_context();

    SSL_CTX* native() const { return ctx_; }

    struct rotation;  // the identity rotate() installed, read by the handshake's callback

private:
    explicit tls_context(SSL_CTX* ctx) : ctx_(ctx) {}
    SSL_CTX* ctx_;
    // Server contexts only; its address is the callback's argument (shared_ptr:
    // rotation is complete only in the .cpp).
    std::shared_ptr<rotation> rotated_;
};

}  // namespace wsring::net
