// Reading the publish API's answers (http_answer.hpp). RFC 9112 §4 (status
// line), §5 (field lines, via proto::parse_field_line), §6.3 (body length).
#include "apps/ws_bench/http_answer.hpp"

#include <charconv>

#include "proto/handshake.hpp"
#include "proto/wsring_v1.hpp"

namespace wsring::bench {

namespace {

constexpr std::string_view crlf = "\r\n";

// 1–19 decimal digits, nothing else (a Content-Length, an offset).
bool parse_digits(std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && end == s.data() + s.size();
}

// RFC 9112 §4: "HTTP/1.1 200 OK" (the reason phrase may be empty).
bool parse_status_line(std::string_view line, int& status) {
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return false;
    if (line[7] != '0' && line[7] != '1') return false;
    std::uint64_t code = 0;
    if (!parse_digits(line.substr(9, 3), code) || code < 100 || code > 599) return false;
    if (line.size() > 12 && line[12] != ' ') return false;
    status = static_cast<int>(code);
    return true;
}

// The fields we act on; Content-Length must be there, once (or repeated
// with the same value, RFC 9110 §8.6), and no Transfer-Encoding.
bool parse_fields(std::string_view lines, http_answer& out, std::uint64_t& length, std::string& why) {
    bool have_length = false;
    while (!lines.empty()) {
        std::size_t eol = lines.find(crlf);
        proto::http_header h;
        if (!proto::parse_field_line(lines.substr(0, eol), h))
            return why = "bad field line '" + std::string(lines.substr(0, eol)) + "'", false;
        lines.remove_prefix(eol + 2);
        if (proto::iequals(h.name, "Transfer-Encoding")) return why = "Transfer-Encoding in an answer (we need a length)", false;
        if (proto::iequals(h.name, "Connection")) out.close = out.close || proto::list_has_token(h.value, "close");
        if (proto::iequals(h.name, "Content-Type")) out.content_type = h.value;
        if (!proto::iequals(h.name, "Content-Length")) continue;
        std::uint64_t n = 0;
        if (!parse_digits(h.value, n) || (have_length && n != length))
            return why = "bad Content-Length '" + std::string(h.value) + "'", false;
        length = n;
        have_length = true;
    }
    if (!have_length) why = "no Content-Length: a keep-alive answer must say where it ends";
    return have_length;
}

}  // namespace

std::string publish_request_head(std::string_view host, std::string_view topic, std::string_view api_key, bool text,
                                 std::size_t body_size) {
    std::string r;
    r.append("POST /publish/").append(topic).append(" HTTP/1.1\r\nHost: ").append(host).append(crlf);
    if (!api_key.empty()) r.append("Authorization: apikey ").append(api_key).append(crlf);
    r.append(text ? "Content-Type: text/plain; charset=utf-8\r\n" : "Content-Type: application/octet-stream\r\n");
    r.append("Content-Length: ").append(std::to_string(body_size)).append("\r\n\r\n");
    return r;
}

answer_status parse_answer(std::span<const std::byte> in, http_answer& out, std::size_t& used, std::string& why) {
    std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
    std::size_t end = text.substr(0, max_answer_head).find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (text.size() < max_answer_head) return answer_status::need_more;
        why = "no end of the header block within " + std::to_string(max_answer_head) + " bytes";
        return answer_status::malformed;
    }
    out = http_answer{};
    std::size_t eol = text.find(crlf);
    if (!parse_status_line(text.substr(0, eol), out.status)) {
        why = "bad status line '" + std::string(text.substr(0, std::min<std::size_t>(eol, 80))) + "'";
        return answer_status::malformed;
    }
    std::uint64_t length = 0;
    std::string_view fields = eol == end ? std::string_view{} : text.substr(eol + 2, end - eol);
    if (!parse_fields(fields, out, length, why)) return answer_status::malformed;
    std::size_t head = end + 4;
    if (text.size() - head < length) return answer_status::need_more;
    out.body = text.substr(head, static_cast<std::size_t>(length));
    used = head + static_cast<std::size_t>(length);
    return answer_status::complete;
}

bool parse_publish_body(std::string_view body, std::string_view& epoch, std::uint64_t& offset) {
    constexpr std::string_view epoch_key = "\"epoch\":\"", offset_key = "\"offset\":";
    std::size_t e = body.find(epoch_key), o = body.find(offset_key);
    if (e == std::string_view::npos || o == std::string_view::npos) return false;
    std::string_view rest = body.substr(e + epoch_key.size());
    epoch = rest.substr(0, rest.find('"'));
    if (epoch.size() == rest.size() || !proto::v1::valid_epoch(epoch)) return false;
    rest = body.substr(o + offset_key.size());
    std::size_t digits = rest.find_first_not_of("0123456789");
    if (digits == std::string_view::npos || (rest[digits] != ',' && rest[digits] != '}')) return false;
    return parse_digits(rest.substr(0, digits), offset) && offset >= 1;
}

}  // namespace wsring::bench
