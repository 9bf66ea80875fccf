// A small, strict JSON reader (RFC 8259) for the few documents a server reads
// from outside: a token's header and claims (proto/jwt.hpp) and the ACL file.
// Not a general-purpose library: a whole document in, a tree out, or nothing.
// Strict where laxness is a hole: duplicate member names are refused
// (RFC 7515 §5.2 allows "reject" and a token must not mean two things),
// strings must be UTF-8 and escapes well-formed (a lone surrogate is an
// error), nesting is capped (a peer's "[[[[..." must not exhaust the stack).
// Read next: jwt.hpp.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::proto {

struct json_member;

struct json_value {
    enum class kind : std::uint8_t { null, boolean, number, string, array, object };

    kind type = kind::null;
    bool boolean = false;
    double number = 0;
    std::string string;                                      // decoded, UTF-8
    std::vector<json_value> items;                           // array
    std::vector<json_member> members;                         // object, in document order

    bool is(kind k) const { return type == k; }
    // An object's member, or null when absent (or when this is not an object).
    const json_value* find(std::string_view name) const;
};

struct json_member {
    std::string name;
    json_value value;
};

inline constexpr int json_max_depth = 32;

// The document in `text` (surrounding whitespace allowed), or nullopt if it
// is not exactly one valid JSON value. `max_depth` bounds arrays/objects nested.
std::optional<json_value> parse_json(std::string_view text, int max_depth = json_max_depth);

}  // namespace wsring::proto
