// ws-client URL: stdin lines → text messages, messages → stdout, and an exit
// status that says how the connection ended (the table is in --help and
// apps/ws_client/options.hpp). The connection, reconnects, backoff and TLS
// are net::ws_client's; this file wires stdin, stdout, --ca and --resume to
// it. stdin is read on its own thread and handed over with send_text/close,
// which wake the client's loop through its eventfd.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "apps/ws_client/options.hpp"
#include "apps/ws_client/resume.hpp"
#include "net/ws_client.hpp"

namespace {

using namespace wsring;

void write_out(std::span<const std::byte> b) { std::fwrite(b.data(), 1, b.size(), stdout); }

void write_message(std::span<const std::byte> data, bool text, bool hex) {
    if (text || !hex) {
        write_out(data);
        if (text) std::fputc('\n', stdout);
    } else {
        for (std::byte b : data) std::fprintf(stdout, "%02x", static_cast<unsigned>(b));
        std::fputc('\n', stdout);
    }
    std::fflush(stdout);  // a pipe reader sees each message as it comes
}

// One line to the client. Past --max-queued (a server away or slower than
// stdin) this thread waits for room and so stops reading stdin: the writer
// of the pipe blocks, as with any pipe whose reader is slow. That is what a
// user of a websocat-like tool expects: `ws-client URL < big.log` sends the
// whole file whatever its size, nothing is ever dropped, and memory stays
// bounded. (Failing or dropping would lose lines a pipe already accepted.)
void send_line(net::ws_client& c, std::string_view line) {
    c.wait_for_room(line.size());
    c.send_text(line);  // cannot be refused: this thread alone adds messages
}

// Lines of stdin (without their '\n') as text messages; EOF closes with 1000.
void read_stdin(net::ws_client& c) {
    std::string pending;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        pending.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            send_line(c, std::string_view(pending).substr(0, nl));
            pending.erase(0, nl + 1);
        }
    }
    if (!pending.empty()) send_line(c, pending);  // a last line without '\n'
    c.close(proto::close_code::normal);
}

int exit_code_of(const net::client_outcome& how) {
    if (!how.opened) return apps::exit_no_connect;
    if (how.code == proto::close_code::normal) return apps::exit_normal;
    if (how.code == proto::close_code::abnormal) return apps::exit_lost;
    return apps::exit_peer_code;
}

void report(const net::client_outcome& how) {
    if (!how.opened)
        std::fprintf(stderr, "ws-client: not connected: %s\n", how.reason.c_str());
    else
        std::fprintf(stderr, "ws-client: closed %u %s\n", static_cast<unsigned>(how.code), how.reason.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    apps::client_cli cli;
    std::string error;
    if (!apps::parse_cli(argc, argv, cli, error)) {
        std::fprintf(stderr, "ws-client: %s\n", error.c_str());
        return apps::exit_usage;
    }
    if (cli.help) {
        std::fputs(apps::help_text().c_str(), stdout);
        return apps::exit_normal;
    }
    ::signal(SIGPIPE, SIG_IGN);  // a closed stdout is an error to see, not a silent death
    net::ws_url url;
    net::parse_ws_url(cli.client.url, url);  // checked by parse_cli
    if (url.tls) {  // a CA file that cannot be used is a setup error, not a failed connection
        auto ctx = net::tls_context::load_client(cli.ca_file, cli.insecure, error);
        if (!ctx) {
            std::fprintf(stderr, "ws-client: %s\n", error.c_str());
            return apps::exit_internal;
        }
        cli.client.tls = std::make_shared<const net::tls_context>(std::move(*ctx));
    }

    // Never destroyed: the stdin thread may still hold it when main exits.
    auto& client = *new net::ws_client(cli.client);
    auto& cursor = *new apps::resume_cursor();
    client.on_open = [](const std::string& protocol) {
        std::fprintf(stderr, "ws-client: connected%s%s\n", protocol.empty() ? "" : " ", protocol.c_str());
    };
    client.on_close = report;
    client.on_retry = [](unsigned attempt, std::chrono::milliseconds wait) {
        std::fprintf(stderr, "ws-client: reconnecting in %lld ms (attempt %u)\n",
                     static_cast<long long>(wait.count()), attempt);
    };
    if (cli.resume) {
        client.path_for_attempt = [&cursor](const std::string& path) { return cursor.path_for(path); };
        client.on_message = [&cursor, &cli](std::span<const std::byte> data, bool text) {
            const auto r = cursor.accept(data);
            using v = apps::resume_cursor::verdict;
            if (r.what == v::deliver) write_message(cli.positions ? data : r.payload, text, cli.hex);
            else if (r.what == v::malformed) write_message(data, text, cli.hex);
            else if (!r.note.empty()) std::fprintf(stderr, "%s\n", r.note.c_str());
        };
    } else {
        client.on_message = [&cli](std::span<const std::byte> data, bool text) { write_message(data, text, cli.hex); };
    }
    std::thread(read_stdin, std::ref(client)).detach();
    const net::client_outcome how = client.run();
    std::fflush(stdout);
    std::fflush(stderr);
    // _Exit: the stdin thread may be blocked in read(); nothing is left to flush or free.
    std::_Exit(exit_code_of(how));
}
