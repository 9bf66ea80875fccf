// Per-address limits (issue 15): how many WebSockets one client address may
// hold open (--max-connections-per-ip, 503 beyond it) and how fast it may
// attempt handshakes (--max-handshakes-per-ip-per-s, a token bucket, 429
// beyond it). One table for every reactor, since SO_REUSEPORT spreads one
// address's connections over all of them.
//
// The table must not grow with an attacker's address space: it is a fixed
// array of small sets (8 ways each) indexed by a keyed hash of the address.
// A new address takes a free way, else the least recently seen way holding
// no open connection; if every way of its set holds open connections the
// address is not tracked (admitted, counted as untracked) — with more
// distinct connected addresses than the table has ways, per-address limits
// are not what protects the server. One lock per set: O(1) per accept, and
// two reactors only contend when their addresses share a set.
//
// Behind a proxy every peer is the proxy: X-Forwarded-For is believed only
// from peers in --trusted-proxy, and then the client is the rightmost
// address in it that is not itself a trusted proxy (what nginx's
// real_ip_recursive does); a spoofed left part cannot pick the key.
// Read next: net/session_admission.cpp (within_rate, within_per_address), docs/auth.md.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::net {

// An IPv4 or IPv6 address as 16 bytes (IPv4 as ::ffff:a.b.c.d, RFC 4291 §2.5.5.2).
struct ip_address {
    std::array<std::uint8_t, 16> bytes{};
    static std::optional<ip_address> parse(std::string_view text);
    std::string text() const;
    bool operator==(const ip_address&) const = default;
};

// An address block, "10.0.0.0/8", "::1" (a single address: the whole prefix).
struct ip_network {
    ip_address base;
    int prefix = 128;  // in the 16-byte form (IPv4 /8 is /104 here)
    static std::optional<ip_network> parse(std::string_view text);
    bool contains(const ip_address& a) const;
};

// The client a request came from: `peer`, or, when `peer` is a trusted
// proxy, the rightmost untrusted address of the X-Forwarded-For value(s).
ip_address client_address(const ip_address& peer, std::string_view forwarded_for,
                          const std::vector<ip_network>& trusted);

struct address_limits_options {
    std::uint32_t max_connections_per_ip = 0;  // 0: no limit
    double handshakes_per_s = 0;               // 0: no limit; bucket depth = max(1, rate)
    std::size_t sets = 16384;                  // × 8 ways: 131072 addresses tracked at most
};

class address_limits {
public:
    using clock = std::chrono::steady_clock;
    enum class verdict : std::uint8_t { ok, too_many_connections, too_fast };

    explicit address_limits(address_limits_options o);
    bool active() const { return o_.max_connections_per_ip != 0 || o_.handshakes_per_s > 0; }

    // A handshake attempt from `a` at `now`: ok (one token spent), or too_fast.
    verdict attempt(const ip_address& a, clock::time_point now);
    // A WebSocket from `a` is about to open: ok (counted: release() later),
    // or too_many_connections. `tracked` says whether release() is owed.
    verdict open(const ip_address& a, clock::time_point now, bool& tracked);
    void release(const ip_address& a);

    std::size_t capacity() const { return sets_.size() * ways; }
    std::size_t tracked() const;           // addresses in the table now
    std::uint64_t untracked() const;       // opens that found their set full of open connections

private:
    static constexpr std::size_t ways = 8;
    struct entry {
        ip_address addr;
        std::uint32_t open = 0;
        bool used = false;
        double tokens = 0;
        clock::time_point seen{};
    };
    struct alignas(64) set {
        std::mutex mu;
        std::array<entry, ways> e;
    };
    set& set_of(const ip_address& a);
    entry* find_or_take(set& s, const ip_address& a, clock::time_point now);  // under s.mu
    void refill(entry& e, clock::time_point now) const;

    address_limits_options o_;
    std::vector<set> sets_;
    std::array<std::uint64_t, 2> hash_key_;  // random per process: sets cannot be aimed at
    std::atomic<std::uint64_t> untracked_{0};
};

}  // namespace wsring::net
