// wsring.v1 on the wire (docs/protocol-v1.md): the epoch rule, positions
// "<epoch>:<offset>", the `since` query parameter (RFC 3986 §3.4, §2.1),
// the "<epoch>:<offset>\n" prefix of delivered messages and the '!'
// notices. Pure functions over caller-owned bytes: the prefix writer and
// the parsers never allocate; find_since decodes into the caller's string.
// Read next: modes/topic_log.hpp, which hands out the offsets written here.
#include "proto/wsring_v1.hpp"

#include "proto/decimal.hpp"
#include "proto/query.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace wsring::proto::v1 {

namespace {

// "18446744073709551615" (2^64 - 1) has 20 digits.
constexpr std::size_t max_offset_digits = 20;
// The longest first line of a data message, without its '\n'.
constexpr std::size_t max_prefix_line = max_epoch_size + 1 + max_offset_digits;

constexpr std::string_view position_tag = "!position ";
constexpr std::string_view unrecovered_tag = "!unrecovered ";
constexpr std::string_view error_tag = "!error ";

bool is_epoch_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

// 1–20 decimal digits that fit in 64 bits; no sign, no spaces.
bool parse_offset(std::string_view digits, std::uint64_t& out) {
    return digits.size() <= max_offset_digits && parse_decimal(digits, out);
}

// "<tag><epoch>:<offset>" exactly.
bool parse_notice(std::string_view text, std::string_view tag, position& out) {
    return text.substr(0, tag.size()) == tag && parse_position(text.substr(tag.size()), out);
}

}  // namespace

bool valid_epoch(std::string_view epoch) {
    return !epoch.empty() && epoch.size() <= max_epoch_size &&
           std::all_of(epoch.begin(), epoch.end(), is_epoch_char);
}

bool parse_position(std::string_view text, position& out) {
    // The first ':' ends the epoch; a second one lands in the offset and
    // fails there, as does any other non-digit.
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return false;
    const auto epoch = text.substr(0, colon);
    std::uint64_t offset = 0;
    if (!valid_epoch(epoch) || !parse_offset(text.substr(colon + 1), offset)) return false;
    out = {epoch, offset};
    return true;
}

since_status find_since(std::string_view query, std::string& storage, position& out) {
    switch (find_query_param(query, "since", storage)) {
    case query_status::absent: return since_status::absent;
    case query_status::malformed: return since_status::malformed;
    case query_status::ok: break;
    }
    return parse_position(storage, out) ? since_status::ok : since_status::malformed;
}

std::size_t prefix_size(std::string_view epoch, std::uint64_t offset) {
    std::size_t digits = 1;
    for (; offset >= 10; offset /= 10) ++digits;
    return epoch.size() + 1 + digits + 1;  // ':' and '\n'
}

std::size_t write_prefix(std::span<std::byte> out, std::string_view epoch, std::uint64_t offset) {
    const std::size_t n = prefix_size(epoch, offset);
    if (out.size() < n) return 0;  // the caller's contract; writing nothing beats overrunning
    char* p = reinterpret_cast<char*>(out.data());
    std::memcpy(p, epoch.data(), epoch.size());
    p += epoch.size();
    *p++ = ':';
    p = std::to_chars(p, p + max_offset_digits, offset).ptr;
    *p = '\n';
    return n;
}

std::string position_notice(std::string_view epoch, std::uint64_t offset) {
    return std::string(position_tag).append(epoch).append(":").append(std::to_string(offset));
}

std::string unrecovered_notice(std::string_view epoch, std::uint64_t offset) {
    return std::string(unrecovered_tag).append(epoch).append(":").append(std::to_string(offset));
}

std::string error_notice(std::string_view reason) {
    return std::string(error_tag).append(reason);
}

parsed_message parse_message(std::span<const std::byte> message) {
    const std::string_view text(reinterpret_cast<const char*>(message.data()), message.size());
    parsed_message m;
    if (!text.empty() && text.front() == '!') {  // a notice: no epoch starts with '!'
        if (parse_notice(text, position_tag, m.pos)) m.kind = message_kind::position;
        else if (parse_notice(text, unrecovered_tag, m.pos)) m.kind = message_kind::unrecovered;
        else if (text.starts_with(error_tag)) {
            m.kind = message_kind::error;
            m.data = message.subspan(error_tag.size());
        }
        return m;
    }
    // The first line is short: look for its '\n' only where it can be, so a
    // large payload is never scanned.
    const auto head = text.substr(0, max_prefix_line + 1);
    const auto nl = head.find('\n');
    if (nl == std::string_view::npos || !parse_position(text.substr(0, nl), m.pos)) return m;
    if (m.pos.offset == 0) return m;  // offsets start at 1: 0 means "before the first message"
    m.kind = message_kind::data;
    m.data = message.subspan(nl + 1);
    return m;
}

}  // namespace wsring::proto::v1
