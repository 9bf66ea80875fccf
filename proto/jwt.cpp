// The checks of RFC 7519 §7.2 in order: split the compact form, decode and
// parse the header, pin the algorithm, verify the signature over the first
// two parts exactly as sent, and only then read the claims.
#include "proto/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

namespace wsring::proto {

std::string_view describe(jwt_error e) {
    switch (e) {
    case jwt_error::none: return "ok";
    case jwt_error::malformed: return "malformed";
    case jwt_error::alg_not_allowed: return "alg_not_allowed";
    case jwt_error::bad_signature: return "bad_signature";
    case jwt_error::expired: return "expired";
    case jwt_error::not_yet_valid: return "not_yet_valid";
    case jwt_error::wrong_issuer: return "wrong_issuer";
    case jwt_error::wrong_audience: return "wrong_audience";
    }
    return "unknown";
}

// ---- base64url (RFC 4648 §5) -------------------------------------------------------

namespace {

constexpr std::string_view url_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;  // 6 bits cannot end a byte
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const int v = sextet(c);
        if (v < 0) return std::nullopt;
        acc = acc << 6 | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>(acc >> bits & 0xFF);
        }
    }
    // The bits left over are padding of the last byte and must be zero: a
    // token has one spelling (otherwise two strings decode to one signature).
    if (acc & ((1u << bits) - 1)) return std::nullopt;
    return out;
}

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char b : bytes) {
        acc = acc << 8 | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += url_alphabet[acc >> bits & 0x3F];
        }
    }
    if (bits > 0) out += url_alphabet[acc << (6 - bits) & 0x3F];
    return out;
}

// ---- keys -------------------------------------------------------------------------

jwt_keys::jwt_keys() = default;
jwt_keys::~jwt_keys() { EVP_PKEY_free(key_); }
jwt_keys::jwt_keys(jwt_keys&& o) noexcept
    : secret_(std::move(o.secret_)), key_(std::exchange(o.key_, nullptr)), key_alg_(o.key_alg_) {}
jwt_keys& jwt_keys::operator=(jwt_keys&& o) noexcept {
    if (this != &o) {
        EVP_PKEY_free(key_);
        secret_ = std::move(o.secret_);
        key_ = std::exchange(o.key_, nullptr);
        key_alg_ = o.key_alg_;
    }
    return *this;
}

bool jwt_keys::allows(jwt_alg a) const {
    if (a == jwt_alg::hs256) return !secret_.empty();
    return key_ && key_alg_ == a;
}

std::string jwt_keys::load_public_key_pem(std::string_view pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) return "out of memory";
    EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    if (!key) {  // a certificate then: its subject's key
        (void)BIO_reset(bio);
        if (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
            key = X509_get_pubkey(cert);
            X509_free(cert);
        }
    }
    BIO_free(bio);
    if (!key) return "no PEM public key or certificate found";
    std::optional<jwt_alg> alg;
    std::string why;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        if (EVP_PKEY_get_bits(key) >= 2048) alg = jwt_alg::rs256;
        else why = "an RSA key shorter than 2048 bits (RFC 7518 §3.3)";
    } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        char group[64] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1 &&
            (std::string_view(group) == "prime256v1" || std::string_view(group) == "P-256"))
            alg = jwt_alg::es256;
        else why = "an EC key not on P-256 (ES256 is P-256 only, RFC 7518 §3.4)";
    } else {
        why = "neither an RSA nor an EC key";
    }
    if (!alg) {
        EVP_PKEY_free(key);
        return why;
    }
    EVP_PKEY_free(key_);
    key_ = key;
    key_alg_ = alg;
    return {};
}

std::string jwt_keys::load_public_key(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "cannot read " + path;
    std::ostringstream pem;
    pem << in.rdbuf();
    std::string why = load_public_key_pem(pem.str());
    return why.empty() ? why : path + ": " + why;
}

// ---- verification ---------------------------------------------------------------

namespace {

std::optional<jwt_alg> alg_named(std::string_view name) {
    if (name == "HS256") return jwt_alg::hs256;
    if (name == "RS256") return jwt_alg::rs256;
    if (name == "ES256") return jwt_alg::es256;
    return std::nullopt;  // "none" included
}

// A NumericDate (§2): a JSON number of seconds, possibly with a fraction.
bool numeric_date(const json_value* v, std::optional<std::int64_t>& out) {
    if (!v) return true;
    if (!v->is(json_value::kind::number) || !std::isfinite(v->number) || std::abs(v->number) > 1e15)
        return false;
    out = static_cast<std::int64_t>(std::floor(v->number));
    return true;
}

bool verify_digest(EVP_PKEY* key, std::string_view input, const unsigned char* sig, std::size_t sig_len) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx) return false;
    bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, reinterpret_cast<const unsigned char*>(input.data()),
                               input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

// ES256's signature is r ‖ s, 32 bytes each (RFC 7518 §3.4); OpenSSL
// verifies the DER ECDSA-Sig-Value, so it is re-encoded first.
bool verify_es256(EVP_PKEY* key, std::string_view input, std::string_view sig) {
    if (sig.size() != 64) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(raw, 32, nullptr);
    BIGNUM* s = BN_bin2bn(raw + 32, 32, nullptr);
    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r), BN_free(s), ECDSA_SIG_free(es);
        return false;
    }
    unsigned char* der = nullptr;
    const int der_len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);  // owns r and s now
    bool ok = der_len > 0 && verify_digest(key, input, der, static_cast<std::size_t>(der_len));
    OPENSSL_free(der);
    return ok;
}

}  // namespace

bool jwt_verifier::signature_ok(jwt_alg alg, std::string_view input, std::string_view sig) const {
    switch (alg) {
    case jwt_alg::hs256: {
        std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
        unsigned int mac_len = 0;
        if (!HMAC(EVP_sha256(), keys_.secret_.data(), static_cast<int>(keys_.secret_.size()),
                  reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(), &mac_len))
            return false;
        // In constant time: a timing difference would leak the MAC byte by byte.
        return sig.size() == mac_len && CRYPTO_memcmp(sig.data(), mac.data(), mac_len) == 0;
    }
    case jwt_alg::rs256:
        return verify_digest(keys_.key_, input, reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
    case jwt_alg::es256: return verify_es256(keys_.key_, input, sig);
    }
    return false;
}

jwt_error jwt_verifier::verify(std::string_view token, std::int64_t now_s, jwt_claims& out) const {
    if (token.size() > max_token) return jwt_error::malformed;
    // §7.2 step 1: exactly three parts (a JWE's five, or anything else, is refused).
    const auto dot1 = token.find('.');
    if (dot1 == std::string_view::npos) return jwt_error::malformed;
    const auto dot2 = token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
        return jwt_error::malformed;
    auto header_text = base64url_decode(token.substr(0, dot1));
    auto claims_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    auto sig = base64url_decode(token.substr(dot2 + 1));
    if (!header_text || !claims_text || !sig) return jwt_error::malformed;

    auto header = parse_json(*header_text);
    if (!header || !header->is(json_value::kind::object)) return jwt_error::malformed;
    const json_value* alg_v = header->find("alg");
    if (!alg_v || !alg_v->is(json_value::kind::string)) return jwt_error::malformed;
    if (header->find("crit")) return jwt_error::malformed;  // RFC 7515 §4.1.11
    // RFC 8725 §3.1: the algorithm is ours to choose, the header only names it.
    const std::optional<jwt_alg> alg = alg_named(alg_v->string);
    if (!alg || !keys_.allows(*alg)) return jwt_error::alg_not_allowed;
    if (!signature_ok(*alg, token.substr(0, dot2), *sig)) return jwt_error::bad_signature;

    auto claims = parse_json(*claims_text);
    if (!claims || !claims->is(json_value::kind::object)) return jwt_error::malformed;
    return check_claims(*claims, now_s, out);
}

jwt_error jwt_verifier::check_claims(const json_value& claims, std::int64_t now_s, jwt_claims& out) const {
    jwt_claims c;
    if (!numeric_date(claims.find("exp"), c.exp) || !numeric_date(claims.find("nbf"), c.nbf))
        return jwt_error::malformed;
    if (const json_value* sub = claims.find("sub")) {
        if (!sub->is(json_value::kind::string)) return jwt_error::malformed;
        c.subject = sub->string;
    }
    if (const json_value* roles = claims.find("roles")) {
        if (!roles->is(json_value::kind::array)) return jwt_error::malformed;
        for (const json_value& r : roles->items) {
            if (!r.is(json_value::kind::string)) return jwt_error::malformed;
            c.roles.push_back(r.string);
        }
    }
    // §4.1.4: "MUST NOT be accepted for processing" on or after exp.
    if (c.exp && now_s >= *c.exp + policy_.leeway_s) return jwt_error::expired;
    if (c.nbf && now_s < *c.nbf - policy_.leeway_s) return jwt_error::not_yet_valid;
    if (!policy_.issuer.empty()) {
        const json_value* iss = claims.find("iss");
        if (!iss || !iss->is(json_value::kind::string) || iss->string != policy_.issuer)
            return jwt_error::wrong_issuer;
    }
    if (!policy_.audience.empty()) {
        // §4.1.3: a string, or an array of strings one of which must be ours.
        const json_value* aud = claims.find("aud");
        bool ours = false;
        if (aud && aud->is(json_value::kind::string)) ours = aud->string == policy_.audience;
        if (aud && aud->is(json_value::kind::array))
            for (const json_value& a : aud->items)
                ours |= a.is(json_value::kind::string) && a.string == policy_.audience;
        if (!ours) return jwt_error::wrong_audience;
    }
    out = std::move(c);
    return jwt_error::none;
}

}  // namespace wsring::proto
