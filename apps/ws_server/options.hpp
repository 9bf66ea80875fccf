// ws-server's command line: every option, its default, its parsing, and the
// --help text generated from the same table so the two cannot disagree.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/ws_server/access.hpp"
#include "cluster/shard_map.hpp"
#include "modes/pubsub_handler.hpp"
#include "net/log.hpp"
#include "net/server.hpp"

namespace wsring::apps {

struct cli {
    net::server_options server;
    modes::fanout_options fanout;  // broadcast and pubsub modes
    std::string mode = "echo";
    std::string backend = "uring";  // as asked (server.backend's default); the server may fall back
    std::string tls_cert, tls_key;  // PEM files: both or neither (wss://)
    std::vector<cluster::redis_address> redis;  // --redis, repeatable: multi-node through Redis
    std::string web;  // --web DIR: static files (the chat demo) on the same port
    access_files access;  // --jwt-*, --acl, --allowed-origin, --require-origin
    net::address_limits_options per_address;  // --max-connections-per-ip, --max-handshakes-per-ip-per-s
    net::log_format log_format = net::log_format::text;  // --log-format, --log-level: set at start
    net::log_level log_level = net::log_level::info;     // only (a reload does not change them)
    std::string config;  // --config FILE (read again on SIGHUP)
    // --metrics-port: GET /metrics there only (a plain HTTP listener on
    // --host); unset: on the WebSocket port.
    std::optional<std::uint16_t> metrics_port;
    bool help = false;
};

// Parses argv. On an error returns false with a one-line message in `error`
// ("--port: 70000 is out of range [0, 65535]"); the caller prints it and exits 2.
bool parse_cli(int argc, char** argv, cli& out, std::string& error);
std::string help_text();

}  // namespace wsring::apps
