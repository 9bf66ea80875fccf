// permessage-deflate negotiation (RFC 7692 §5, §7, §7.1) over the
// Sec-WebSocket-Extensions grammar of RFC 6455 §9.1. Three steps, each a
// small function: parse_list() turns header values into extension elements
// (names are views into the caller's strings, values unescaped copies);
// read_params() applies the rules every permessage-deflate element obeys,
// offer or response; answer() and accept_deflate_response() decide. Nothing
// here compresses: the caller sets up a deflater and an inflater with what
// was agreed.
// Read next: deflater.hpp, docs/deflate.md "Negotiation".
#include "proto/permessage_deflate.hpp"

#include <algorithm>
#include <vector>

#include "proto/handshake.hpp"  // iequals

namespace wsring::proto {

namespace {

constexpr std::string_view extension_name = "permessage-deflate";  // RFC 7692 §7

// RFC 9110 §5.6.2 tchar (the same set handshake.cpp checks header names with).
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

// One extension-param: the name as sent, the value unescaped.
struct ext_param {
    std::string_view name;
    bool has_value = false;
    std::string value;
};

struct ext_element {
    std::string_view name;
    std::vector<ext_param> params;
};

// A read position in one header value. Every step skips OWS first
// (RFC 9110 §5.6.3), so OWS is allowed around ";", "," and "=".
struct cursor {
    std::string_view rest;

    void skip_ows() {
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    }
    bool at_end() {
        skip_ows();
        return rest.empty();
    }
    bool eat(char c) {
        skip_ows();
        if (rest.empty() || rest.front() != c) return false;
        rest.remove_prefix(1);
        return true;
    }
    std::string_view token() {  // empty when no tchar is next
        skip_ows();
        std::size_t n = 0;
        while (n < rest.size() && is_tchar(rest[n])) ++n;
        const auto t = rest.substr(0, n);
        rest.remove_prefix(n);
        return t;
    }
    bool quoted_string(std::string& out);
};

// RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE,
// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text,
// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ). Called at the DQUOTE.
bool cursor::quoted_string(std::string& out) {
    rest.remove_prefix(1);
    while (!rest.empty()) {
        auto c = static_cast<unsigned char>(rest.front());
        rest.remove_prefix(1);
        if (c == '"') return true;
        if (c == '\\') {
            if (rest.empty()) return false;
            c = static_cast<unsigned char>(rest.front());
            rest.remove_prefix(1);
        }
        if (c != '\t' && (c < 0x20 || c == 0x7F)) return false;  // a control character
        out.push_back(static_cast<char>(c));
    }
    return false;  // no closing DQUOTE
}

// RFC 6455 §9.1: extension = extension-token *( ";" extension-param )
//                extension-param = token [ "=" (token | quoted-string) ]
bool parse_element(cursor& c, ext_element& e) {
    e.name = c.token();
    if (e.name.empty()) return false;
    while (c.eat(';')) {
        ext_param& p = e.params.emplace_back();
        p.name = c.token();
        if (p.name.empty()) return false;
        if (!c.eat('=')) continue;
        p.has_value = true;
        c.skip_ows();
        if (!c.rest.empty() && c.rest.front() == '"') {
            // §9.1: "the value after quoted-string unescaping MUST conform
            // to the 'token' ABNF" — a quoted value is that token.
            if (!c.quoted_string(p.value) || !is_token(p.value)) return false;
        } else {
            p.value = c.token();
            if (p.value.empty()) return false;
        }
    }
    return true;
}

// RFC 6455 §9.1: extension-list = 1#extension. Appends the elements of one
// header value to `out`; false when the value breaks the grammar. Empty
// elements are skipped (RFC 9110 §5.6.1), so "a, , b" and a blank line pass.
bool parse_list(std::string_view value, std::vector<ext_element>& out) {
    cursor c{value};
    while (!c.at_end()) {
        if (c.eat(',')) continue;
        if (!parse_element(c, out.emplace_back())) return false;
        if (!c.at_end() && !c.eat(',')) return false;  // junk after an element
    }
    return true;
}

// The four parameters of RFC 7692 §7.1, as one element carried them.
struct pmd_params {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    std::uint8_t server_max_window_bits = 0;  // 0: absent
    bool client_max_window_bits = false;      // present at all
    std::uint8_t client_max_window_bits_value = 0;  // 0: present without a value
};

// RFC 7692 §7.1.2.1, §7.1.2.2: "a decimal integer value without leading
// zeroes between 8 to 15, inclusive". 0 when `v` is not one.
std::uint8_t window_bits(std::string_view v) {
    if (v.empty() || v.size() > 2 || v.front() == '0') return 0;
    if (!std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) return 0;
    const int n = v.size() == 1 ? v[0] - '0' : (v[0] - '0') * 10 + (v[1] - '0');
    return (n >= 8 && n <= 15) ? static_cast<std::uint8_t>(n) : 0;
}

// The rules every permessage-deflate element obeys (RFC 7692 §7): a server
// declines an offer, and a client fails the connection on a response, that
// has an unknown parameter, a duplicate or an invalid value. The one
// difference: only an offer may carry client_max_window_bits without a
// value (§7.1.2.2). nullopt: the element breaks a rule.
std::optional<pmd_params> read_params(const ext_element& e, bool offer) {
    pmd_params r;
    bool seen[4] = {};
    for (const auto& p : e.params) {
        if (iequals(p.name, "server_no_context_takeover")) {  // §7.1.1.1: no value
            if (seen[0] || p.has_value) return std::nullopt;
            seen[0] = r.server_no_context_takeover = true;
        } else if (iequals(p.name, "client_no_context_takeover")) {  // §7.1.1.2: no value
            if (seen[1] || p.has_value) return std::nullopt;
            seen[1] = r.client_no_context_takeover = true;
        } else if (iequals(p.name, "server_max_window_bits")) {  // §7.1.2.1: value required
            if (seen[2] || !p.has_value) return std::nullopt;
            seen[2] = true;
            r.server_max_window_bits = window_bits(p.value);
            if (r.server_max_window_bits == 0) return std::nullopt;
        } else if (iequals(p.name, "client_max_window_bits")) {  // §7.1.2.2
            if (seen[3] || (!p.has_value && !offer)) return std::nullopt;
            seen[3] = r.client_max_window_bits = true;
            if (!p.has_value) continue;
            r.client_max_window_bits_value = window_bits(p.value);
            if (r.client_max_window_bits_value == 0) return std::nullopt;
        } else {
            return std::nullopt;  // §7: "an extension parameter not defined for use in an offer"
        }
    }
    return r;
}

// The server's answer to a valid offer `o`, or nullopt when we cannot
// honour it (§7: "The server doesn't support the offered configuration").
std::optional<deflate_params> answer(const pmd_params& o, const deflate_server_config& cfg) {
    // zlib has no raw 256-byte window (deflateInit2 refuses -8), so our
    // compressor's floor is 9; a config outside 9..15 is brought into it.
    const auto ours = std::clamp<std::uint8_t>(cfg.max_window_bits, 9, 15);
    if (o.server_max_window_bits == 8) return std::nullopt;
    deflate_params p;
    // §7.1.1.1: a server MAY name server_no_context_takeover unasked, and
    // MUST when the offer asked for it (that is how it accepts it).
    p.server_no_context_takeover = !cfg.context_takeover || o.server_no_context_takeover;
    // §7.1.1.2: a server MAY name client_no_context_takeover unasked. In
    // takeover mode we name it when the client offered it (a hint that it
    // resets anyway): naming it lets our inflater reset too.
    p.client_no_context_takeover = !cfg.context_takeover || o.client_no_context_takeover;
    // §7.1.2.1: the response names server_max_window_bits "with the same or
    // smaller value as the offer"; a server may also name it unasked, which
    // is how a config below 15 gets through to a client that asked nothing.
    p.server_max_window_bits = o.server_max_window_bits ? std::min(o.server_max_window_bits, ours) : ours;
    p.name_server_max_window_bits = o.server_max_window_bits != 0 || p.server_max_window_bits < 15;
    // §7.1.2.2: we never limit the client's window (our inflater reads any
    // window up to 15, and naming client_max_window_bits when the offer did
    // not is forbidden). A value the client volunteered is its own promise.
    if (o.client_max_window_bits_value) p.client_max_window_bits = o.client_max_window_bits_value;
    return p;
}

// The client's offer of server_max_window_bits: 0 (not asked) or 8..15.
std::uint8_t asked_server_bits(const deflate_client_config& cfg) {
    if (cfg.server_max_window_bits == 0) return 0;
    return std::clamp<std::uint8_t>(cfg.server_max_window_bits, 8, 15);
}

}  // namespace

std::optional<deflate_params> negotiate_deflate(std::span<const std::string_view> headers,
                                                const deflate_server_config& cfg) {
    // RFC 6455 §9.1: several header lines are one list, in order.
    std::vector<ext_element> list;
    for (const auto h : headers)
        if (!parse_list(h, list)) return std::nullopt;
    for (const auto& e : list) {
        if (!iequals(e.name, extension_name)) continue;  // another extension's offer
        // RFC 7692 §5: the offers are in the client's order of preference;
        // an invalid one is declined and the next one considered.
        const auto o = read_params(e, /*offer=*/true);
        if (!o) continue;
        if (auto p = answer(*o, cfg)) return p;
    }
    return std::nullopt;
}

std::string format_deflate_response(const deflate_params& p) {
    std::string r(extension_name);
    if (p.server_no_context_takeover) r += "; server_no_context_takeover";
    if (p.client_no_context_takeover) r += "; client_no_context_takeover";
    if (p.server_max_window_bits < 15 || p.name_server_max_window_bits)
        r += "; server_max_window_bits=" + std::to_string(p.server_max_window_bits);
    if (p.client_max_window_bits < 15)
        r += "; client_max_window_bits=" + std::to_string(p.client_max_window_bits);
    return r;
}

// ---- the client side -----------------------------------------------------------

std::string format_deflate_offer(const deflate_client_config& cfg) {
    std::string r(extension_name);
    if (cfg.request_server_no_context_takeover) r += "; server_no_context_takeover";
    if (cfg.offer_client_no_context_takeover) r += "; client_no_context_takeover";
    if (const auto bits = asked_server_bits(cfg)) r += "; server_max_window_bits=" + std::to_string(bits);
    if (cfg.offer_client_max_window_bits) r += "; client_max_window_bits";
    return r;
}

std::optional<deflate_params> accept_deflate_response(std::string_view header,
                                                      const deflate_client_config& cfg) {
    std::vector<ext_element> list;
    if (!parse_list(header, list)) return std::nullopt;  // RFC 6455 §9.1 grammar
    // RFC 6455 §4.1 item 5: an extension we did not offer fails the
    // connection; RFC 7692 §5: two permessage-deflate elements would both
    // own RSV1, and we offered one.
    if (list.size() != 1 || !iequals(list[0].name, extension_name)) return std::nullopt;
    const auto r = read_params(list[0], /*offer=*/false);
    if (!r) return std::nullopt;  // RFC 7692 §7: unknown, duplicate or invalid parameter
    // §7.1.1.1: a server accepts server_no_context_takeover by naming it.
    if (cfg.request_server_no_context_takeover && !r->server_no_context_takeover) return std::nullopt;
    // §7.1.2.1: ... and server_max_window_bits by naming it, "with the same
    // or smaller value"; unasked, any value is allowed.
    const auto asked = asked_server_bits(cfg);
    if (asked && (r->server_max_window_bits == 0 || r->server_max_window_bits > asked)) return std::nullopt;
    // §7.1.2.2: "the corresponding extension negotiation response to the
    // offer MUST NOT include" client_max_window_bits if the offer did not.
    if (r->client_max_window_bits && !cfg.offer_client_max_window_bits) return std::nullopt;
    // §7: "The client does not support the configuration that the response
    // represents": our compressor's floor is 9 (no raw 8-bit zlib window).
    if (r->client_max_window_bits_value == 8) return std::nullopt;

    deflate_params p;
    p.server_no_context_takeover = r->server_no_context_takeover;
    // §7.1.1.2: having offered client_no_context_takeover, we reset anyway.
    p.client_no_context_takeover = r->client_no_context_takeover || cfg.offer_client_no_context_takeover;
    if (r->server_max_window_bits) p.server_max_window_bits = r->server_max_window_bits;
    p.name_server_max_window_bits = r->server_max_window_bits != 0;
    if (r->client_max_window_bits_value) p.client_max_window_bits = r->client_max_window_bits_value;
    return p;
}

}  // namespace wsring::proto
