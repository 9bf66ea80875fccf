// Tests for proto/jwt: tokens made here with OpenSSL (HS256, RS256 and ES256
// keys generated per run), then every refusal RFC 7519 §7.2 and RFC 8725
// ask for: wrong signature, alg "none", the public key used as an HMAC
// secret, expiry and not-before with the leeway, issuer, audience, and
// malformed parts.
#include "proto/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <string>

namespace wsring::proto {
namespace {

constexpr std::int64_t now = 1'800'000'000;
const std::string secret = "a-secret-of-at-least-thirty-two-bytes!!";

std::string part(std::string_view json) { return base64url_encode(json); }

std::string hs256(std::string_view header, std::string_view claims, std::string_view key = secret) {
    std::string input = part(header) + "." + part(claims);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
}

// A generated key pair, its public half as PEM, and signing with it.
struct key_pair {
    EVP_PKEY* key = nullptr;
    explicit key_pair(bool rsa) {
        key = rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))
                  : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    }
    ~key_pair() { EVP_PKEY_free(key); }
    std::string public_pem() const {
        BIO* bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(bio, key);
        char* data = nullptr;
        long n = BIO_get_mem_data(bio, &data);
        std::string pem(data, static_cast<std::size_t>(n));
        BIO_free(bio);
        return pem;
    }
    std::string sign(std::string_view header, std::string_view claims) const {
        std::string input = part(header) + "." + part(claims);
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        std::size_t len = 0;
        EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
        const auto* in = reinterpret_cast<const unsigned char*>(input.data());
        EVP_DigestSign(ctx, nullptr, &len, in, input.size());
        std::string sig(len, '\0');
        EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size());
        sig.resize(len);
        EVP_MD_CTX_free(ctx);
        if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {  // DER → r ‖ s (RFC 7518 §3.4)
            const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
            ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
            std::string raw(64, '\0');
            BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
            BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
            ECDSA_SIG_free(es);
            sig = raw;
        }
        return input + "." + base64url_encode(sig);
    }
};

const key_pair& rsa() { static key_pair k(true); return k; }
const key_pair& ec() { static key_pair k(false); return k; }

jwt_keys secret_keys() {
    jwt_keys k;
    k.set_secret(secret);
    return k;
}

jwt_keys public_keys(const key_pair& kp) {
    jwt_keys k;
    EXPECT_EQ(k.load_public_key_pem(kp.public_pem()), "");
    return k;
}

jwt_error check(const jwt_keys& keys, std::string_view token, jwt_claims* out = nullptr,
                jwt_policy policy = {}) {
    jwt_claims c;
    jwt_error e = jwt_verifier(keys, std::move(policy)).verify(token, now, c);
    if (out) *out = c;
    return e;
}

const char* hs_header = R"({"alg":"HS256","typ":"JWT"})";
const char* claims = R"({"sub":"ann","roles":["reader","writer"],"exp":1800000600})";

TEST(Jwt, ValidHs256GivesItsClaims) {
    jwt_claims c;
    ASSERT_EQ(check(secret_keys(), hs256(hs_header, claims), &c), jwt_error::none);
    EXPECT_EQ(c.subject, "ann");
    EXPECT_EQ(c.roles, (std::vector<std::string>{"reader", "writer"}));
    EXPECT_EQ(c.exp, 1800000600);
}

TEST(Jwt, ValidRs256AndEs256) {
    EXPECT_EQ(check(public_keys(rsa()), rsa().sign(R"({"alg":"RS256"})", claims)), jwt_error::none);
    EXPECT_EQ(check(public_keys(ec()), ec().sign(R"({"alg":"ES256"})", claims)), jwt_error::none);
}

TEST(Jwt, WrongSignatureIsRefused) {
    EXPECT_EQ(check(secret_keys(), hs256(hs_header, claims, "another secret")), jwt_error::bad_signature);
    // One claim changed after signing.
    std::string t = hs256(hs_header, claims);
    std::string forged = part(hs_header) + "." + part(R"({"sub":"ann","roles":["admin"]})") +
                         t.substr(t.rfind('.'));
    EXPECT_EQ(check(secret_keys(), forged), jwt_error::bad_signature);
    key_pair other_ec(false);
    EXPECT_EQ(check(public_keys(ec()), other_ec.sign(R"({"alg":"ES256"})", claims)), jwt_error::bad_signature);
}

TEST(Jwt, AlgNoneNeverVerifies_RFC8725_3_1) {
    std::string unsigned_token = part(R"({"alg":"none"})") + "." + part(claims) + ".";
    EXPECT_EQ(check(secret_keys(), unsigned_token), jwt_error::alg_not_allowed);
    EXPECT_EQ(check(public_keys(rsa()), unsigned_token), jwt_error::alg_not_allowed);
}

TEST(Jwt, PublicKeyUsedAsHmacSecretIsRefused_RFC8725_2_1) {
    // The key-confusion attack: HS256 keyed with the server's public key PEM.
    std::string pem = rsa().public_pem();
    EXPECT_EQ(check(public_keys(rsa()), hs256(hs_header, claims, pem)), jwt_error::alg_not_allowed);
}

TEST(Jwt, AlgIsPinnedToTheKeyType) {
    EXPECT_EQ(check(public_keys(rsa()), ec().sign(R"({"alg":"ES256"})", claims)), jwt_error::alg_not_allowed);
    EXPECT_EQ(check(public_keys(ec()), rsa().sign(R"({"alg":"RS256"})", claims)), jwt_error::alg_not_allowed);
    EXPECT_EQ(check(secret_keys(), rsa().sign(R"({"alg":"RS256"})", claims)), jwt_error::alg_not_allowed);
    EXPECT_EQ(check(secret_keys(), hs256(R"({"alg":"HS512"})", claims)), jwt_error::alg_not_allowed);
}

TEST(Jwt, ExpiryAndNotBeforeWithLeeway_7519_4_1_4) {
    jwt_policy p{.leeway_s = 5};
    auto with = [&](const std::string& c) { return check(secret_keys(), hs256(hs_header, c), nullptr, p); };
    EXPECT_EQ(with(R"({"exp":1800000000})"), jwt_error::none) << "inside the leeway";
    EXPECT_EQ(with(R"({"exp":1799999996})"), jwt_error::none);
    EXPECT_EQ(with(R"({"exp":1799999995})"), jwt_error::expired);
    EXPECT_EQ(with(R"({"exp":1700000000.5})"), jwt_error::expired);
    EXPECT_EQ(with(R"({"nbf":1800000005})"), jwt_error::none);
    EXPECT_EQ(with(R"({"nbf":1800000006})"), jwt_error::not_yet_valid);
    EXPECT_EQ(with(R"({"exp":"soon"})"), jwt_error::malformed);
}

TEST(Jwt, IssuerAndAudienceWhenAsked_7519_4_1_3) {
    jwt_policy p{.issuer = "auth.example", .audience = "wsring"};
    auto with = [&](const std::string& c) { return check(secret_keys(), hs256(hs_header, c), nullptr, p); };
    EXPECT_EQ(with(R"({"iss":"auth.example","aud":"wsring"})"), jwt_error::none);
    EXPECT_EQ(with(R"({"iss":"auth.example","aud":["other","wsring"]})"), jwt_error::none);
    EXPECT_EQ(with(R"({"iss":"evil.example","aud":"wsring"})"), jwt_error::wrong_issuer);
    EXPECT_EQ(with(R"({"aud":"wsring"})"), jwt_error::wrong_issuer);
    EXPECT_EQ(with(R"({"iss":"auth.example","aud":"other"})"), jwt_error::wrong_audience);
    EXPECT_EQ(with(R"({"iss":"auth.example"})"), jwt_error::wrong_audience);
    EXPECT_EQ(check(secret_keys(), hs256(hs_header, R"({})")), jwt_error::none) << "not asked: not checked";
}

TEST(Jwt, RolesMustBeAnArrayOfStrings) {
    jwt_claims c;
    EXPECT_EQ(check(secret_keys(), hs256(hs_header, R"({"sub":"x"})"), &c), jwt_error::none);
    EXPECT_TRUE(c.roles.empty()) << "no roles claim: no rights, not an error";
    EXPECT_EQ(check(secret_keys(), hs256(hs_header, R"({"roles":"admin"})")), jwt_error::malformed);
    EXPECT_EQ(check(secret_keys(), hs256(hs_header, R"({"roles":["a",1]})")), jwt_error::malformed);
}

TEST(Jwt, MalformedTokensAreRefused) {
    const std::string good = hs256(hs_header, claims);
    for (const std::string& bad :
         {std::string(), std::string("abc"), std::string("a.b"), good + ".x", std::string("..."),
          part(hs_header) + ".%%%." + good.substr(good.rfind('.') + 1),  // not base64url
          part(hs_header) + "=." + part(claims) + ".sig",                 // padding
          part("not json") + "." + part(claims) + ".c2ln",
          part("[1]") + "." + part(claims) + ".c2ln",                     // header not an object
          part(R"({"typ":"JWT"})") + "." + part(claims) + ".c2ln",       // no alg
          part(R"({"alg":"HS256","crit":["exp"]})") + "." + part(claims) + ".c2ln",
          std::string(jwt_verifier::max_token + 1, 'a')})
        EXPECT_EQ(check(secret_keys(), bad), jwt_error::malformed) << bad.substr(0, 80);
    // Claims that are not JSON, correctly signed: malformed, after the signature.
    EXPECT_EQ(check(secret_keys(), hs256(hs_header, "not json")), jwt_error::malformed);
}

TEST(Jwt, Base64UrlHasOneSpelling) {
    EXPECT_EQ(base64url_decode("TWFu"), "Man");
    EXPECT_EQ(base64url_decode("TWE"), "Ma");
    EXPECT_EQ(base64url_decode("TQ"), "M");
    EXPECT_FALSE(base64url_decode("TR")) << "non-zero padding bits";
    EXPECT_FALSE(base64url_decode("T"));
    EXPECT_FALSE(base64url_decode("TQ=="));
    EXPECT_FALSE(base64url_decode("T+Q"));
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Jwt, KeysThatCannotServeAreRefusedAtLoad) {
    jwt_keys k;
    EXPECT_NE(k.load_public_key_pem("not a pem"), "");
    EVP_PKEY* weak = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, weak);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    EXPECT_NE(k.load_public_key_pem(std::string(data, static_cast<std::size_t>(n))), "");
    BIO_free(bio);
    EVP_PKEY_free(weak);
    EXPECT_TRUE(k.empty());
}

}  // namespace
}  // namespace wsring::proto
