// Broadcast and pub/sub's metric families: publishes, slow consumers, the
// ring, publish→delivery latency, topics, history and recovery — summed
// over the per-reactor handlers while they run (core::counter: no lock).
#pragma once
#include <vector>

#include "modes/broadcast_hub.hpp"
#include "modes/pubsub_handler.hpp"
#include "net/metrics.hpp"

namespace wsring::modes {

// Any thread, once the server started (the handler list is fixed then).
void collect_fanout_metrics(const std::vector<pubsub_handler*>& handlers, const broadcast_hub& hub,
                            net::metrics_text& out);

}  // namespace wsring::modes
