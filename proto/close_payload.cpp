// Close frame bodies, RFC 6455 §5.5.1 and §7.4: the status code ranges a
// peer may send, and the split of a body into code and reason.
#include "proto/close_payload.hpp"

#include "proto/utf8.hpp"

namespace wsring::proto {

bool is_valid_wire_close_code(std::uint16_t code) {
    // RFC 6455 §7.4.1: 1000-1003 and 1007-1011 are defined; 1004 is reserved,
    // and 1005, 1006, 1015 "MUST NOT be set as a status code" by an endpoint.
    if ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011)) return true;
    // RFC 6455 §11.7: 1012-1014 were registered with IANA later (restart,
    // try again later, bad gateway); Autobahn accepts them too.
    if (code >= 1012 && code <= 1014) return true;
    // RFC 6455 §7.4.2: 3000-3999 for libraries and frameworks, 4000-4999 private.
    return code >= 3000 && code <= 4999;
}

close_payload parse_close_payload(std::span<std::byte> body) {
    close_payload out;
    if (body.empty()) return out;  // RFC 6455 §7.1.5: "no status code was actually present"
    if (body.size() == 1) {        // RFC 6455 §5.5.1: a body starts with a 2-octet code
        out.err = error::close_payload_one_byte;
        return out;
    }
    auto code = static_cast<std::uint16_t>((static_cast<unsigned>(body[0]) << 8) |
                                           static_cast<unsigned>(body[1]));
    out.code = static_cast<close_code>(code);
    out.reason = body.subspan(2);
    if (!is_valid_wire_close_code(code)) {
        out.err = error::invalid_close_code;
    } else if (!is_valid_utf8(out.reason)) {  // RFC 6455 §5.5.1: the reason is UTF-8
        out.err = error::invalid_close_reason;
    }
    return out;
}

std::string_view cut_on_utf8_boundary(std::string_view reason, std::size_t limit) {
    if (reason.size() <= limit) return reason;
    std::size_t n = limit;
    // Back up over continuation octets (10xxxxxx) so the cut falls before a
    // lead octet: at most 3 steps for valid UTF-8.
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
    return reason.substr(0, n);
}

}  // namespace wsring::proto
