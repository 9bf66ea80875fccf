// JSON Web Tokens (RFC 7519) in the JWS compact form (RFC 7515 §7.1),
// checked with OpenSSL's primitives: HS256 (HMAC-SHA-256), RS256 (RSASSA-
// PKCS1-v1_5 with SHA-256) and ES256 (ECDSA P-256 with SHA-256), RFC 7518 §3.
//
// Why not a JWT library: Debian's libjwt 1.10 lets the token's header pick
// the algorithm unless every caller remembers to pin it, and the whole job is
// about 300 lines on top of primitives we already link — small enough to read
// and to fuzz (fuzz/fuzz_jwt.cpp). The rules that matter, all enforced here:
//   - the algorithm is pinned by what is configured (RFC 8725 §3.1): "none"
//     never verifies, HS256 only with a secret, RS256/ES256 only with a
//     public key of that type — so a public key can never be used as an
//     HMAC secret (the classic key-confusion attack);
//   - the signature is checked before a byte of the claims is trusted;
//   - exp and nbf (§4.1.4, §4.1.5) against the caller's clock, with a leeway;
//   - iss and aud (§4.1.1, §4.1.3) when the verifier is told to check them;
//   - a header with "crit" is refused (RFC 7515 §4.1.11: we understand no
//     extension).
// Sans-IO: the time is a parameter; keys are loaded by the caller's code
// (jwt_keys::load_public_key reads a file, at startup or reload only).
// Read next: jwt.cpp; docs/auth.md.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/json.hpp"

typedef struct evp_pkey_st EVP_PKEY;  // <openssl/evp.h>, kept out of this header

namespace wsring::proto {

enum class jwt_alg : std::uint8_t { hs256, rs256, es256 };

// Why a token was refused. Stable names (describe()) become metric labels.
enum class jwt_error : std::uint8_t {
    none,
    malformed,        // not three base64url parts of JSON objects, or a claim of the wrong type
    alg_not_allowed,  // "none", an unknown alg, or one no configured key is for
    bad_signature,
    expired,          // now > exp + leeway
    not_yet_valid,    // now < nbf − leeway
    wrong_issuer,
    wrong_audience,
};
std::string_view describe(jwt_error e);

// The keys a server trusts. Movable, not copyable (it owns an EVP_PKEY).
class jwt_keys {
public:
    jwt_keys();
    ~jwt_keys();
    jwt_keys(jwt_keys&&) noexcept;
    jwt_keys& operator=(jwt_keys&&) noexcept;

    // HS256's shared secret (RFC 7518 §3.2 wants ≥ 256 bits: the caller warns).
    void set_secret(std::string secret) { secret_ = std::move(secret); }
    // A PEM "PUBLIC KEY" (SubjectPublicKeyInfo) or a certificate: an RSA key
    // (≥ 2048 bits) enables RS256, an EC P-256 key ES256. "" or what is wrong.
    std::string load_public_key_pem(std::string_view pem);
    std::string load_public_key(const std::string& path);

    bool allows(jwt_alg a) const;
    bool empty() const { return secret_.empty() && !key_; }

private:
    friend class jwt_verifier;
    std::string secret_;
    EVP_PKEY* key_ = nullptr;
    std::optional<jwt_alg> key_alg_;  // what key_ verifies
};

// What a valid token says that the server uses.
struct jwt_claims {
    std::string subject;              // "sub", for logs; may be empty
    std::vector<std::string> roles;   // "roles": an array of strings; absent: none
    std::optional<std::int64_t> exp;  // seconds since the epoch
    std::optional<std::int64_t> nbf;
};

struct jwt_policy {
    // Clock skew allowed on exp and nbf. A server keeps a connection open
    // until exp + leeway (the same rule), so 0 makes exp exact.
    std::int64_t leeway_s = 0;
    std::string issuer{};       // "" : not checked; else "iss" must equal it
    std::string audience{};     // "" : not checked; else "aud" must be or contain it
};

class jwt_verifier {
public:
    jwt_verifier(const jwt_keys& keys, jwt_policy policy) : keys_(keys), policy_(std::move(policy)) {}

    // The longest token considered (a header line is capped anyway; this
    // keeps the JSON work per handshake small).
    static constexpr std::size_t max_token = 8192;

    // Checks `token` at `now_s` (seconds since the epoch); fills `out` only
    // when the answer is none.
    jwt_error verify(std::string_view token, std::int64_t now_s, jwt_claims& out) const;

private:
    bool signature_ok(jwt_alg alg, std::string_view signing_input, std::string_view sig) const;
    jwt_error check_claims(const json_value& claims, std::int64_t now_s, jwt_claims& out) const;

    const jwt_keys& keys_;
    jwt_policy policy_;
};

// RFC 4648 §5 base64url without padding (RFC 7515 §2), strict: any other
// character, '=' included, or an impossible length → nullopt.
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64url_encode(std::string_view bytes);

}  // namespace wsring::proto
