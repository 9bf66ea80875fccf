// HS256 tokens for tests (RFC 7515 §A.1's recipe with OpenSSL's HMAC):
// header {"alg":"HS256"}, the given claims JSON, signed with `secret`.
#pragma once
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <string_view>

#include "proto/jwt.hpp"

namespace wsring::net::test_tokens {

inline const std::string secret = "test-secret-of-at-least-thirty-two-bytes";

inline std::string hs256(std::string_view claims, std::string_view key = secret) {
    std::string input = proto::base64url_encode(R"({"alg":"HS256"})") + "." + proto::base64url_encode(claims);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return input + "." + proto::base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
}

}  // namespace wsring::net::test_tokens
