// The checks in the order that makes each answer precise and cheap: Origin
// (a string compare) before the token (a signature), the token before the
// roles. A token is never echoed, logged or kept: what survives the
// handshake is one bit (may publish) and an expiry time.
#include "net/access_policy.hpp"

#include "proto/handshake.hpp"
#include "proto/query.hpp"

namespace wsring::net {

std::string_view describe(access_refusal r) {
    switch (r) {
    case access_refusal::none: return "none";
    case access_refusal::origin: return "origin";
    case access_refusal::no_token: return "no_token";
    case access_refusal::bad_token: return "bad_token";
    case access_refusal::expired_token: return "expired_token";
    case access_refusal::forbidden: return "forbidden";
    case access_refusal::token_twice: return "token_twice";
    }
    return "unknown";
}

std::string_view topic_of(std::string_view path) {
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    return path;
}

namespace {

bool iequal_prefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if ((s[i] | 0x20) != (prefix[i] | 0x20)) return false;
    return true;
}

admission refuse(access_refusal why, int status, std::string_view body, std::string_view headers = {}) {
    admission a;
    a.refused = why;
    a.may_publish = false;
    a.response = proto::http_response(status, body, headers);
    return a;
}

// RFC 6750 §3: a 401 names the scheme; with a token that failed, also the error.
admission unauthorized(access_refusal why, std::string_view body) {
    const bool presented = why != access_refusal::no_token;
    return refuse(why, 401, body,
                  presented ? "WWW-Authenticate: Bearer realm=\"wsring\", error=\"invalid_token\"\r\n"
                            : "WWW-Authenticate: Bearer realm=\"wsring\"\r\n");
}

}  // namespace

bool access_policy::origin_allowed(std::string_view origin) const {
    if (origin.empty()) return !cfg_.require_origin;  // not a browser (RFC 6455 §10.2)
    if (cfg_.allowed_origins.empty()) return true;
    // RFC 6454 §6.2: browsers serialize the origin in lower case; patterns
    // are written by operators, so compare without case.
    std::string lower(origin);
    for (char& ch : lower) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    for (const std::string& p : cfg_.allowed_origins) {
        std::string lp(p);
        for (char& ch : lp) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        if (wildcard_match(lp, lower)) return true;
    }
    return false;
}

admission access_policy::admit(const proto::http_request& req, std::int64_t now_s) const {
    if (!origin_allowed(req.header("Origin")))
        return refuse(access_refusal::origin, 403, "origin not allowed\n");
    if (cfg_.keys.empty()) return {};

    // RFC 6750 §2.1 (header, scheme case-insensitive) and §2.3 (query).
    std::string_view token;
    const std::string_view auth = req.header("Authorization");
    const bool in_header = iequal_prefix(auth, "Bearer ");
    if (in_header) token = auth.substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    std::string from_query;
    switch (proto::find_query_param(req.query, "token", from_query)) {
    case proto::query_status::absent: break;
    case proto::query_status::malformed: return unauthorized(access_refusal::bad_token, "malformed token parameter\n");
    case proto::query_status::ok:
        if (in_header) return refuse(access_refusal::token_twice, 400, "token given twice (header and query)\n");
        token = from_query;
        break;
    }
    if (token.empty()) return unauthorized(access_refusal::no_token, "a bearer token is required\n");

    proto::jwt_claims claims;
    switch (verifier_.verify(token, now_s, claims)) {
    case proto::jwt_error::none: break;
    case proto::jwt_error::expired:
    case proto::jwt_error::not_yet_valid: return unauthorized(access_refusal::expired_token, "token expired or not yet valid\n");
    default: return unauthorized(access_refusal::bad_token, "invalid token\n");
    }
    admission a;
    a.expires = claims.exp;
    a.subject = std::move(claims.subject);
    if (cfg_.rules) {
        const topic_rights r = cfg_.rules->rights(claims.roles, topic_of(req.path));
        if (!r.subscribe) return refuse(access_refusal::forbidden, 403, "not allowed to subscribe to this topic\n");
        a.may_publish = r.publish;
    }
    return a;
}

}  // namespace wsring::net
