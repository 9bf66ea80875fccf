// Who may open a WebSocket, decided during the upgrade (session::upgrade
// calls these in order, after the request passed RFC 6455 §4.2.1): the
// access policy (tokens, origins, roles: 401/403/400), the handshake rate
// per address (429) and the connections per address (503). Each refusal is
// counted, logged once (net/refusal_log.hpp) and answered; what an admitted
// connection keeps is a read-only flag, its token's expiry and its slot in
// the per-address table, released at finish().
// Read next: net/session.cpp (the lifecycle these sit in).
#include "net/session.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

#include "net/refusal_log.hpp"

namespace wsring::net {

// The access policy's verdict on an upgrade (net/access_policy.hpp): false
// after queuing its refusal (401, 403, 400). Admitted, what survives the
// handshake is two facts: whether it may publish, and when its token expires.
bool session::admit(connection& c, const proto::http_request& req) {
    if (!opts_.access) return true;
    const std::shared_ptr<const access_policy> policy = opts_.access->current();
    if (!policy || !policy->active()) return true;
    const std::int64_t now_ms = wall_now_ms(), now_s = now_ms / 1000;
    admission a = policy->admit(req, now_s);
    if (a.refused != access_refusal::none) {
        ++stats_.refused[static_cast<std::size_t>(a.refused)];
        log_refusal(static_cast<refusal_reason>(a.refused));
        deflate_.release(c);
        reject(c, a.response);
        return false;
    }
    if (!a.may_publish) c.flags |= sf_read_only;
    if (a.expires) {
        // RFC 7519 §4.1.4: not to be accepted on or after exp (+ leeway): the
        // connection it opened ends then too, with 1008, within a tick.
        // From the wall clock's milliseconds, not its whole seconds: a token
        // admitted at N.9 s must not live until exp + 0.9 s.
        const std::int64_t left_ms = (*a.expires + policy->config().jwt.leeway_s) * 1000 - now_ms;
        expiry_[&c] = t_.timers().now() + ticks(milliseconds(std::max<std::int64_t>(left_ms, 0)));
        c.flags |= sf_expires;
    }
    return true;
}

// --max-handshakes-per-ip-per-s: false after queuing a 429. Sets `client`
// (the address limits count against; unset when the limits are off).
bool session::within_rate(connection& c, const proto::http_request& req, std::optional<ip_address>& client) {
    if (!opts_.per_address || !opts_.per_address->active()) return true;
    ip_address peer;
    if (!t_.peer_address(c, peer)) return true;
    client = client_address(peer, req.header("X-Forwarded-For"), opts_.trusted_proxies);
    if (opts_.per_address->attempt(*client, std::chrono::steady_clock::now()) == address_limits::verdict::ok)
        return true;
    ++stats_.too_fast;
    log_refusal(refusal_reason::too_fast, client->text());
    deflate_.release(c);
    // RFC 6585 §4: Too Many Requests, with when to try again.
    reject(c, proto::http_response(429, "too many handshakes from this address\n", "Retry-After: 1\r\n"));
    return false;
}

// --max-connections-per-ip: false when the address is at its limit (the
// caller answers 503). On success the connection holds one of its slots
// until finish().
bool session::within_per_address(connection& c, const std::optional<ip_address>& client) {
    if (!client) return true;  // limits off, or the address unknown
    bool tracked = false;
    if (opts_.per_address->open(*client, std::chrono::steady_clock::now(), tracked) ==
        address_limits::verdict::too_many_connections) {
        ++stats_.too_many_per_ip;
        log_refusal(refusal_reason::too_many_per_ip, client->text());
        return false;
    }
    if (tracked) per_address_.emplace(&c, *client);  // released at finish()
    return true;
}

void session::release_address(connection& c) {
    auto it = per_address_.find(&c);
    if (it == per_address_.end()) return;
    opts_.per_address->release(it->second);
    per_address_.erase(it);
}

std::int64_t session::wall_now_ms() const {
    if (opts_.wall_clock) return opts_.wall_clock() * 1000;  // tests: whole seconds
    using namespace std::chrono;
    return duration_cast<std::chrono::milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace wsring::net
