// Which Redis server holds a topic: --redis redis://HOST:PORT, given once
// per server, and a consistent hash over them (each server owns many points
// on a 64-bit ring; a topic goes to the first point at or after its hash),
// so adding a server moves about 1/N of the topics and every node computes
// the same map from the same set of addresses, whatever their order.
// Redis Cluster is not needed: this is how Centrifugo shards too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::cluster {

struct redis_address {
    std::string host;
    std::uint16_t port = 6379;
    std::string name() const;  // "host:port": the map's key, and what logs say
};

// "redis://HOST[:PORT][/]" (HOST may be [v6]). Anything else (user info, a
// database number, rediss://) → nullopt and `error` says why.
std::optional<redis_address> parse_redis_url(std::string_view url, std::string& error);

class shard_map {
public:
    // One entry per server; points per server: `points`.
    explicit shard_map(std::vector<redis_address> servers, unsigned points = 160);
    std::size_t size() const { return servers_.size(); }
    const redis_address& server(std::size_t i) const { return servers_[i]; }
    std::size_t shard_of(std::string_view topic) const;

private:
    struct point {
        std::uint64_t hash;
        std::uint32_t shard;
    };
    std::vector<redis_address> servers_;
    std::vector<point> ring_;  // sorted by hash
};

}  // namespace wsring::cluster
