// --redis URLs and the consistent-hash ring over the servers they name.
// The hash is ours (FNV-1a 64, then a splitmix64 finaliser to spread FNV's
// weak low bits): std::hash may differ between builds, and every node of a
// cluster, whatever binary it runs, must put a topic on the same server.
// Ties on the ring break by server name, so the map ignores argument order.
// Who connects to the servers: cluster/redis_link.hpp.
#include "cluster/shard_map.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace wsring::cluster {
namespace {

std::uint64_t stable_hash(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;  // FNV-1a 64 prime
    }
    // splitmix64's finaliser (Steele, Lea, Flood 2014)
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
}

std::optional<redis_address> fail(std::string& error, std::string why) {
    error = std::move(why);
    return std::nullopt;
}

}  // namespace

std::string redis_address::name() const {
    // An IPv6 literal keeps its brackets, or "::1:6379" would be ambiguous.
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<redis_address> parse_redis_url(std::string_view url, std::string& error) {
    constexpr std::string_view scheme = "redis://";
    if (url.starts_with("rediss://")) return fail(error, "rediss:// (TLS to Redis) is not supported; use redis://");
    if (!url.starts_with(scheme)) return fail(error, "expected redis://HOST[:PORT]");
    std::string_view rest = url.substr(scheme.size());
    // The authority ends at the path; only an empty path ("/") may follow.
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos) {
        if (slash + 1 != rest.size())
            return fail(error, "a path or database number (/N) is not supported: Redis database 0 only");
        rest = rest.substr(0, slash);
    }
    if (rest.find_first_of("?#") != std::string_view::npos)
        return fail(error, "query and fragment are not supported");
    if (rest.find('@') != std::string_view::npos)
        return fail(error, "user info (user:password@) is not supported");

    redis_address a;
    std::string_view port;
    if (rest.starts_with('[')) {  // RFC 3986 §3.2.2: an IPv6 literal in brackets
        const auto close = rest.find(']');
        if (close == std::string_view::npos) return fail(error, "missing ']' after the IPv6 address");
        a.host = std::string(rest.substr(1, close - 1));
        in6_addr v6{};
        if (a.host.empty() || ::inet_pton(AF_INET6, a.host.c_str(), &v6) != 1)
            return fail(error, "bad IPv6 address in brackets");
        rest.remove_prefix(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) return fail(error, "expected ':PORT' after ']'");
        port = rest.empty() ? rest : rest.substr(1);
        if (!rest.empty() && port.empty()) return fail(error, "empty port after ':'");
    } else {
        const auto colon = rest.find(':');
        a.host = std::string(rest.substr(0, colon));
        if (a.host.empty()) return fail(error, "empty host");
        if (!std::all_of(a.host.begin(), a.host.end(), is_host_char))
            return fail(error, "bad host name (letters, digits, '-', '.', '_'; IPv6 goes in [brackets])");
        if (colon != std::string_view::npos) {
            port = rest.substr(colon + 1);
            if (port.empty()) return fail(error, "empty port after ':'");
        }
    }
    if (!port.empty()) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535)
            return fail(error, "port must be a number from 1 to 65535");
        a.port = static_cast<std::uint16_t>(value);
    }
    return a;
}

shard_map::shard_map(std::vector<redis_address> servers, unsigned points) : servers_(std::move(servers)) {
    points = std::max(points, 1u);
    ring_.reserve(servers_.size() * points);
    std::vector<std::string> names;
    for (std::uint32_t s = 0; s < servers_.size(); ++s) {
        names.push_back(servers_[s].name());
        for (unsigned i = 0; i < points; ++i)
            ring_.push_back({stable_hash(names.back() + "#" + std::to_string(i)), s});
    }
    std::sort(ring_.begin(), ring_.end(), [&](const point& x, const point& y) {
        return x.hash != y.hash ? x.hash < y.hash : names[x.shard] < names[y.shard];
    });
}

std::size_t shard_map::shard_of(std::string_view topic) const {
    if (ring_.empty()) return 0;
    const std::uint64_t h = stable_hash(topic);
    auto it = std::lower_bound(ring_.begin(), ring_.end(), h,
                               [](const point& p, std::uint64_t v) { return p.hash < v; });
    return (it == ring_.end() ? ring_.front() : *it).shard;
}

}  // namespace wsring::cluster
