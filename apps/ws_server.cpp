// ws-server: the server binary. Parses the command line, starts the reactors
// (net/server.hpp), logs one line when listening and one when stopped
// (net/log.hpp: text or json, on stdout; warnings and errors on stderr), and
// turns SIGINT/SIGTERM into a graceful drain. Signals are blocked in every
// thread and taken synchronously here with sigwait(), so no handler runs in
// a reactor; SIGPIPE is ignored (sends also use MSG_NOSIGNAL).
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/ws_server/metrics.hpp"
#include "apps/ws_server/options.hpp"
#include "cluster/redis_broker.hpp"
#include "net/log.hpp"
#include "modes/pubsub_handler.hpp"
#include "net/server.hpp"
#include "net/static_site.hpp"
#include "net/tls_context.hpp"
#include "net/socket.hpp"

using namespace wsring;

// Message-sized buffers (a frame cut by a read, an echoed or broadcast large
// message) come and go at message rate. With glibc's defaults each one above
// 128 KiB is a fresh mmap and each free at the heap top a trim, so every
// large message paid page faults on its copy (64 KiB echo ran at a fifth of
// the plain TCP rate). Keep them on the heap and let the heap keep what it
// grew to: memory stays bounded by the peak of message sizes in flight.
static void keep_message_buffers_warm() {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

// The stop lines are built in pieces, then logged as one line each.
[[gnu::format(printf, 2, 3)]] static void appendf(std::string& s, const char* fmt, ...) {
    va_list args, again;
    va_start(args, fmt);
    va_copy(again, args);
    if (const int n = std::vsnprintf(nullptr, 0, fmt, args); n > 0) {
        const std::size_t at = s.size();
        s.resize(at + static_cast<std::size_t>(n));
        std::vsnprintf(s.data() + at, static_cast<std::size_t>(n) + 1, fmt, again);
    }
    va_end(again);
    va_end(args);
}

// The stop line's TLS half: how many handshakes, and every way one failed.
static void print_tls_stats(const net::tls_stats& t) {
    std::string line;
    appendf(line, "tls: %llu handshakes (%llu resumed), failed:", static_cast<unsigned long long>(t.handshakes),
            static_cast<unsigned long long>(t.resumed));
    for (std::size_t i = 1; i < t.failed.size(); ++i)
        appendf(line, " %.*s=%llu", static_cast<int>(net::name(static_cast<net::tls_error>(i)).size()),
                net::name(static_cast<net::tls_error>(i)).data(), static_cast<unsigned long long>(t.failed[i]));
    net::report(net::log_level::info, "stats_tls", "%s", line.c_str());
}

// SIGHUP: the command line and --config FILE are read again, and what
// rotates without a restart is replaced — the TLS certificate and key (new
// handshakes present them), the JWT keys, the ACL, the allowed origins.
// Anything wrong (a file that no longer parses, a key or certificate that
// does not load) refuses the whole reload with one line saying why, and the
// running configuration stays. Other options need a restart.
static void reload(int argc, char** argv, const apps::cli& running, net::access_switch& access) {
    apps::cli fresh;
    std::string why;
    if (!apps::parse_cli(argc, argv, fresh, why)) {
        net::log(net::log_level::warn, "reload_refused", "reload refused: %s (the running configuration stays)",
                 why.c_str());
        return;
    }
    auto policy = apps::load_access(fresh.access, why);
    if (!policy) {
        net::log(net::log_level::warn, "reload_refused", "reload refused: %s (the running configuration stays)",
                 why.c_str());
        return;
    }
    // Checked last, applied first: rotate() only installs an identity that loaded.
    if (running.server.tls && !fresh.tls_cert.empty()) {
        if (!running.server.tls->rotate(fresh.tls_cert, fresh.tls_key, why)) {
            net::log(net::log_level::warn, "reload_refused", "reload refused: %s (the running configuration stays)",
                     why.c_str());
            return;
        }
        net::report(net::log_level::info, "reload", "reload: tls certificate %s read again",
                    fresh.tls_cert.c_str());
    } else if (!fresh.tls_cert.empty() || running.server.tls) {
        net::report(net::log_level::warn, "reload_needs_restart", "reload: turning TLS on or off needs a restart");
    }
    const std::string before = apps::describe(*access.current()), after = apps::describe(*policy);
    access.replace(std::move(policy));
    net::report(net::log_level::info, "reload", "reload: access %s (was %s; files read again)", after.c_str(),
                before.c_str());
}

int main(int argc, char** argv) {
    net::set_program_name("ws-server");  // the library's log lines say who speaks
    keep_message_buffers_warm();
    apps::cli cli;
    std::string error;
    if (!apps::parse_cli(argc, argv, cli, error)) {
        // Plain text: a command line that does not parse has no --log-format yet.
        std::fprintf(stderr, "ws-server: %s\n", error.c_str());
        return 2;
    }
    net::set_log_format(cli.log_format);  // before any thread, like the name
    net::set_log_level(cli.log_level);
    if (cli.help) {
        std::fputs(apps::help_text().c_str(), stdout);
        return 0;
    }
    // broadcast / pubsub: one broadcast ring, one fan-out handler per reactor.
    auto fanout = std::make_shared<std::vector<modes::pubsub_handler*>>();
    std::shared_ptr<modes::broadcast_hub> hub;
    if (cli.mode != "echo") {
        cli.fanout.per_path_topics = cli.mode == "pubsub";
        cli.fanout.history.remote = !cli.redis.empty();  // positions come from Redis
        hub = modes::install_fanout(cli.server, cli.fanout, fanout);
    }
    // --backend uring where io_uring is unavailable: net/reactor.cpp logs
    // the one fallback line, and the listening line says backend=epoll.

    std::signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);  // reload (reload_access below), not stop
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any thread: all inherit it

    if (!cli.tls_cert.empty()) {
        std::string why;
        auto ctx = net::tls_context::load(cli.tls_cert, cli.tls_key, why);
        if (!ctx) {
            net::log(net::log_level::error, "start_failed", "%s", why.c_str());
            return 1;
        }
        cli.server.tls = std::make_shared<const net::tls_context>(std::move(*ctx));
    }
    // Multi-node: the Redis bridge runs before any client can publish, and
    // a Redis that cannot be reached now is an error, not a silent island.
    std::unique_ptr<cluster::redis_broker> broker;
    if (!cli.redis.empty()) {
        broker = std::make_unique<cluster::redis_broker>(
            *hub, cluster::broker_options{.servers = cli.redis, .keep_origins = !cli.fanout.echo_self});
        hub->set_broker(broker.get());
        if (std::string why; !broker->start(why)) {
            net::log(net::log_level::error, "start_failed", "%s", why.c_str());
            return 1;
        }
    }
    // Who may connect: tokens, roles, origins (read now; SIGHUP reads them again).
    net::access_switch access;
    {
        std::string why;
        auto policy = apps::load_access(cli.access, why);
        if (!policy) {
            net::log(net::log_level::error, "start_failed", "%s", why.c_str());
            return 1;
        }
        if (policy->active())
            net::report(net::log_level::info, "access", "access: %s", apps::describe(*policy).c_str());
        access.replace(std::move(policy));
        cli.server.session.access = &access;
    }
    // Per-address limits: one table for every reactor.
    std::unique_ptr<net::address_limits> per_address;
    if (cli.per_address.max_connections_per_ip != 0 || cli.per_address.handshakes_per_s > 0) {
        per_address = std::make_unique<net::address_limits>(cli.per_address);
        cli.server.session.per_address = per_address.get();
    }
    // --web: the whole folder is read now, so no reactor ever reads a file.
    std::optional<net::static_site> site;
    if (!cli.web.empty()) {
        std::string why;
        site = net::static_site::load(cli.web, {}, why);
        if (!site) {
            net::log(net::log_level::error, "start_failed", "%s", why.c_str());
            return 1;
        }
        cli.server.session.site = &*site;
        net::report(net::log_level::info, "web",
                    "web: %zu files, %zu bytes from %s (%zu skipped: links, hidden or odd names)", site->files(),
                    site->bytes(), cli.web.c_str(), site->skipped());
    }
    // GET /metrics: on the WebSocket port, or only on --metrics-port.
    net::metrics_registry metrics;
    if (!cli.metrics_port) cli.server.session.metrics = &metrics;
    net::server srv(cli.server);
    apps::add_collectors(metrics, {.server = &srv, .mode = cli.mode, .fanout = fanout.get(), .hub = hub.get(),
                                   .broker = broker.get(), .per_address = per_address.get()});
    std::unique_ptr<net::server> metrics_listener;
    try {
        srv.start();
        metrics_listener = apps::start_metrics_listener(cli, metrics);
    } catch (const std::exception& e) {
        net::log(net::log_level::error, "start_failed", "%s", e.what());
        return 1;
    }
    const auto& z = cli.server.session.deflate;
    net::report(net::log_level::info, "listening", "listening on %s mode=%s threads=%u backend=%.*s%s%s",
                net::format_address(cli.server.host, srv.port()).c_str(), cli.mode.c_str(),
                srv.threads(), static_cast<int>(srv.backend_name().size()),
                srv.backend_name().data(), cli.server.tls ? " tls=on" : "",
                !z.enabled ? "" : z.takeover ? " deflate=takeover" : " deflate=shared");
    if (metrics_listener)
        net::report(net::log_level::info, "metrics", "metrics on %s",
                    net::format_address(cli.server.host, metrics_listener->port()).c_str());

    for (;;) {
        int sig = 0;
        if (sigwait(&stop_signals, &sig) != 0) continue;
        if (sig != SIGHUP) break;
        reload(argc, argv, cli, access);
    }
    if (metrics_listener) {  // first: its scrapes read everything below
        metrics_listener->stop();
        metrics_listener->wait();
    }
    srv.stop();
    srv.wait();
    if (broker) broker->stop();  // after the reactors: nothing publishes any more
    const modes::fanout_stats fs = modes::sum_stats(*fanout);
    std::string line;
    appendf(line, "stopped, %llu connections served", static_cast<unsigned long long>(srv.stats().accepted));
    if (cli.mode != "echo")
        appendf(line, ", published %llu, delivered %llu, slow consumers closed %llu, skipped %llu,"
                " ring stalls %llu, recovered %llu, unrecovered %llu, replayed %llu,"
                " published over HTTP %llu",
                static_cast<unsigned long long>(fs.published),
                static_cast<unsigned long long>(fs.delivered),
                static_cast<unsigned long long>(fs.slow_closed),
                static_cast<unsigned long long>(fs.skipped),
                static_cast<unsigned long long>(fs.stalls),
                static_cast<unsigned long long>(fs.recovered),
                static_cast<unsigned long long>(fs.unrecovered),
                static_cast<unsigned long long>(fs.replayed),
                static_cast<unsigned long long>(fs.http_published));
    net::report(net::log_level::info, "stopped", "%s", line.c_str());
    if (broker) {
        const cluster::broker_stats b = broker->stats();
        net::report(net::log_level::info, "stats_redis",
                    "redis: published %llu, failed %llu, received %llu, duplicates %llu,"
                    " repaired %llu, resets %llu, syncs %llu, subscribes %llu, unsubscribes %llu,"
                    " reconnects %llu",
                    static_cast<unsigned long long>(b.published), static_cast<unsigned long long>(b.publish_failed),
                    static_cast<unsigned long long>(b.received), static_cast<unsigned long long>(b.duplicates),
                    static_cast<unsigned long long>(b.repaired), static_cast<unsigned long long>(b.resets),
                    static_cast<unsigned long long>(b.syncs), static_cast<unsigned long long>(b.subscribes),
                    static_cast<unsigned long long>(b.unsubscribes), static_cast<unsigned long long>(b.reconnects));
    }
    if (cli.server.tls) print_tls_stats(srv.stats().tls);
    if (per_address) {
        const auto& ss = srv.stats().session;
        net::report(net::log_level::info, "stats_limits",
                    "limits: too fast (429) %llu, too many per address (503) %llu, addresses untracked %llu",
                    static_cast<unsigned long long>(ss.too_fast),
                    static_cast<unsigned long long>(ss.too_many_per_ip),
                    static_cast<unsigned long long>(per_address->untracked()));
    }
    if (access.current()->active()) {
        const auto& ss = srv.stats().session;
        std::string counts;
        appendf(counts, "access: expired %llu, refused:", static_cast<unsigned long long>(ss.expired));
        for (std::size_t i = 1; i < ss.refused.size(); ++i) {
            const std::string_view name = net::describe(static_cast<net::access_refusal>(i));
            appendf(counts, " %.*s=%llu", static_cast<int>(name.size()), name.data(),
                    static_cast<unsigned long long>(ss.refused[i]));
        }
        net::report(net::log_level::info, "stats_access", "%s", counts.c_str());
    }
    if (z.enabled) {
        // Compressed messages in, compressed one by one out, and (broadcast,
        // pubsub) compressed once for every receiver able to share the frame.
        const auto& ss = srv.stats().session;
        net::report(net::log_level::info, "stats_deflate",
                    "deflate: inflated %llu, deflated %llu, compressed once %llu, recompressed per receiver %llu",
                    static_cast<unsigned long long>(ss.inflated),
                    static_cast<unsigned long long>(ss.deflated),
                    static_cast<unsigned long long>(fs.compressed),
                    static_cast<unsigned long long>(fs.recompressed));
    }
    return 0;
}
