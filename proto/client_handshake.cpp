// The client side of the opening handshake (RFC 6455 §4.1): building the
// request and checking the server's answer. It shares the header-block
// reader and field parser with the server side (handshake.cpp), so both
// directions accept exactly the same line syntax. Of the extensions answer
// it checks only the list's shape (RFC 6455 §9.1: one element, the one we
// offered); permessage_deflate.cpp judges that element's parameters.
// Read next: handshake.cpp for the rules the server applies to our request.
#include "proto/client_handshake.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdlib>

#include "proto/base64.hpp"

namespace wsring::proto {

// RFC 6455 §4.1: "a nonce consisting of a randomly selected 16-byte value
// that has been base64-encoded", chosen randomly for each connection.
std::string make_client_key() {
    std::array<std::byte, 16> nonce{};
    // A CSPRNG that cannot produce 16 bytes is not something to carry on from.
    if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) != 1)
        std::abort();
    return base64_encode(nonce);
}

// RFC 6455 §4.1, the request's required fields in the order §1.3 shows them.
std::string make_client_request(const client_request_options& opts, std::string_view key) {
    std::string r;
    r.reserve(256);
    r.append("GET ").append(opts.path.empty() ? "/" : opts.path).append(" HTTP/1.1\r\n");
    r.append("Host: ").append(opts.host).append("\r\n");
    r.append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
    r.append("Sec-WebSocket-Key: ").append(key).append("\r\n");
    r.append("Sec-WebSocket-Version: 13\r\n");
    if (!opts.subprotocols.empty()) {
        r.append("Sec-WebSocket-Protocol: ");
        for (std::size_t i = 0; i < opts.subprotocols.size(); ++i)
            r.append(i ? ", " : "").append(opts.subprotocols[i]);
        r.append("\r\n");
    }
    if (!opts.extensions.empty()) r.append("Sec-WebSocket-Extensions: ").append(opts.extensions).append("\r\n");
    if (!opts.origin.empty()) r.append("Origin: ").append(opts.origin).append("\r\n");
    for (const auto& line : opts.extra_headers) r.append(line).append("\r\n");
    r.append("\r\n");
    return r;
}

response_checker::response_checker(std::string key, std::vector<std::string> offered,
                                   std::size_t max_header_bytes,
                                   std::optional<deflate_client_config> deflate_offer)
    : expected_accept_(accept_key(key)),
      offered_(std::move(offered)),
      deflate_offer_(deflate_offer),
      reader_(max_header_bytes) {}

response_checker::status response_checker::feed(std::span<const std::byte> in, std::size_t& consumed) {
    consumed = 0;
    if (status_ != status::need_more) return status_;
    const auto block = reader_.feed(in, consumed);
    if (block == header_block_reader::status::complete) return status_ = check();
    // An answer that is not HTTP/1.1 101 can be refused as soon as its first
    // line is in (before the cap, so any split gives the same verdict).
    const auto first = reader_.first_line();
    if (http_status_ == 0 && !first.empty() && !parse_status_line(first)) return status_;
    if (block == header_block_reader::status::too_large) return fail("response header block too large");
    return status::need_more;
}

response_checker::status response_checker::fail(std::string why) {
    error_ = std::move(why);
    return status_ = status::rejected;
}

// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
// RFC 6455 §4.1: anything other than 101 means the handshake failed.
bool response_checker::parse_status_line(std::string_view line) {
    if (line.size() < 12 || line.substr(0, 9) != "HTTP/1.1 " || (line.size() > 12 && line[12] != ' ')) {
        fail("not an HTTP/1.1 status line");
        return false;
    }
    for (char c : line)  // RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text )
        if (c != '\t' && (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)) {
            fail("control character in status line");
            return false;
        }
    int code = 0;
    for (char c : line.substr(9, 3)) {
        if (c < '0' || c > '9') {
            fail("bad status code");
            return false;
        }
        code = code * 10 + (c - '0');
    }
    http_status_ = code;
    if (code != 101) {
        fail("server answered " + std::to_string(code) + " instead of 101");
        return false;
    }
    return true;
}

// RFC 6455 §4.1, the client's checks on the server's handshake, items 1-6.
response_checker::status response_checker::check() {
    auto rest = reader_.block();
    bool first = true, upgrade = false, connection = false;
    int accepts = 0, protocols = 0;
    std::string extensions;  // every Sec-WebSocket-Extensions line, joined (§9.1)
    while (true) {
        const auto nl = rest.find('\n');
        auto line = rest.substr(0, nl);
        rest.remove_prefix(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (first) {  // already checked when it arrived early: same verdict here
            if (!parse_status_line(line)) return status_;
            first = false;
            continue;
        }
        if (line.find('\r') != std::string_view::npos) return fail("bare CR in response");
        if (line.empty()) break;
        http_header h;
        if (!parse_field_line(line, h)) return fail("malformed header line");
        if (iequals(h.name, "Upgrade")) {
            upgrade = upgrade || iequals(h.value, "websocket");  // item 2
        } else if (iequals(h.name, "Connection")) {
            // item 3; a list such as "Upgrade, keep-alive" is allowed (RFC 9110 §7.6.1)
            connection = connection || list_has_token(h.value, "upgrade");
        } else if (iequals(h.name, "Sec-WebSocket-Accept")) {
            ++accepts;
            if (h.value != expected_accept_) return fail("Sec-WebSocket-Accept does not match the key");  // item 4
        } else if (iequals(h.name, "Sec-WebSocket-Extensions")) {
            extensions.append(extensions.empty() ? "" : ", ").append(h.value);
        } else if (iequals(h.name, "Sec-WebSocket-Protocol")) {
            ++protocols;
            protocol_ = std::string(h.value);
        }
    }
    if (!upgrade) return fail("Upgrade header missing or not websocket");
    if (!connection) return fail("Connection header missing or not upgrade");
    if (accepts != 1) return fail(accepts ? "more than one Sec-WebSocket-Accept" : "missing Sec-WebSocket-Accept");
    if (protocols > 1) return fail("more than one Sec-WebSocket-Protocol");
    // item 6: only a subprotocol we offered, one value (no list)
    if (protocols == 1 && std::find(offered_.begin(), offered_.end(), protocol_) == offered_.end())
        return fail("server chose a subprotocol we did not offer");
    if (check_extensions(extensions) == status::rejected) return status_;
    return status_ = status::accepted;
}

namespace {

// RFC 9110 §5.6.1: the non-empty elements of a comma-separated list, each
// without its surrounding OWS. A comma inside a quoted-string (§5.6.4, which
// §9.1's extension-param may use) does not separate elements.
std::vector<std::string_view> list_elements(std::string_view list) {
    std::vector<std::string_view> out;
    auto trim = [](std::string_view v) {
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        return v;
    };
    auto take = [&](std::size_t from, std::size_t to) {
        if (auto e = trim(list.substr(from, to - from)); !e.empty()) out.push_back(e);
    };
    std::size_t start = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (quoted && list[i] == '\\') {
            ++i;  // quoted-pair: the next octet is literal
        } else if (list[i] == '"') {
            quoted = !quoted;
        } else if (!quoted && list[i] == ',') {
            take(start, i);
            start = i + 1;
        }
    }
    take(start, list.size());
    return out;
}

}  // namespace

// RFC 6455 §4.1 item 5: an extension "that was not present in the client's
// handshake" fails the connection. We offer at most one, permessage-deflate,
// so the answer names it once or names nothing (the server declined).
response_checker::status response_checker::check_extensions(std::string_view list) {
    const auto elements = list_elements(list);
    if (elements.empty()) return status::accepted;
    for (auto e : elements) {
        auto name = e.substr(0, e.find(';'));
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        if (!deflate_offer_ || !iequals(name, "permessage-deflate"))
            return fail("server chose an extension we did not offer");
    }
    // RFC 7692 §5: two PMCEs would both claim RSV1; we offered one.
    if (elements.size() > 1) return fail("server chose permessage-deflate more than once");
    deflate_ = accept_deflate_response(elements.front(), *deflate_offer_);
    if (!deflate_) return fail("server's permessage-deflate parameters are not acceptable (RFC 7692 §7.1)");
    return status::accepted;
}

}  // namespace wsring::proto
