// The server side of the opening handshake (RFC 6455 §4.2): collecting the
// header block, parsing it as an HTTP/1.1 request (RFC 9112 §3, §5), the
// §4.2.1 checks, the accept key (§4.2.2) and the responses. No socket and
// no exception here; the only allocations are the header buffer (grown
// geometrically up to the cap), the header list and the response string.
// Read next: client_handshake.cpp, then decoder.hpp for what follows a 101.
#include "proto/handshake.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "proto/base64.hpp"
#include "proto/http_body.hpp"

namespace wsring::proto {

namespace {

constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 §1.3

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
// "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. A table: every header
// name goes through it (a third of a handshake's parse went to these
// per-character checks, called through a function pointer).
constexpr std::array<bool, 256> tchar_table = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c)
        t[static_cast<std::size_t>(c)] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                         (c >= '0' && c <= '9') ||
                                         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                             std::string_view::npos;
    return t;
}();

bool is_token(std::string_view s) {
    bool all = !s.empty();
    for (char c : s) all &= tchar_table[static_cast<unsigned char>(c)];
    return all;
}

// RFC 9110 §5.5: field-value octets are VCHAR, SP, HTAB or obs-text (0x80+);
// every other control character (NUL, CR, LF, DEL, ...) is invalid. No early
// exit, so the loop vectorises: values are short, and valid ones are read whole anyway.
bool is_field_value(std::string_view s) {
    bool bad = false;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        bad |= (u < 0x20 && u != '\t') | (u == 0x7F);
    }
    return !bad;
}

std::string_view trim_ows(std::string_view s) {  // RFC 9110 §5.6.3: OWS = *( SP / HTAB )
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Calls f(element) for each non-empty element of a comma-separated list
// (RFC 9110 §5.6.1: recipients accept and ignore empty elements); stops and
// returns true as soon as f does.
template <class F>
bool any_list_element(std::string_view list, F f) {
    while (true) {
        const auto comma = list.find(',');
        const auto element = trim_ows(list.substr(0, comma));
        if (!element.empty() && f(element)) return true;
        if (comma == std::string_view::npos) return false;
        list.remove_prefix(comma + 1);
    }
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool list_has_token(std::string_view list, std::string_view token) {
    return any_list_element(list, [&](std::string_view e) { return iequals(e, token); });
}

// SHA-1, fetched from OpenSSL's provider once per process, and a digest
// context per thread. EVP_Digest(…, EVP_sha1(), …) fetches the algorithm
// and allocates a context on every call (OpenSSL 3): 359 ns of a 1.4 µs
// handshake went to one 60-byte digest (bench/bench_handshake.cpp).
const EVP_MD* sha1() {
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    return md;
}

struct digest_context {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~digest_context() { EVP_MD_CTX_free(ctx); }
};

// RFC 6455 §4.2.2 item 5.4: SHA-1 of the key (as sent, not decoded) with the
// GUID appended, base64-encoded.
std::string accept_key(std::string_view sec_websocket_key) {
    thread_local digest_context d;
    std::array<std::byte, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    const EVP_MD* md = sha1();
    if (!md || !d.ctx || !EVP_DigestInit_ex2(d.ctx, md, nullptr) ||
        !EVP_DigestUpdate(d.ctx, sec_websocket_key.data(), sec_websocket_key.size()) ||
        !EVP_DigestUpdate(d.ctx, websocket_guid.data(), websocket_guid.size()) ||
        !EVP_DigestFinal_ex(d.ctx, reinterpret_cast<unsigned char*>(digest.data()), &length))
        length = 0;  // an OpenSSL without SHA-1: as EVP_Digest did, an empty key no client accepts
    return base64_encode(std::span(digest.data(), length));
}

// ---- the header block -------------------------------------------------------

char header_block_reader::at(std::size_t pos, std::span<const std::byte> in) const {
    return pos < buf_.size() ? buf_[pos] : static_cast<char>(in[pos - buf_.size()]);
}

void header_block_reader::append(std::span<const std::byte> in, std::size_t n) {
    const std::size_t needed = buf_.size() + n;
    if (needed > buf_.capacity())  // grow geometrically, but never past the cap
        buf_.reserve(std::min(max_bytes_, std::max({needed, 2 * buf_.capacity(), std::size_t{256}})));
    buf_.append(reinterpret_cast<const char*>(in.data()), n);
}

header_block_reader::status header_block_reader::feed(std::span<const std::byte> in,
                                                      std::size_t& consumed) {
    consumed = 0;
    if (complete_) return status::complete;
    const std::size_t take = std::min(in.size(), max_bytes_ - buf_.size());
    const char* p = reinterpret_cast<const char*>(in.data());
    std::size_t i = 0;
    // Look only at the new bytes; `line_start_` remembers where the current
    // line began, so a block fed one byte at a time is still scanned once.
    while (i < take) {
        const void* nl = std::memchr(p + i, '\n', take - i);
        if (nl == nullptr) break;
        const std::size_t j = static_cast<std::size_t>(static_cast<const char*>(nl) - p);
        const std::size_t end = buf_.size() + j;  // the '\n' as an offset in the block
        const std::size_t length = end - line_start_;
        const bool empty = length == 0 || (length == 1 && at(line_start_, in) == '\r');
        const bool first = line_start_ == skipped_;
        line_start_ = end + 1;
        i = j + 1;
        if (empty && first) {
            skipped_ = line_start_;  // RFC 9112 §2.2: ignore empty lines before the start line
        } else if (empty) {
            append(in, i);
            consumed = i;
            complete_ = true;
            return status::complete;
        } else if (first_end_ == 0) {
            first_end_ = end - (at(end - 1, in) == '\r' ? 1 : 0);
        }
    }
    append(in, take);
    consumed = take;
    return take < in.size() ? status::too_large : status::need_more;
}

std::string_view header_block_reader::block() const {
    return std::string_view(buf_).substr(skipped_);
}

std::string_view header_block_reader::first_line() const {
    if (first_end_ == 0) return {};
    return std::string_view(buf_).substr(skipped_, first_end_ - skipped_);
}

void header_block_reader::reset() {
    buf_ = std::string();
    line_start_ = skipped_ = first_end_ = 0;
    complete_ = false;
}

bool parse_field_line(std::string_view line, http_header& out) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    // A token name directly followed by ':' — this one check rejects obs-fold
    // (a line starting with SP/HTAB, RFC 9112 §5.2) and whitespace before the
    // colon (RFC 9112 §5.1: "MUST respond with a 400").
    const auto name = line.substr(0, colon);
    if (!is_token(name)) return false;
    const auto value = line.substr(colon + 1);
    if (!is_field_value(value)) return false;
    out = {name, trim_ows(value)};
    return true;
}

// ---- the request --------------------------------------------------------------

std::string_view http_request::header(std::string_view name) const {
    for (const auto& h : headers)
        if (iequals(h.name, name)) return h.value;
    return {};
}

std::size_t http_request::count(std::string_view name) const {
    return static_cast<std::size_t>(std::count_if(
        headers.begin(), headers.end(), [&](const http_header& h) { return iequals(h.name, name); }));
}

bool http_request::has_token(std::string_view name, std::string_view token) const {
    return std::any_of(headers.begin(), headers.end(), [&](const http_header& h) {
        return iequals(h.name, name) && list_has_token(h.value, token);
    });
}

bool http_request::wants_websocket() const { return has_token("Upgrade", "websocket"); }

request_parser::request_parser(std::size_t max_header_bytes) : reader_(max_header_bytes) {}

request_parser::status request_parser::feed(std::span<const std::byte> in, std::size_t& consumed) {
    consumed = 0;
    if (status_ != status::need_more) return status_;  // sticky: one request per parser
    const auto block = reader_.feed(in, consumed);
    if (block == header_block_reader::status::complete) return status_ = parse();
    // Reject a bad request line (a TLS hello, a stray protocol) without
    // waiting for a blank line that may never come. Checked before the cap
    // too, so the verdict does not depend on how the bytes were split.
    const auto first = reader_.first_line();
    if (!line_checked_ && !first.empty()) {
        if (!parse_request_line(first)) return status_ = status::malformed;
        line_checked_ = true;
    }
    if (block == header_block_reader::status::too_large) return status_ = status::too_large;
    return status::need_more;
}

// RFC 9112 §3: request-line = method SP request-target SP HTTP-version,
// with exactly one SP between the parts.
bool request_parser::parse_request_line(std::string_view line) {
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return false;
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return false;  // HTTP/0.9 style: no version
    const auto method = line.substr(0, sp1);
    const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto version = line.substr(sp2 + 1);
    if (!is_token(method) || target.empty()) return false;
    // The target is visible ASCII only: no whitespace, controls or raw 8-bit.
    for (char c : target)
        if (c <= 0x20 || c >= 0x7F) return false;
    // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT; we speak 1.x only.
    if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' || version[7] > '9')
        return false;
    request_.method = method;
    request_.target = target;
    const auto q = target.find('?');
    request_.path = target.substr(0, q);
    request_.query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    request_.version_minor = version[7] - '0';
    return true;
}

// Splits the complete block into lines (CRLF or LF) and parses each one.
request_parser::status request_parser::parse() {
    auto rest = reader_.block();
    bool first = true;
    request_.headers.clear();
    request_.headers.reserve(16);
    while (true) {
        const auto nl = rest.find('\n');
        auto line = rest.substr(0, nl);
        rest.remove_prefix(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        // RFC 9112 §2.2: a bare CR anywhere else is invalid.
        if (line.find('\r') != std::string_view::npos) return status::malformed;
        if (line.empty()) return status::complete;  // the blank line: the block's end
        http_header h;
        if (first ? !parse_request_line(line) : !parse_field_line(line, h)) return status::malformed;
        if (!first) request_.headers.push_back(h);
        first = false;
    }
}

void request_parser::reset() {
    reader_.reset();
    request_ = http_request{};
    status_ = status::need_more;
    line_checked_ = false;
}

// ---- validation and the answer ----------------------------------------------------

namespace {

handshake_result reject(error e) {
    handshake_result r;
    r.err = e;
    r.response = error_response(e);
    return r;
}

// The first subprotocol in server preference order that the client offered
// in any Sec-WebSocket-Protocol header: /subprotocol/ of RFC 6455 §4.2.2
// step 4, answered by item 5.5. Values are compared exactly: they are
// case-sensitive.
std::string_view choose_subprotocol(const http_request& req, const handshake_policy& policy) {
    for (const auto& wanted : policy.subprotocols) {
        std::string_view found;
        for (const auto& h : req.headers) {
            if (!iequals(h.name, "Sec-WebSocket-Protocol")) continue;
            any_list_element(h.value, [&](std::string_view e) {
                if (e == wanted) found = e;
                return !found.empty();
            });
            if (!found.empty()) return found;
        }
    }
    return {};
}

std::string switching_protocols(std::string_view key, std::string_view protocol,
                                std::string_view extensions) {
    std::string r;
    r.reserve(160);
    r += "HTTP/1.1 101 Switching Protocols\r\n"
         "Upgrade: websocket\r\n"
         "Connection: Upgrade\r\n"
         "Sec-WebSocket-Accept: ";
    r += accept_key(key);
    r += "\r\n";
    if (!protocol.empty()) r.append("Sec-WebSocket-Protocol: ").append(protocol).append("\r\n");
    if (!extensions.empty()) r.append("Sec-WebSocket-Extensions: ").append(extensions).append("\r\n");
    r += "\r\n";
    return r;
}

}  // namespace

// RFC 6455 §4.2.1, in the order a client most needs to hear about: the
// version before the key, so a client speaking an older draft (which sends
// other key headers) learns from the 426 which version to use.
handshake_result accept_upgrade(const http_request& req, const handshake_policy& policy,
                                std::string_view extensions) {
    if (req.method != "GET") return reject(error::bad_method);  // §4.2.1 item 1
    if (req.version_minor < 1)  // §4.2.1 item 1: "HTTP/1.1 or higher"
        return reject(error::bad_http_version);
    const auto hosts = req.count("Host");
    if (hosts == 0) return reject(error::no_host);         // §4.2.1 item 2
    if (hosts > 1) return reject(error::duplicate_host);   // RFC 9112 §3.2
    if (!req.has_token("Upgrade", "websocket"))            // §4.2.1 item 3
        return reject(error::no_upgrade_websocket);
    if (!req.has_token("Connection", "upgrade"))           // §4.2.1 item 4
        return reject(error::no_connection_upgrade);
    // §4.2.1 item 6, §4.4: a version we do not speak (or none) earns a 426
    // naming the one we do.
    const auto version = req.header("Sec-WebSocket-Version");
    if (req.count("Sec-WebSocket-Version") != 1 || version != "13")
        return reject(version.empty() ? error::no_sec_version : error::bad_sec_version);
    const auto keys = req.count("Sec-WebSocket-Key");      // §4.2.1 item 5
    if (keys == 0) return reject(error::no_sec_key);
    if (keys > 1) return reject(error::duplicate_sec_key);
    const auto key = req.header("Sec-WebSocket-Key");
    if (base64_decode(key) != 16) return reject(error::bad_sec_key);

    handshake_result r;
    r.protocol = choose_subprotocol(req, policy);
    r.response = switching_protocols(key, r.protocol, extensions);
    return r;
}

std::string error_response(error e) {
    std::string_view extra;
    if (e == error::bad_method) extra = "Allow: GET\r\n";  // RFC 9110 §15.5.6: 405 lists what is allowed
    if (http_status(e) == 426) extra = "Sec-WebSocket-Version: 13\r\n";  // RFC 6455 §4.4
    std::string body(describe(e));
    body += '\n';
    return http_response(http_status(e), body, extra);
}

std::string http_response(int status, std::string_view body, std::string_view extra_headers) {
    return http_answer_bytes(status, "text/plain; charset=utf-8", body, false, extra_headers);
}

std::string_view reason_phrase(int status) {
    switch (status) {  // RFC 9110 §15, RFC 6585 for 429 and 431
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";  // RFC 9110 §15.5.14 (was "Payload Too Large")
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

}  // namespace wsring::proto
