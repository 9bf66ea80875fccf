// Plain HTTP/1.1 requests with a body: the body's length from the header
// fields (RFC 9112 §6.1–§6.3, RFC 9110 §8.6), persistence (RFC 9112 §9.3)
// and the answer's bytes. Only Content-Length framing is read: any
// Transfer-Encoding earns a 501 (RFC 9112 §6.1), which also shuts the door on
// request smuggling through a Content-Length/Transfer-Encoding mismatch.
// Read next: net/session.cpp, "plain HTTP", which reads the body and answers.
#include "proto/http_body.hpp"

#include "proto/decimal.hpp"

namespace wsring::proto {

namespace {

std::string_view trim_ows(std::string_view s) {  // RFC 9110 §5.6.3: OWS = *( SP / HTAB )
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}


}  // namespace

body_framing request_body(const http_request& req) {
    // RFC 9112 §6.3 rule 3: Transfer-Encoding overrides Content-Length; we
    // decode no transfer coding, chunked included (§6.1: "SHOULD respond
    // with 501"), so the length is never up front.
    if (req.count("Transfer-Encoding") != 0) return {body_status::unsupported};
    // RFC 9110 §8.6: a list ("5, 5") or repeated fields may be accepted when
    // every member is identical; anything else is invalid (RFC 9112 §6.3
    // rule 5: "MUST respond with a 400"). Empty members are refused too: a
    // length is the one field where a lenient reading lets a request smuggle.
    std::string_view first;
    body_framing f;
    for (const auto& h : req.headers) {
        if (!iequals(h.name, "Content-Length")) continue;
        std::string_view list = h.value;
        while (true) {
            const auto comma = list.find(',');
            const auto member = trim_ows(list.substr(0, comma));
            if (first.empty()) {
                // RFC 9110 §8.6: 1*DIGIT
                if (!parse_decimal(member, f.length)) return {body_status::bad_length};
                first = member;
                f.status = body_status::length;
            } else if (member != first) {
                return {body_status::bad_length};
            }
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 1);
        }
    }
    return f;  // rule 7 when no field was seen: a request without either has no body
}

bool wants_keep_alive(const http_request& req) {
    // RFC 9112 §9.3, in its order: "close" wins; 1.1 and later persist;
    // 1.0 only with the "keep-alive" option (the HTTP/1.0 mechanism of
    // RFC 9112 Appendix C.2.2, which we honour: we are not a proxy).
    if (req.has_token("Connection", "close")) return false;
    if (req.version_minor >= 1) return true;
    return req.has_token("Connection", "keep-alive");
}

std::string http_answer_bytes(int status, std::string_view content_type, std::string_view body,
                              bool keep_alive, std::string_view extra_headers) {
    std::string r;
    r.reserve(128 + content_type.size() + extra_headers.size() + body.size());
    r.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason_phrase(status));
    r.append("\r\nContent-Type: ").append(content_type);
    // RFC 9112 §6.3 rule 6: with Content-Length the client knows where the
    // answer ends without waiting for the close, so the connection can go on.
    r.append("\r\nContent-Length: ").append(std::to_string(body.size()));
    r.append(keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n");
    r.append(extra_headers).append("\r\n").append(body);
    return r;
}

}  // namespace wsring::proto
