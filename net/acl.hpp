// Who may do what on which topic: the --acl file (JSON) mapping each role to
// the topic patterns it may subscribe to and publish to, e.g.
//   {"roles": {"reader": {"subscribe": ["chat/*"], "publish": []},
//              "writer": {"subscribe": ["chat/*"], "publish": ["chat/*"]}}}
// A topic is the request path without its leading '/'. '*' in a pattern
// matches any run of characters, '/' included; there is no other wildcard
// and no escape. Rights are the union over a token's roles; a role the file
// does not name grants nothing. Loaded at start and on SIGHUP, then only
// read: matching allocates nothing.
// Read next: access_policy.hpp, which asks it at every upgrade.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace wsring::net {

// Whether `text` matches `pattern` ('*' = any run, possibly empty). Linear in
// practice: one backtrack point, the last '*' (the classic greedy glob).
bool wildcard_match(std::string_view pattern, std::string_view text);

struct topic_rights {
    bool subscribe = false;
    bool publish = false;
};

class acl {
public:
    // The file's text; "" or what is wrong (naming the role and field).
    std::string parse(std::string_view json);
    std::string load(const std::string& path);

    topic_rights rights(const std::vector<std::string>& roles, std::string_view topic) const;
    std::size_t role_count() const { return roles_.size(); }

private:
    struct role {
        std::string name;
        std::vector<std::string> subscribe, publish;
    };
    std::vector<role> roles_;
};

}  // namespace wsring::net
