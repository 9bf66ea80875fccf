// The server's own metric families (connections, handshakes, messages,
// bytes, TLS), summed over its reactors while they run. The families of a
// mode (modes/fanout_metrics.hpp) and of Redis (cluster/) are their own.
#pragma once
#include "net/metrics.hpp"
#include "net/server.hpp"

namespace wsring::net {

// Any thread, once the server started (its reactor list is fixed then).
void collect_server_metrics(const server& s, metrics_text& out);

}  // namespace wsring::net
