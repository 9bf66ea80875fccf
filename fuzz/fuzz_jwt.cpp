// Fuzzes the token reader (proto/jwt.*, proto/json.*), the one parser a
// client reaches before it has any rights. The first input byte picks:
//   even: the rest is a token, verified against an HS256 secret (whatever
//         it is: no crash, no leak, a verdict), and read as JSON;
//   odd:  the rest is "<header JSON>\n<claims JSON>", signed here with the
//         secret, so the claims checks run on hostile JSON; a token whose
//         header parses with alg HS256 must never come back bad_signature.
// Also checked on every input: base64url round-trips, and parse_json never
// accepts what its strict grammar forbids at the top level (trailing bytes).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/jwt.hpp"

using namespace wsring::proto;

#define CHECK(x) ((x) ? (void)0 : std::abort())

namespace {

const std::string secret = "fuzzing-secret-of-thirty-two-bytes!!";

const jwt_keys& hs_keys() {
    static jwt_keys k = [] {
        jwt_keys keys;
        keys.set_secret(secret);
        return keys;
    }();
    return k;
}

std::string hs256(std::string_view header, std::string_view claims) {
    std::string input = base64url_encode(header) + "." + base64url_encode(claims);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    const jwt_verifier v(hs_keys(), {.leeway_s = 5, .issuer = "iss", .audience = "aud"});
    jwt_claims claims;

    auto decoded = base64url_decode(base64url_encode(rest));
    CHECK(decoded && *decoded == rest);

    if (data[0] % 2 == 0) {
        (void)v.verify(rest, 1'800'000'000, claims);
        (void)parse_json(rest);
        return 0;
    }
    const auto nl = rest.find('\n');
    if (nl == std::string_view::npos) return 0;
    const std::string_view header = rest.substr(0, nl), body = rest.substr(nl + 1);
    const jwt_error e = v.verify(hs256(header, body), 1'800'000'000, claims);
    auto h = parse_json(header);
    const json_value* alg = h ? h->find("alg") : nullptr;
    if (alg && alg->is(json_value::kind::string) && alg->string == "HS256" && !h->find("crit"))
        CHECK(e != jwt_error::bad_signature && e != jwt_error::alg_not_allowed);
    if (e == jwt_error::none) CHECK(parse_json(body).has_value());
    return 0;
}
