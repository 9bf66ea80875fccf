// topic_table: an index by name (only touched when a topic appears or goes
// away) in front of a vector of subscriber lists. Removal swaps the last
// subscriber into the leaver's slot and fixes that one's topic_pos.
#include "modes/topic_table.hpp"

#include <cassert>
#include <cstring>

#include "net/connection.hpp"

namespace wsring::modes {

std::string_view topic_of_path(std::string_view path) {
    if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    return path;
}

std::uint32_t topic_table::subscribe(connection& c, std::string_view name) {
    assert(c.topic == none);
    std::uint32_t t = find(name);
    if (t == none) {
        if (free_.empty()) {
            t = static_cast<std::uint32_t>(topics_.size());
            topics_.emplace_back();
        } else {
            t = free_.back();
            free_.pop_back();
        }
        topics_[t].name = core::shared_buffer::copy_of_text(name);
        index_.emplace(std::string(name), t);
    }
    auto& subs = topics_[t].subs;
    c.topic = t;
    c.topic_pos = static_cast<std::uint32_t>(subs.size());
    subs.push_back(&c);
    return t;
}

void topic_table::unsubscribe(connection& c) {
    if (c.topic == none) return;
    topic& tp = topics_[c.topic];
    assert(c.topic_pos < tp.subs.size() && tp.subs[c.topic_pos] == &c);
    connection* last = tp.subs.back();
    tp.subs[c.topic_pos] = last;
    last->topic_pos = c.topic_pos;
    tp.subs.pop_back();
    if (tp.subs.empty()) {
        index_.erase(index_.find(tp.name.text()));
        tp.name.reset();
        tp.subs.shrink_to_fit();  // a big room that emptied gives its memory back
        free_.push_back(c.topic);
    }
    c.topic = none;
    c.topic_pos = 0;
}

std::uint32_t topic_table::find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? none : it->second;
}

}  // namespace wsring::modes
