// ws-server's access options as given (file names, patterns) and the one
// place they become a net::access_policy: at start, and again on SIGHUP —
// reading the files anew, so a rotated key or an edited ACL takes effect
// without a restart. A file that cannot be read or parsed is an error; at
// a reload the old policy then stays in force.
// Read next: net/access_policy.hpp.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/access_policy.hpp"

namespace wsring::apps {

struct access_files {
    std::string jwt_secret, jwt_secret_file, jwt_public_key;
    std::string issuer, audience, acl;
    std::int64_t leeway_s = 0;
    std::vector<std::string> allowed_origins;
    bool require_origin = false;
};

// Combinations that cannot work ("--acl needs a JWT key"): "" or why.
std::string check(const access_files& f);

// The policy the files describe, or null with `why` set.
std::shared_ptr<const net::access_policy> load_access(const access_files& f, std::string& why);

// One line for the log: what is checked ("jwt=HS256+ES256 acl=3 roles origins=2").
std::string describe(const net::access_policy& p);

}  // namespace wsring::apps
