// Fuzzes wsring.v1 (proto/wsring_v1.*): the input is read as a position, a
// delivered message and a query string. Whatever parses writes back and
// parses again to the same epoch and offset (write_prefix → parse_message,
// the notices, a `since` rebuilt from it); a data message's payload is the
// input's own bytes after the first line; a `since` given twice is refused;
// a query "since=<no % or &>" agrees with parse_position on the rest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/wsring_v1.hpp"

using namespace wsring::proto::v1;

#define CHECK(x) ((x) ? (void)0 : std::abort())

namespace {

std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

// Writes (epoch, offset) as every form the server sends and reads each back.
void check_written(position p, std::span<const std::byte> payload) {
    CHECK(valid_epoch(p.epoch));
    std::vector<std::byte> msg(prefix_size(p.epoch, p.offset));
    CHECK(write_prefix(msg, p.epoch, p.offset) == msg.size());
    msg.insert(msg.end(), payload.begin(), payload.end());
    const auto m = parse_message(msg);
    // Offsets start at 1: a data message at 0 is malformed.
    CHECK(m.kind == (p.offset == 0 ? message_kind::malformed : message_kind::data));
    if (m.kind == message_kind::data)
        CHECK(m.pos.epoch == p.epoch && m.pos.offset == p.offset && m.data.size() == payload.size());
    const std::string pos_text = position_notice(p.epoch, p.offset);  // the views point into these
    const std::string unrec_text = unrecovered_notice(p.epoch, p.offset);
    const auto pn = parse_message(bytes_of(pos_text));
    CHECK(pn.kind == message_kind::position && pn.pos.epoch == p.epoch && pn.pos.offset == p.offset);
    const auto un = parse_message(bytes_of(unrec_text));
    CHECK(un.kind == message_kind::unrecovered && un.pos.epoch == p.epoch && un.pos.offset == p.offset);
    // The position as URLSearchParams sends it (':' as %3A), after a stranger.
    const std::string query = "x=%zz&since=" + std::string(p.epoch) + "%3A" + std::to_string(p.offset);
    std::string storage;
    position back;
    CHECK(find_since(query, storage, back) == since_status::ok);
    CHECK(back.epoch == p.epoch && back.offset == p.offset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    position p;
    if (parse_position(text, p)) check_written(p, in);

    const auto m = parse_message(in);
    if (m.kind == message_kind::data) {
        const auto nl = text.find('\n');
        CHECK(m.data.data() == in.data() + nl + 1 && m.data.size() == size - nl - 1);
        check_written(m.pos, m.data);
    } else if (m.kind == message_kind::error) {  // "!error <reason>": the reason runs to the end
        constexpr std::string_view tag = "!error ";
        CHECK(text.starts_with(tag) && m.data.data() == in.data() + tag.size() &&
              m.data.size() == size - tag.size());
    } else if (m.kind != message_kind::malformed) {
        CHECK(text.front() == '!' && m.data.empty());
        check_written(m.pos, {});
    }

    std::string storage;
    const auto s = find_since(text, storage, p);
    if (s == since_status::ok) {
        check_written(p, {});
        const std::string twice = std::string(text) + "&since=" + storage;
        CHECK(find_since(twice, storage, p) == since_status::malformed);  // ambiguous: refused
    }
    // Nothing to decode and one parameter: the value is parse_position's.
    if (text.starts_with("since=") && text.find_first_of("%&") == std::string_view::npos)
        CHECK((s == since_status::ok) == parse_position(text.substr(6), p));
    return 0;
}
