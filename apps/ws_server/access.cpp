#include "apps/ws_server/access.hpp"

#include <fstream>
#include <sstream>

namespace wsring::apps {

std::string check(const access_files& f) {
    const bool key = !f.jwt_secret.empty() || !f.jwt_secret_file.empty() || !f.jwt_public_key.empty();
    if (!f.jwt_secret.empty() && !f.jwt_secret_file.empty()) return "--jwt-secret and --jwt-secret-file: give one";
    if (key) return {};
    if (!f.acl.empty()) return "--acl needs --jwt-secret, --jwt-secret-file or --jwt-public-key (roles come from tokens)";
    if (!f.issuer.empty() || !f.audience.empty() || f.leeway_s != 0)
        return "--jwt-issuer, --jwt-audience and --jwt-leeway need a JWT key";
    return {};
}

std::shared_ptr<const net::access_policy> load_access(const access_files& f, std::string& why) {
    net::access_config cfg;
    std::string secret = f.jwt_secret;
    if (!f.jwt_secret_file.empty()) {
        std::ifstream in(f.jwt_secret_file, std::ios::binary);
        std::ostringstream text;
        if (!in || !(text << in.rdbuf())) {
            why = "cannot read " + f.jwt_secret_file;
            return nullptr;
        }
        secret = text.str();
        if (!secret.empty() && secret.back() == '\n') secret.pop_back();
        if (!secret.empty() && secret.back() == '\r') secret.pop_back();
        if (secret.empty()) {
            why = f.jwt_secret_file + ": empty secret";
            return nullptr;
        }
    }
    if (!secret.empty()) cfg.keys.set_secret(std::move(secret));
    if (!f.jwt_public_key.empty()) {
        if (why = cfg.keys.load_public_key(f.jwt_public_key); !why.empty()) return nullptr;
    }
    cfg.jwt = {.leeway_s = f.leeway_s, .issuer = f.issuer, .audience = f.audience};
    if (!f.acl.empty()) {
        net::acl rules;
        if (why = rules.load(f.acl); !why.empty()) return nullptr;
        cfg.rules = std::move(rules);
    }
    cfg.allowed_origins = f.allowed_origins;
    cfg.require_origin = f.require_origin;
    return std::make_shared<const net::access_policy>(std::move(cfg));
}

std::string describe(const net::access_policy& p) {
    const net::access_config& c = p.config();
    std::string out;
    if (!c.keys.empty()) {
        out += "jwt=";
        std::string algs;
        if (c.keys.allows(proto::jwt_alg::hs256)) algs += "HS256";
        if (c.keys.allows(proto::jwt_alg::rs256)) algs += algs.empty() ? "RS256" : "+RS256";
        if (c.keys.allows(proto::jwt_alg::es256)) algs += algs.empty() ? "ES256" : "+ES256";
        out += algs;
        out += c.rules ? " acl=" + std::to_string(c.rules->role_count()) + " roles" : " acl=none (any valid token)";
    }
    if (!c.allowed_origins.empty() || c.require_origin) {
        if (!out.empty()) out += ' ';
        out += "origins=" + std::to_string(c.allowed_origins.size());
        if (c.require_origin) out += " (required)";
    }
    return out.empty() ? "open" : out;
}

}  // namespace wsring::apps
