// The ACL file's shape is checked strictly: a typo ("publsh") would
// otherwise silently grant nothing, or worse, be read as something else.
#include "net/acl.hpp"

#include <fstream>
#include <sstream>

#include "proto/json.hpp"

namespace wsring::net {

bool wildcard_match(std::string_view pattern, std::string_view text) {
    std::size_t p = 0, t = 0;
    std::size_t star = std::string_view::npos, resume = 0;  // the last '*' and where its run ends
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p, ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;  // let the last '*' swallow one more character
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

namespace {

using proto::json_value;

std::string patterns(const json_value& role, std::string_view field, const std::string& name,
                     std::vector<std::string>& out) {
    const json_value* list = role.find(field);
    if (!list) return {};  // absent: no rights of that kind
    const std::string where = "role '" + name + "': \"" + std::string(field) + "\"";
    if (!list->is(json_value::kind::array)) return where + " must be an array of patterns";
    for (const json_value& p : list->items) {
        if (!p.is(json_value::kind::string)) return where + " holds a value that is not a string";
        out.push_back(p.string);
    }
    return {};
}

}  // namespace

std::string acl::parse(std::string_view json) {
    auto doc = proto::parse_json(json);
    if (!doc) return "not valid JSON";
    const json_value* roles = doc->find("roles");
    if (!doc->is(json_value::kind::object) || !roles || !roles->is(json_value::kind::object))
        return "expected {\"roles\": {\"<role>\": {\"subscribe\": [...], \"publish\": [...]}}}";
    for (const auto& m : doc->members)
        if (m.name != "roles") return "unknown field \"" + m.name + "\" (only \"roles\")";
    std::vector<role> parsed;
    for (const auto& m : roles->members) {
        if (!m.value.is(json_value::kind::object)) return "role '" + m.name + "' must be an object";
        for (const auto& f : m.value.members)
            if (f.name != "subscribe" && f.name != "publish")
                return "role '" + m.name + "': unknown field \"" + f.name + "\" (subscribe, publish)";
        role r{m.name, {}, {}};
        if (auto why = patterns(m.value, "subscribe", m.name, r.subscribe); !why.empty()) return why;
        if (auto why = patterns(m.value, "publish", m.name, r.publish); !why.empty()) return why;
        parsed.push_back(std::move(r));
    }
    roles_ = std::move(parsed);
    return {};
}

std::string acl::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "cannot read " + path;
    std::ostringstream text;
    text << in.rdbuf();
    std::string why = parse(text.str());
    return why.empty() ? why : path + ": " + why;
}

topic_rights acl::rights(const std::vector<std::string>& roles, std::string_view topic) const {
    topic_rights r;
    auto any = [&](const std::vector<std::string>& pats) {
        for (const std::string& p : pats)
            if (wildcard_match(p, topic)) return true;
        return false;
    };
    for (const std::string& name : roles)
        for (const role& entry : roles_) {
            if (entry.name != name) continue;
            r.subscribe = r.subscribe || any(entry.subscribe);
            r.publish = r.publish || any(entry.publish);
        }
    return r;
}

}  // namespace wsring::net
