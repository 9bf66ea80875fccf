// One reactor's topic table: topic name → the local connections subscribed
// to it. Each reactor has its own (no locks, no sharing): a message in the
// broadcast ring carries its topic's name, and every reactor looks the name
// up here to find its own subscribers. A connection holds one topic, stored
// as a small index (connection::topic) plus its slot in that topic's list,
// so subscribe and unsubscribe are O(1) and no string lives in a connection.
// It owns names and lists; not what a message is (modes/broadcast_hub.hpp).
// Read next: modes/pubsub_handler.hpp.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/shared_buffer.hpp"

namespace wsring::net {
struct connection;
}  // namespace wsring::net

namespace wsring::modes {

using net::connection;

// "/chat/room42?x=1" → "chat/room42": the request path without its leading
// '/' and query (docs/broadcast-ring.md, "Topics"). "/" → "" (a topic like
// any other).
std::string_view topic_of_path(std::string_view path);

class topic_table {
public:
    static constexpr std::uint32_t none = 0xffffffffu;  // connection::topic when unsubscribed

    // Subscribes `c` (not subscribed yet) to `name`, creating the topic on
    // its first local subscriber. Returns the topic's index.
    std::uint32_t subscribe(connection& c, std::string_view name);
    // Removes `c` from its topic (no-op if it has none); a topic with no
    // local subscriber left is forgotten and its index reused.
    void unsubscribe(connection& c);

    // The index of `name`, or none when no local connection subscribes to it.
    std::uint32_t find(std::string_view name) const;
    // Valid until the next subscribe/unsubscribe.
    std::span<connection* const> subscribers(std::uint32_t t) const { return topics_[t].subs; }
    // The topic's name as a shared handle: a publisher puts it in the ring
    // entry without copying the characters.
    const core::shared_buffer& name(std::uint32_t t) const { return topics_[t].name; }

    std::size_t topics() const { return index_.size(); }  // topics with local subscribers

private:
    struct topic {
        core::shared_buffer name;      // empty once the topic is forgotten
        std::vector<connection*> subs;
    };
    // Transparent hashing: look up a string_view without building a string.
    struct name_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    std::unordered_map<std::string, std::uint32_t, name_hash, std::equal_to<>> index_;
    std::vector<topic> topics_;
    std::vector<std::uint32_t> free_;  // indices of forgotten topics
};

}  // namespace wsring::modes
