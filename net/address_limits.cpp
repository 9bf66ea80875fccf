#include "net/address_limits.hpp"

#include <arpa/inet.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

namespace wsring::net {

// ---- addresses -------------------------------------------------------------------

std::optional<ip_address> ip_address::parse(std::string_view text) {
    // Trim the spaces X-Forwarded-For puts after its commas; strip [] of an IPv6 literal.
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    char buf[INET6_ADDRSTRLEN];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    ip_address a;
    in_addr v4;
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        a.bytes[10] = a.bytes[11] = 0xff;
        std::memcpy(a.bytes.data() + 12, &v4, 4);
        return a;
    }
    if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) return a;
    return std::nullopt;
}

std::string ip_address::text() const {
    char buf[INET6_ADDRSTRLEN] = {};
    static constexpr std::uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes.data(), v4_prefix, 12) == 0) inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
    else inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

std::optional<ip_network> ip_network::parse(std::string_view text) {
    const auto slash = text.find('/');
    auto base = ip_address::parse(text.substr(0, slash));
    if (!base) return std::nullopt;
    const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
    ip_network n{*base, 128};
    if (slash == std::string_view::npos) return n;
    int bits = 0;
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        bits = bits * 10 + (c - '0');
    }
    if (bits > (v4 ? 32 : 128)) return std::nullopt;
    n.prefix = v4 ? 96 + bits : bits;
    return n;
}

bool ip_network::contains(const ip_address& a) const {
    int left = prefix;
    for (std::size_t i = 0; i < 16 && left > 0; ++i, left -= 8) {
        const std::uint8_t mask = left >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - left));
        if ((a.bytes[i] & mask) != (base.bytes[i] & mask)) return false;
    }
    return true;
}

ip_address client_address(const ip_address& peer, std::string_view forwarded_for,
                          const std::vector<ip_network>& trusted) {
    auto is_trusted = [&](const ip_address& a) {
        return std::any_of(trusted.begin(), trusted.end(), [&](const ip_network& n) { return n.contains(a); });
    };
    if (!is_trusted(peer)) return peer;  // anyone can write the header: only a proxy we trust is believed
    ip_address client = peer;
    // Right to left: each hop appends the address it received from.
    while (!forwarded_for.empty()) {
        const auto comma = forwarded_for.rfind(',');
        const std::string_view item =
            comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1);
        forwarded_for = comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
        auto a = ip_address::parse(item);
        if (!a) break;  // garbage: stop at the last address we could read
        client = *a;
        if (!is_trusted(client)) break;
    }
    return client;
}

// ---- the table -------------------------------------------------------------------

address_limits::address_limits(address_limits_options o)
    : o_(o), sets_(std::max<std::size_t>(o.sets, 1)) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(hash_key_.data()), sizeof hash_key_) != 1)
        hash_key_ = {0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full};
}

address_limits::set& address_limits::set_of(const ip_address& a) {
    // A keyed 64-bit mix (not cryptographic; the key keeps sets from being aimed at).
    std::uint64_t w[2];
    std::memcpy(w, a.bytes.data(), 16);
    std::uint64_t h = hash_key_[0];
    for (std::uint64_t x : w) {
        h ^= x + hash_key_[1];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
    }
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return sets_[h % sets_.size()];
}

address_limits::entry* address_limits::find_or_take(set& s, const ip_address& a, clock::time_point now) {
    entry* victim = nullptr;
    for (entry& e : s.e) {
        if (e.used && e.addr == a) return &e;
        if (!e.used) {
            if (!victim || victim->used) victim = &e;
        } else if (e.open == 0 && (!victim || (victim->used && e.seen < victim->seen))) {
            victim = &e;
        }
    }
    if (!victim) return nullptr;  // every way holds open connections
    *victim = entry{a, 0, true, std::max(1.0, o_.handshakes_per_s), now};
    return victim;
}

void address_limits::refill(entry& e, clock::time_point now) const {
    const double burst = std::max(1.0, o_.handshakes_per_s);
    const double dt = std::chrono::duration<double>(now - e.seen).count();
    if (dt > 0) e.tokens = std::min(burst, e.tokens + dt * o_.handshakes_per_s);
    e.seen = std::max(e.seen, now);
}

address_limits::verdict address_limits::attempt(const ip_address& a, clock::time_point now) {
    if (o_.handshakes_per_s <= 0) return verdict::ok;
    set& s = set_of(a);
    std::lock_guard lock(s.mu);
    entry* e = find_or_take(s, a, now);
    if (!e) return verdict::ok;
    refill(*e, now);
    if (e->tokens < 1.0) return verdict::too_fast;
    e->tokens -= 1.0;
    return verdict::ok;
}

address_limits::verdict address_limits::open(const ip_address& a, clock::time_point now, bool& tracked) {
    tracked = false;
    if (o_.max_connections_per_ip == 0) return verdict::ok;
    set& s = set_of(a);
    std::lock_guard lock(s.mu);
    entry* e = find_or_take(s, a, now);
    if (!e) {
        untracked_.fetch_add(1, std::memory_order_relaxed);
        return verdict::ok;
    }
    if (e->open >= o_.max_connections_per_ip) return verdict::too_many_connections;
    ++e->open;
    e->seen = std::max(e->seen, now);
    tracked = true;
    return verdict::ok;
}

void address_limits::release(const ip_address& a) {
    set& s = set_of(a);
    std::lock_guard lock(s.mu);
    for (entry& e : s.e)
        if (e.used && e.addr == a && e.open > 0) {
            --e.open;
            return;
        }
}

std::size_t address_limits::tracked() const {
    std::size_t n = 0;
    for (const set& s : sets_) {
        std::lock_guard lock(const_cast<std::mutex&>(s.mu));
        for (const entry& e : s.e) n += e.used;
    }
    return n;
}

std::uint64_t address_limits::untracked() const { return untracked_.load(std::memory_order_relaxed); }

}  // namespace wsring::net
