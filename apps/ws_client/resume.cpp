// The resume rules of ws-client (resume.hpp): a "!position" or
// "!unrecovered" notice places the cursor (docs/protocol-v1.md §4, §6), data
// moves it forward, and only data past it is delivered.
#include "apps/ws_client/resume.hpp"

#include "proto/wsring_v1.hpp"

namespace wsring::apps {

namespace v1 = proto::v1;

std::string resume_cursor::path_for(const std::string& path) const {
    if (!positioned_) return path;
    // ':' is allowed in a query as it is (RFC 3986 §3.4); find_since decodes %3A too.
    return path + (path.find('?') == std::string::npos ? "?" : "&") + "since=" + position_text();
}

resume_cursor::result resume_cursor::accept(std::span<const std::byte> message) {
    const v1::parsed_message m = v1::parse_message(message);
    result r;
    switch (m.kind) {
        case v1::message_kind::data:
            // Same epoch, not past us: the server resent what we printed.
            if (positioned_ && m.pos.epoch == epoch_ && m.pos.offset <= offset_) {
                r.what = verdict::duplicate;
                return r;
            }
            r.what = verdict::deliver;
            r.payload = m.data;
            break;
        case v1::message_kind::position:
            r.what = verdict::notice;
            break;
        case v1::message_kind::unrecovered:
            r.what = verdict::unrecovered;
            r.note = "!unrecovered " + std::string(m.pos.epoch) + ":" + std::to_string(m.pos.offset);
            break;
        case v1::message_kind::error:
            r.what = verdict::error;
            r.note = "!error " + std::string(reinterpret_cast<const char*>(m.data.data()), m.data.size());
            return r;
        case v1::message_kind::malformed:
            r.what = verdict::malformed;
            r.payload = message;
            return r;
    }
    positioned_ = true;
    epoch_ = m.pos.epoch;
    offset_ = m.pos.offset;
    return r;
}

}  // namespace wsring::apps
