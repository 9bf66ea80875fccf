// Builds the one SSL_CTX of the server (or of ws-bench, the client): versions,
// ALPN, resumption and the record-layer modes every tls_stream inherits, and
// the error lines a user sees when the certificate, key or CA files are wrong. Setup code: runs once,
// before any reactor, so it may allocate and build strings freely.
#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace wsring::net {
namespace {

// The one protocol we speak over TLS: WebSocket is an HTTP/1.1 upgrade
// (RFC 6455 §4.1), and the registered ALPN id is "http/1.1" (RFC 7301 §6).
constexpr std::string_view alpn_http11 = "http/1.1";

// RFC 7301 §3.2: "In the event that the server supports no protocols that
// the client advertises, then the server SHALL respond with a fatal
// 'no_application_protocol' alert." We follow it rather than go on without
// ALPN: a client that offers only h2 (or anything else) would speak that
// protocol next, which our HTTP/1.1 parser could only answer with a 400 —
// a clear alert at the handshake says what went wrong instead. A client
// that offers no ALPN at all is served as HTTP/1.1 (the callback is not
// called).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
    // `in` is the client's ProtocolNameList: 8-bit length, name, ... (RFC 7301 §3.1).
    for (unsigned int i = 0; i < inlen;) {
        unsigned int len = in[i];
        if (i + 1 + len > inlen) break;  // malformed; OpenSSL checks this first anyway
        std::string_view name(reinterpret_cast<const char*>(in + i + 1), len);
        if (name == alpn_http11) {
            *out = in + i + 1;
            *outlen = static_cast<unsigned char>(len);
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + len;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // OpenSSL sends no_application_protocol
}

// An encrypted key would make OpenSSL prompt on the terminal for a
// passphrase; a server must fail with a message instead.
int no_passphrase(char*, int, int, void*) { return 0; }

// The reason of the oldest queued OpenSSL error, and an empty queue after.
std::string openssl_reason() {
    unsigned long e = ERR_peek_error();
    const char* r = e ? ERR_reason_error_string(e) : nullptr;
    std::string s = r ? r : (e ? "unknown OpenSSL error" : "no details from OpenSSL");
    ERR_clear_error();
    return s;
}

bool readable(const std::string& file, std::string_view what, std::string& why) {
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (!f) {
        why = "cannot open " + std::string(what) + " " + file + ": " + std::strerror(errno);
        return false;
    }
    std::fclose(f);
    return true;
}

// The policy both roles share: versions, renegotiation and record modes.
bool configure_records(SSL_CTX* ctx) {
    // RFC 8446 (1.3) and RFC 5246 (1.2) only: 1.0/1.1 are deprecated by
    // RFC 8996. The ciphers and groups stay the library's defaults (and the
    // system's openssl.cnf security level): no list of ours to age.
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) return false;
    // RFC 5746 made renegotiation safe but it is still a way for one client
    // to make the server do handshakes at will, and WebSocket never needs
    // it; TLS 1.3 has none (RFC 8446 §4.1.2: a second ClientHello is an
    // unexpected_message). Refused with a no_renegotiation alert, which
    // tls_stream counts as renegotiation and ends the connection.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    // RELEASE_BUFFERS: OpenSSL frees its ~16 KiB read and write buffers
    // whenever they are empty, so an idle connection keeps none.
    // ACCEPT_MOVING_WRITE_BUFFER: tls_stream may retry a write from another
    // address (a scratch copy, the next iovec); PARTIAL_WRITE: a write
    // returns after each record, so what it reports taken is exact.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_ENABLE_PARTIAL_WRITE);
    return true;
}

// The server's policy, apart from the certificate. Each call answers one
// question of issue 10; all return 1 on success.
bool configure(SSL_CTX* ctx) {
    if (!configure_records(ctx)) return false;
    // Resumption by stateless tickets only (RFC 8446 §4.6.1, RFC 5077 for
    // 1.2): the session state travels in the ticket, sealed with this
    // context's keys, so no cache is shared (or locked) across reactors.
    // No early data (max_early_data stays 0): 0-RTT is replayable (RFC 8446 §8).
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (!SSL_CTX_set_num_tickets(ctx, tls_context::tickets_per_handshake)) return false;
    static constexpr unsigned char sid_ctx[] = "wsring";
    if (!SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1)) return false;
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    return true;
}

}  // namespace

struct tls_context::rotation {
    std::atomic<std::shared_ptr<const tls_context>> current;  // null: the context's own identity
};

namespace {

// SSL_CTX_set_cert_cb: runs in each handshake before the certificate is
// chosen. With a rotated identity, this connection presents it instead of
// the context's own (SSL_use_cert_and_key takes references: the identity
// may be replaced again while this connection lives).
int present_rotated(SSL* ssl, void* arg) {
    const auto* r = static_cast<const tls_context::rotation*>(arg);
    const std::shared_ptr<const tls_context> id = r->current.load(std::memory_order_acquire);
    if (!id) return 1;
    SSL_CTX* src = id->native();
    STACK_OF(X509)* chain = nullptr;
    SSL_CTX_get0_chain_certs(src, &chain);
    return SSL_use_cert_and_key(ssl, SSL_CTX_get0_certificate(src), SSL_CTX_get0_privatekey(src), chain, 1) == 1
               ? 1
               : 0;  // 0: the handshake fails (counted), rather than presenting a half-set identity
}

}  // namespace

std::optional<tls_context> tls_context::load(const std::string& cert_chain_file,
                                             const std::string& key_file, std::string& why) {
    if (!readable(cert_chain_file, "certificate file", why) ||
        !readable(key_file, "private key file", why))
        return std::nullopt;
    ERR_clear_error();
    tls_context c(SSL_CTX_new(TLS_server_method()));
    if (!c.ctx_ || !configure(c.ctx_)) {
        why = "cannot set up TLS: " + openssl_reason();
        return std::nullopt;
    }
    if (SSL_CTX_use_certificate_chain_file(c.ctx_, cert_chain_file.c_str()) != 1) {
        why = "cannot read a certificate chain from " + cert_chain_file + ": " + openssl_reason() +
              " (expected PEM: -----BEGIN CERTIFICATE-----, the server's own first)";
        return std::nullopt;
    }
    if (SSL_CTX_use_PrivateKey_file(c.ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        unsigned long e = ERR_peek_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            why = "the private key in " + key_file + " does not match the certificate in " +
                  cert_chain_file + " (the chain file must start with the server's own certificate)";
        } else {
            why = "cannot read a private key from " + key_file + ": " + openssl_reason() +
                  " (expected an unencrypted PEM key: -----BEGIN PRIVATE KEY-----)";
        }
        return std::nullopt;
    }
    if (SSL_CTX_check_private_key(c.ctx_) != 1) {
        why = "the private key in " + key_file + " does not match the certificate in " +
              cert_chain_file + ": " + openssl_reason();
        return std::nullopt;
    }
    c.rotated_ = std::make_shared<rotation>();
    SSL_CTX_set_cert_cb(c.ctx_, present_rotated, c.rotated_.get());
    return c;
}

bool tls_context::rotate(const std::string& cert_chain_file, const std::string& key_file,
                         std::string& why) const {
    if (!rotated_) {
        why = "not a server context";
        return false;
    }
    auto fresh = load(cert_chain_file, key_file, why);  // the same checks and messages as at start
    if (!fresh) return false;
    rotated_->current.store(std::make_shared<const tls_context>(std::move(*fresh)), std::memory_order_release);
    return true;
}

std::optional<tls_context> tls_context::load_client(const std::string& ca_file, bool insecure,
                                                    std::string& why) {
    if (!ca_file.empty() && !readable(ca_file, "CA file", why)) return std::nullopt;
    ERR_clear_error();
    tls_context c(SSL_CTX_new(TLS_client_method()));
    if (!c.ctx_ || !configure_records(c.ctx_)) {
        why = "cannot set up TLS: " + openssl_reason();
        return std::nullopt;
    }
    // RFC 6455 §4.1 over TLS is an HTTP/1.1 request: offer exactly that
    // (RFC 7301 §3.1). SSL_CTX_set_alpn_protos returns 0 on success.
    static constexpr unsigned char offer[] = "\x08http/1.1";
    if (SSL_CTX_set_alpn_protos(c.ctx_, offer, sizeof offer - 1) != 0) {
        why = "cannot set up TLS: " + openssl_reason();
        return std::nullopt;
    }
    // Sessions go to the caller, who keeps the last one per server; no
    // cache inside the context, so worker threads share nothing but it.
    SSL_CTX_set_session_cache_mode(c.ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    if (insecure) {
        SSL_CTX_set_verify(c.ctx_, SSL_VERIFY_NONE, nullptr);
        return c;
    }
    SSL_CTX_set_verify(c.ctx_, SSL_VERIFY_PEER, nullptr);
    if (ca_file.empty() ? SSL_CTX_set_default_verify_paths(c.ctx_) != 1
                        : SSL_CTX_load_verify_locations(c.ctx_, ca_file.c_str(), nullptr) != 1) {
        why = ca_file.empty() ? "cannot load the system's CA certificates: " + openssl_reason()
                              : "cannot read CA certificates from " + ca_file + ": " + openssl_reason() +
                                    " (expected PEM: -----BEGIN CERTIFICATE-----)";
        return std::nullopt;
    }
    return c;
}

tls_context& tls_context::operator=(tls_context&& o) noexcept {
    if (this != &o) {
        SSL_CTX_free(ctx_);
        ctx_ = o.ctx_;
        o.ctx_ = nullptr;
        rotated_ = std::move(o.rotated_);
    }
    return *this;
}

tls_context::~tls_context() { SSL_CTX_free(ctx_); }

}  // namespace wsring::net
