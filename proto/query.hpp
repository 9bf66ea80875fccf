// One parameter of a request's query string (RFC 3986 §3.4), the way the
// server reads `since` (wsring.v1) and `token` (a browser's JWT: it cannot
// set an Authorization header on a WebSocket): "name=value&name=value",
// names and values percent-decoded (§2.1, either hex case; '+' stays '+':
// this is a URI query, not a form), a name without '=' has an empty value.
// Read next: wsring_v1.hpp (find_since), net/admission.hpp (the token).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace wsring::proto {

enum class query_status : std::uint8_t {
    absent,     // no parameter of that name
    ok,         // the decoded value is in the caller's string
    malformed,  // given twice (a proxy and we might pick different ones), or a bad escape
};

// The parameter `name` of `query` (without the '?'), decoded into `value`.
query_status find_query_param(std::string_view query, std::string_view name, std::string& value);

// Appends the percent-decoded `s` to `out`; false on a bad escape.
bool percent_decode(std::string_view s, std::string& out);

}  // namespace wsring::proto
