// Who may open a WebSocket here, decided from the upgrade request alone,
// before the 101 (issue 15; docs/auth.md): the browser's Origin against
// --allowed-origin (cross-site WebSocket hijacking: any page can open a
// socket to us with its user's cookies), then the bearer token (RFC 6750:
// `Authorization: Bearer`, or the `token` query parameter for browsers,
// which cannot set headers on a WebSocket) checked by proto/jwt, then the
// token's roles against the --acl for the topic the path names. The result
// says what to answer (401 with WWW-Authenticate, 403), or, admitted,
// whether the connection may publish and when its token expires.
// Immutable once built: a SIGHUP builds a new one and swaps it in.
// Read next: net/acl.hpp, proto/jwt.hpp; net/session_admission.cpp calls admit().
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/acl.hpp"
#include "proto/jwt.hpp"

namespace wsring::proto {
struct http_request;
}

namespace wsring::net {

struct access_config {
    proto::jwt_keys keys;                      // none: no token needed (and roles do not apply)
    proto::jwt_policy jwt{};                   // leeway, iss, aud
    std::optional<acl> rules{};                // none: a valid token may subscribe and publish anywhere
    std::vector<std::string> allowed_origins{};  // patterns ('*'); none: any Origin
    bool require_origin = false;               // refuse requests without Origin (non-browsers)
};

// Why an upgrade was refused: the label of wsring_handshakes_rejected_total.
enum class access_refusal : std::uint8_t {
    none,
    origin,          // 403: Origin matches no --allowed-origin (or missing with --require-origin)
    no_token,        // 401: a token is required and none came
    bad_token,       // 401: malformed, bad signature, alg not allowed, wrong iss/aud
    expired_token,   // 401: exp passed, or nbf not reached
    forbidden,       // 403: the token's roles may not subscribe to this topic
    token_twice,     // 400: both the header and the query carried a token (RFC 6750 §2)
};
inline constexpr std::size_t access_refusal_count = static_cast<std::size_t>(access_refusal::token_twice) + 1;
std::string_view describe(access_refusal r);

struct admission {
    access_refusal refused = access_refusal::none;
    std::string response{};          // the whole HTTP answer when refused
    bool may_publish = true;
    std::optional<std::int64_t> expires{};  // the token's exp (seconds since the epoch)
    std::string subject{};           // the token's sub, for logs
};

class access_policy {
public:
    explicit access_policy(access_config cfg) : cfg_(std::move(cfg)), verifier_(cfg_.keys, cfg_.jwt) {}
    access_policy(const access_policy&) = delete;
    access_policy& operator=(const access_policy&) = delete;

    // Whether anything is checked at all (no flags: every upgrade is admitted).
    bool active() const { return !cfg_.keys.empty() || !cfg_.allowed_origins.empty() || cfg_.require_origin; }
    bool needs_token() const { return !cfg_.keys.empty(); }

    // `now_s`: wall-clock seconds since the epoch (tokens carry wall time).
    admission admit(const proto::http_request& req, std::int64_t now_s) const;

    const access_config& config() const { return cfg_; }

private:
    bool origin_allowed(std::string_view origin) const;

    access_config cfg_;
    proto::jwt_verifier verifier_;  // refers to cfg_.keys
};

// The policy in force, replaced whole by a reload (SIGHUP) while reactors
// read it: a reactor takes a reference per upgrade, so a swap never waits
// for them and an upgrade under way finishes with the policy it started with.
class access_switch {
public:
    explicit access_switch(std::shared_ptr<const access_policy> p = {}) : p_(std::move(p)) {}
    std::shared_ptr<const access_policy> current() const { return p_.load(std::memory_order_acquire); }
    void replace(std::shared_ptr<const access_policy> p) { p_.store(std::move(p), std::memory_order_release); }

private:
    std::atomic<std::shared_ptr<const access_policy>> p_;
};

// The topic an upgrade's path names: the path without its leading '/' (the
// rule modes/topic_table uses).
std::string_view topic_of(std::string_view path);

}  // namespace wsring::net
