// ws-server's GET /metrics: which collectors run (the server's, the mode's,
// Redis', the per-address table's, the process'), and the --metrics-port
// listener — a second net::server of one epoll reactor that speaks plain
// HTTP only (no upgrades; /metrics and /healthz, 404 otherwise), so the
// scrape never runs on a WebSocket reactor and the port need not be public.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "apps/ws_server/options.hpp"
#include "cluster/redis_broker.hpp"
#include "modes/pubsub_handler.hpp"
#include "net/address_limits.hpp"
#include "net/metrics.hpp"
#include "net/server.hpp"

namespace wsring::apps {

// What there is to measure; null: that feature is off. Everything outlives
// the registry's last render (the listeners stop first).
struct metrics_sources {
    const net::server* server = nullptr;
    std::string mode;  // echo | broadcast | pubsub
    const std::vector<modes::pubsub_handler*>* fanout = nullptr;
    const modes::broadcast_hub* hub = nullptr;
    const cluster::redis_broker* broker = nullptr;
    const net::address_limits* per_address = nullptr;
};

// Before the servers start.
void add_collectors(net::metrics_registry& registry, const metrics_sources& s);

// --metrics-port: started here (throws std::runtime_error as server::start
// does, "cannot listen on ..."); null when the option is not given.
std::unique_ptr<net::server> start_metrics_listener(const cli& c, const net::metrics_registry& registry);

}  // namespace wsring::apps
