// RFC 3986 §2.1 percent-decoding and §3.4's common name=value&... shape.
#include "proto/query.hpp"

namespace wsring::proto {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes the pct-encoded triplet at s[i] ('%' HEXDIG HEXDIG); false when
// it is cut short or not hex.
bool decode_triplet(std::string_view s, std::size_t i, char& out) {
    if (i + 2 >= s.size()) return false;
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out = static_cast<char>(hi * 16 + lo);
    return true;
}

// Whether the parameter name `s`, percent-decoded, is `want` (§6.2.2.2:
// "%73ince" and "since" are the same name). A name with a bad escape is
// someone else's parameter, not ours to judge.
bool name_is(std::string_view s, std::string_view want) {
    std::size_t j = 0;
    for (std::size_t i = 0; i < s.size(); ++i, ++j) {
        char c = s[i];
        if (c == '%') {
            if (!decode_triplet(s, i, c)) return false;
            i += 2;
        }
        if (j >= want.size() || c != want[j]) return false;
    }
    return j == want.size();
}

}  // namespace

bool percent_decode(std::string_view s, std::string& out) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (!decode_triplet(s, i, c)) return false;
            i += 2;
        }
        out += c;
    }
    return true;
}

query_status find_query_param(std::string_view query, std::string_view name, std::string& value) {
    std::string_view raw;
    bool found = false;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto param = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = param.find('=');
        if (!name_is(param.substr(0, eq), name)) continue;
        if (found) return query_status::malformed;
        found = true;
        raw = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
    }
    if (!found) return query_status::absent;
    value.clear();
    return percent_decode(raw, value) ? query_status::ok : query_status::malformed;
}

}  // namespace wsring::proto
