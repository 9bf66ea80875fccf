// Fuzzes wss:// as a connection sees it: net/tls_stream (server role) in
// front of what net/session.cpp parses — proto::request_parser, then, after
// an accepted upgrade, proto::decoder. Byte 0 picks the mode:
//   raw (bit 0 clear): the rest is ciphertext from the "peer": garbage,
//     ClientHellos, alerts; it must never yield plaintext or a finished handshake.
//   client (bit 0 set): our tls_stream client (TLS 1.3, or 1.2 by bit 1)
//     sends the rest as application data to the server, which echoes it back
//     through write_plaintext; what the client decrypts must equal what
//     write_plaintext took, and queued ciphertext must not move until consumed.
// Other bits: pause the reader, the decrypt buffer's size, and one event:
// corrupt a ciphertext byte (bytes 1 and 3 say where), KeyUpdate (1.3) or
// renegotiation (1.2: refused), close_notify + EOF. Bytes 1-2 seed the chunk
// sizes. A client-mode pair is kept across inputs until it breaks (a
// handshake per input is ~10x slower): a crash reproduces
// on a fresh pair unless it depends on record sequence numbers. The server's
// certificate is made at startup and read by tls_context::load from a memfd.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "net/tls_stream.hpp"
#include "proto/decoder.hpp"
#include "proto/handshake.hpp"

using namespace wsring;
using net::tls_stream;
using bytes = std::vector<std::byte>;
#define CHECK(x) ((x) ? (void)0 : std::abort())

namespace {

// Byte 0: bit 0 mode, bit 1 TLS 1.2, bit 2 pause, bits 3-4 scratch size, bits
// 5-7 one event: 5 corrupt, 6 rekey, 7 close, else none (most inputs keep
// the pair: each event that breaks it costs the next input a handshake).
enum : std::uint8_t { m_client = 1, m_tls12 = 2, m_pause = 4 };
enum : std::uint8_t { ev_corrupt = 5, ev_rekey = 6, ev_close = 7 };
std::uint8_t event(std::uint8_t m) { return m >> 5; }
constexpr std::size_t server_cap = 2048;  // small, so write_plaintext meets its cap often
constexpr std::size_t scratch_sizes[] = {tls_stream::max_record, 1, 100, 5000};

// A self-signed P-256 certificate and key, PEM in one memfd: load() reads both.
std::string make_pem() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 3650);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, key, EVP_sha256());
    int fd = memfd_create("fuzz_tls.pem", 0);  // kept open: the path names it
    BIO* b = BIO_new_fd(fd, BIO_NOCLOSE);
    CHECK(PEM_write_bio_X509(b, x) && PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr));
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
    return "/proc/self/fd/" + std::to_string(fd);
}

net::tls_context load(bool client, bool tls12) {
    std::string why, pem = client ? "" : make_pem();
    auto c = client ? net::tls_context::load_client("", true, why) : net::tls_context::load(pem, pem, why);
    if (!c) std::fprintf(stderr, "fuzz_tls: %s\n", why.c_str()), std::abort();
    if (tls12) {  // and a client that may ask to renegotiate (the policy refuses it for both roles)
        SSL_CTX_set_max_proto_version(c->native(), TLS1_2_VERSION);
        SSL_CTX_clear_options(c->native(), SSL_OP_NO_RENEGOTIATION);
    }
    return std::move(*c);
}

struct world {
    net::segment_pool pool;
    net::tls_context server = load(false, false), client13 = load(true, false), client12 = load(true, true);
    std::byte scratch[tls_stream::max_record];
};
world& w() { static world* v = new world; return *v; }  // never freed: no exit-time order

// Chunk sizes from a xorshift seeded by the input.
struct chunker {
    std::uint32_t s, max;
    std::size_t next(std::size_t left) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        return std::min<std::size_t>(left, 1 + s % max);
    }
};

// What net/session.cpp does with plaintext: the request, then frames.
struct app {
    proto::request_parser http{8192};
    proto::decoder rx{proto::role::server};
    bool upgraded = false, done = false;
    std::size_t plain = 0;
    void on_data(std::span<std::byte> in) {
        plain += in.size();
        if (done) return;
        if (!upgraded) {
            std::size_t used = 0;
            auto st = http.feed(in, used);
            if (st == proto::request_parser::status::need_more) return;
            done = st != proto::request_parser::status::complete ||
                   !proto::accept_upgrade(http.request(), {}).accepted();
            upgraded = !done;
            in = in.subspan(used);
        }
        for (auto ev = rx.next(in); !done && ev.kind != proto::event_kind::need_more; ev = rx.next(in))
            done = ev.kind == proto::event_kind::close || ev.kind == proto::event_kind::protocol_error;
        CHECK(done || in.empty());
    }
};

// Feeds `in` to `to` in chunks and decrypts after each; a paused reader
// leaves plaintext inside, taken by the reads at the end.
void deliver(tls_stream& to, std::span<const std::byte> in, chunker& ch, std::uint8_t m, auto&& sink) {
    std::span<std::byte> scratch(w().scratch, scratch_sizes[(m >> 3) & 3]);
    bool pause = m & m_pause;
    auto on_plain = [&](std::span<std::byte> p) { sink(p); return !(pause = !pause && (m & m_pause)); };
    for (std::size_t at = 0, n; at < in.size(); at += n) {
        to.feed_ciphertext(in.subspan(at, n = ch.next(in.size() - at)));
        to.read_plaintext(scratch, on_plain);
    }
    for (bool more = true; more && to.has_buffered_input();) {
        more = false;
        to.read_plaintext(scratch, [&](std::span<std::byte> p) { sink(p); return more = true; });
    }
}

// Takes up to n bytes of `from`'s queued ciphertext (what one send took).
bytes take(tls_stream& from, std::size_t n) {
    iovec iov[net::write_queue::max_iov];
    std::size_t k = from.pending_ciphertext(iov, net::write_queue::max_iov);
    bytes out;
    for (std::size_t i = 0; i < k && out.size() < n; ++i) {
        auto* p = static_cast<const std::byte*>(iov[i].iov_base);
        out.insert(out.end(), p, p + std::min(iov[i].iov_len, n - out.size()));
    }
    from.consume_ciphertext(out.size());
    return out;
}
bytes take_all(tls_stream& from) { return take(from, SIZE_MAX); }

// Cuts `in` into up to 16 iovecs of input-chosen sizes.
std::size_t cut(std::span<const std::byte> in, chunker& ch, iovec (&iov)[16]) {
    std::size_t n = 0;
    for (std::size_t at = 0, k; at < in.size() && n < 16; at += k)
        iov[n++] = {const_cast<std::byte*>(in.data() + at), k = ch.next(in.size() - at)};
    return n;
}

struct pair {
    tls_stream client, server;
    explicit pair(bool tls12)
        : client(tls12 ? w().client12 : w().client13, w().pool,
                 tls_stream::client_params{.server_name = "localhost", .resume = nullptr}),
          server(w().server, w().pool, server_cap) {}
};
std::unique_ptr<pair> pairs[2];  // TLS 1.3, TLS 1.2: kept while healthy

// Handshake flights (and tickets) back and forth until both sides are quiet.
void converse(pair& p) {
    chunker whole{1, UINT32_MAX};
    auto no_data = [](std::span<std::byte>) { std::abort(); };
    for (int i = 0; i < 8 && (p.client.pending_bytes() || p.server.pending_bytes()); ++i) {
        deliver(p.server, take_all(p.client), whole, 0, no_data);
        deliver(p.client, take_all(p.server), whole, 0, no_data);
    }
}

// Client mode: the payload client → server (→ request parser, decoder), then
// echoed server → client through the write path, in input-chosen pieces.
void client_mode(std::uint8_t m, chunker ch, std::size_t where, std::span<const std::byte> payload) {
    auto& slot = pairs[(m & m_tls12) ? 1 : 0];
    if (!slot) {
        slot = std::make_unique<pair>(m & m_tls12);
        converse(*slot);
        CHECK(slot->client.handshake_done() && slot->server.handshake_done());
    }
    pair& p = *slot;
    app a;
    bool corrupt = false;
    iovec iov[16];
    for (std::size_t sent = 0, wire = 0, n; sent < payload.size(); sent += n) {
        CHECK((n = p.client.write_plaintext(iov, cut(payload.subspan(sent), ch, iov))) > 0);
        bytes c = take_all(p.client);
        if (event(m) == ev_corrupt && where >= wire && where < wire + c.size())
            c[where - wire] ^= std::byte{0x20}, corrupt = true;
        wire += c.size();
        deliver(p.server, c, ch, m, [&](std::span<std::byte> s) { a.on_data(s); });
    }
    CHECK(corrupt || p.server.error() != net::tls_error::none || a.plain == payload.size());
    if (event(m) == ev_rekey) {  // RFC 8446 §4.6.3 KeyUpdate; RFC 5746 renegotiation (refused)
        CHECK((m & m_tls12) ? SSL_renegotiate(p.client.native()) : SSL_key_update(p.client.native(), SSL_KEY_UPDATE_REQUESTED));
        SSL_do_handshake(p.client.native());
        deliver(p.server, take_all(p.client), ch, m, [&](std::span<std::byte> s) { a.on_data(s); });
        CHECK(corrupt || !(m & m_tls12) || p.server.error() == net::tls_error::renegotiation);
    }
    bytes got;
    auto to_client = [&](std::span<std::byte> s) { got.insert(got.end(), s.begin(), s.end()); };
    std::size_t echoed = 0;
    while (echoed < payload.size()) {
        iovec head{};
        bytes before;  // the oldest queued ciphertext must stay where it is
        if (p.server.pending_ciphertext(&head, 1))
            before.assign(static_cast<std::byte*>(head.iov_base), static_cast<std::byte*>(head.iov_base) + head.iov_len);
        std::size_t t = p.server.write_plaintext(iov, cut(payload.subspan(echoed), ch, iov));
        CHECK(p.server.pending_bytes() <= server_cap + tls_stream::max_record + 256);
        CHECK(before.empty() || std::memcmp(head.iov_base, before.data(), before.size()) == 0);
        echoed += t;
        if (!t && !p.server.pending_bytes()) break;  // the server failed: nothing more to send
        deliver(p.client, take(p.server, ch.next(SIZE_MAX)), ch, m, to_client);
    }
    deliver(p.client, take_all(p.server), ch, m, to_client);
    bool ok = !corrupt && p.server.error() == net::tls_error::none;
    CHECK(!ok || (echoed == payload.size() && got.size() == echoed &&
                  std::equal(got.begin(), got.end(), payload.begin())));
    if (ok && event(m) == ev_close) {  // RFC 8446 §6.1: close_notify each way, then EOF
        CHECK(p.server.want_close());
        deliver(p.client, take_all(p.server), ch, m, to_client);
        CHECK(p.client.peer_closed() && p.client.want_close());
        deliver(p.server, take_all(p.client), ch, m, [](std::span<std::byte>) { std::abort(); });
        CHECK(p.server.peer_closed());
        p.server.feed_eof();
    }
    converse(p);
    bool renegotiated = event(m) == ev_rekey && (m & m_tls12);
    if (!ok || renegotiated || event(m) == ev_close || p.client.error() != net::tls_error::none) slot.reset();
}

// Raw mode: ciphertext straight from the peer. Without keys no byte of it
// can decrypt, so no plaintext, no finished handshake, nothing to write.
void raw_mode(std::uint8_t m, chunker ch, std::span<const std::byte> in) {
    tls_stream s(w().server, w().pool, server_cap);
    deliver(s, in, ch, m, [](std::span<std::byte>) { std::abort(); });
    iovec iov{const_cast<std::byte*>(in.data()), in.size()};
    CHECK(!s.handshake_done() && s.write_plaintext(&iov, 1) == 0 && !s.want_close());
    while (s.pending_bytes()) take(s, ch.next(s.pending_bytes()));  // a ServerHello flight, an alert
    if (event(m) == ev_close) {
        s.feed_eof();
        CHECK(in.empty() || s.error() != net::tls_error::none);
    }
    CHECK(!net::name(s.error()).empty());
    (void)s.error_reason();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    const std::uint8_t m = data[0];
    chunker ch{(std::uint32_t(data[1]) << 8 | data[2]) * 2654435761u | 1, 1 + (1u << (data[1] & 15))};
    const std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(data + 4), size - 4);
    if (m & m_client) client_mode(m, ch, std::size_t(data[3]) << 4 | data[1] >> 4, rest);
    else raw_mode(m, ch, rest);
    return 0;
}
