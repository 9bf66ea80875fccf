#include "apps/ws_server/metrics.hpp"

#include "cluster/broker_metrics.hpp"
#include "modes/fanout_metrics.hpp"
#include "net/server_metrics.hpp"

namespace wsring::apps {

void add_collectors(net::metrics_registry& registry, const metrics_sources& s) {
    registry.add([s](net::metrics_text& out) {
        out.family("wsring_info", "gauge", "The server's configuration, in labels (value 1).");
        const std::string_view backend = s.server->backend_name();
        out.sample("wsring_info", std::uint64_t{1},
                   net::metrics_text::label("backend", backend) + "," + net::metrics_text::label("mode", s.mode) +
                       "," + net::metrics_text::label("tls", s.server->options().tls ? "on" : "off"));
        net::collect_server_metrics(*s.server, out);
    });
    if (s.fanout && s.hub)
        registry.add([s](net::metrics_text& out) { modes::collect_fanout_metrics(*s.fanout, *s.hub, out); });
    if (s.broker) registry.add([s](net::metrics_text& out) { cluster::collect_broker_metrics(*s.broker, out); });
    if (s.per_address)
        registry.add([s](net::metrics_text& out) {
            out.counter("wsring_addresses_untracked_total",
                        "Connections whose address found its table set full (admitted, not limited).",
                        s.per_address->untracked());
        });
    registry.add([](net::metrics_text& out) { net::collect_process_metrics(out); });
}

std::unique_ptr<net::server> start_metrics_listener(const cli& c, const net::metrics_registry& registry) {
    if (!c.metrics_port) return nullptr;
    net::server_options o;
    o.host = c.server.host;
    o.port = *c.metrics_port;
    o.threads = 1;
    o.backend = net::backend_kind::epoll;
    o.session.websocket = false;
    o.session.metrics = &registry;
    auto srv = std::make_unique<net::server>(std::move(o));
    srv->start();
    return srv;
}

}  // namespace wsring::apps
