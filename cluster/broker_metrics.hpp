// The Redis bridge's metric families: whether each Redis takes publishes,
// how long a publish takes to be confirmed, and the bridge's totals.
#pragma once
#include "cluster/redis_broker.hpp"
#include "net/metrics.hpp"

namespace wsring::cluster {

// Any thread, while the broker exists.
void collect_broker_metrics(const redis_broker& b, net::metrics_text& out);

}  // namespace wsring::cluster
