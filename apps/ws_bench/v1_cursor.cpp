// v1_accept (v1_cursor.hpp): one comparison per delivery on the hot path;
// strings only when something is wrong.
#include "apps/ws_bench/v1_cursor.hpp"

#include "proto/wsring_v1.hpp"

namespace wsring::bench {

namespace {

namespace v1 = proto::v1;

std::string at(const v1_cursor& c) { return c.epoch + ":" + std::to_string(c.offset); }
std::string pos(const v1::position& p) { return std::string(p.epoch) + ":" + std::to_string(p.offset); }

// A "!position" notice: the first one places the cursor; one that repeats
// where we already stand (a ?since connection's confirmation) is harmless.
v1_verdict on_position(v1_cursor& c, const v1::position& p, std::string& why) {
    if (!c.positioned) {
        c.place(p.epoch, p.offset);
        return v1_verdict::notice;
    }
    if (p.epoch == c.epoch && p.offset == c.offset) return v1_verdict::notice;
    why = "!position " + pos(p) + " while at " + at(c);
    return p.epoch == c.epoch ? v1_verdict::malformed : v1_verdict::epoch_changed;
}

}  // namespace

v1_verdict v1_accept(v1_cursor& c, std::span<std::byte>& message, bool text, std::string& why) {
    v1::parsed_message m = v1::parse_message(message);
    bool notice = m.kind == v1::message_kind::position || m.kind == v1::message_kind::unrecovered;
    if (m.kind == v1::message_kind::error) {  // a publish refused (multi-node: its broker is down)
        why = std::string(reinterpret_cast<const char*>(m.data.data()), m.data.size());
        return v1_verdict::refused;
    }
    if (m.kind == v1::message_kind::malformed || (notice && !text)) {
        why = notice ? "a notice sent as a binary message" : "no \"<epoch>:<offset>\\n\" prefix, not a notice";
        return v1_verdict::malformed;
    }
    if (m.kind == v1::message_kind::position) return on_position(c, m.pos, why);
    if (m.kind == v1::message_kind::unrecovered) {
        why = "!unrecovered " + pos(m.pos) + (c.positioned ? " (asked since " + at(c) + ")" : "");
        return v1_verdict::unrecovered;
    }
    if (!c.positioned) {
        why = "data at " + pos(m.pos) + " before the !position notice";
        return v1_verdict::unpositioned;
    }
    if (m.pos.epoch != c.epoch) {
        why = "data at " + pos(m.pos) + " after " + at(c);
        return v1_verdict::epoch_changed;
    }
    if (m.pos.offset != c.offset + 1) {
        why = "offset " + std::to_string(m.pos.offset) + " after " + std::to_string(c.offset);
        return m.pos.offset > c.offset ? v1_verdict::gap : v1_verdict::repeat;
    }
    c.offset = m.pos.offset;
    message = message.last(m.data.size());  // the published bytes run to the end
    return v1_verdict::data;
}

}  // namespace wsring::bench
