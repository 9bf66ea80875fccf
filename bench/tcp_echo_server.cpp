// tcp-echo-server: the physical-limit baseline for `ws-bench --raw`. A plain,
// single-threaded, edge-triggered epoll loop that writes back every byte it
// reads, with no framing at all: whatever a WebSocket server does beyond
// this costs the difference. A short write parks the rest and stops reading
// that connection until EPOLLOUT drains it (TCP then pushes back on the
// client). Usage: tcp-echo-server [--host 127.0.0.1] [--port 9002] (0 = ephemeral);
// a bad option prints one line and exits 2 (apps/cmdline.hpp parses the port).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

// Relative: this one-file binary gets no include root of ours (it links none
// of our libraries), and the shared option parsing is header-only.
#include "apps/cmdline.hpp"

namespace {

constexpr const char* usage =
    "usage: tcp-echo-server [--host ADDR] [--port PORT]\n"
    "A plain TCP echo server (no WebSocket framing): the baseline for ws-bench --raw.\n"
    "  --host ADDR   IPv4 address to listen on [default: 127.0.0.1]\n"
    "  --port PORT   TCP port, 0: any free port (printed at start) [default: 9002]\n"
    "  -h, --help    print this help and exit\n";

struct options {
    std::string host = "127.0.0.1";
    int port = 9002;
    bool help = false;
};

// "--name value" or "--name=value". Returns "" or the one line to print.
std::string parse_options(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            o.help = true;
            continue;
        }
        std::size_t eq = arg.find('=');
        std::string_view name = arg.substr(0, eq);
        if (name != "--host" && name != "--port") {
            if (arg.empty() || arg[0] != '-') return "unexpected argument '" + std::string(arg) + "' (see --help)";
            return "unknown option '" + std::string(name) + "' (see --help)";
        }
        std::string_view value;
        if (eq != std::string_view::npos) value = arg.substr(eq + 1);
        else if (i + 1 < argc) value = argv[++i];
        else return std::string(name) + " needs a value (see --help)";
        if (name == "--host") {
            in_addr a{};
            if (inet_pton(AF_INET, std::string(value).c_str(), &a) != 1)
                return "--host: '" + std::string(value) + "' is not an IPv4 address";
            o.host = value;
        } else {
            std::uint64_t port = 0;
            if (auto err = wsring::cmdline::parse_uint(value, 0, 65535, port); !err.empty()) return "--port: " + err;
            o.port = static_cast<int>(port);
        }
    }
    return {};
}

struct conn {
    std::vector<char> pending;  // bytes read but not yet written back
};

int listen_on(const char* host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(fd, 4096) != 0) {
        std::fprintf(stderr, "tcp-echo-server: cannot listen on %s:%d: %s\n", host, port, std::strerror(errno));
        std::exit(1);
    }
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    std::printf("tcp-echo-server: listening on %s:%d\n", host, ntohs(a.sin_port));
    std::fflush(stdout);
    return fd;
}

// Writes what is parked, then echoes reads. A short read drained the socket
// (edge-triggered epoll announces the next bytes), so it costs no extra
// read() that would only say EAGAIN — unless the peer hung up (`hup`): then
// read on to the EOF, which raises no new edge. Returns false when the
// connection is finished (EOF or error).
bool pump(int fd, conn& c, std::vector<char>& buf, bool hup) {
    while (!c.pending.empty()) {
        ssize_t w = write(fd, c.pending.data(), c.pending.size());
        if (w < 0) return errno == EAGAIN || errno == EINTR;  // wait for EPOLLOUT
        c.pending.erase(c.pending.begin(), c.pending.begin() + w);
    }
    for (;;) {
        ssize_t n = read(fd, buf.data(), buf.size());
        if (n == 0) return false;
        if (n < 0) return errno == EAGAIN || errno == EINTR;
        ssize_t w = write(fd, buf.data(), static_cast<std::size_t>(n));
        if (w < 0 && errno != EAGAIN) return false;
        if (w < n) {  // the peer reads slowly: park the rest, stop reading
            c.pending.assign(buf.data() + (w < 0 ? 0 : w), buf.data() + n);
            return true;
        }
        if (static_cast<std::size_t>(n) < buf.size() && !hup) return true;
    }
}

}  // namespace

int main(int argc, char** argv) {
    options opts;
    if (std::string err = parse_options(argc, argv, opts); !err.empty()) {
        std::fprintf(stderr, "tcp-echo-server: %s\n", err.c_str());
        return 2;
    }
    if (opts.help) {
        std::fputs(usage, stdout);
        return 0;
    }
    int lfd = listen_on(opts.host.c_str(), opts.port);
    int ep = epoll_create1(0);
    epoll_event ev{EPOLLIN, {.fd = lfd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    std::vector<conn> conns(1024);
    std::vector<char> buf(256 * 1024);
    epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == lfd) {  // accept everything that is waiting
                int c;
                while ((c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if (static_cast<std::size_t>(c) >= conns.size()) conns.resize(2 * static_cast<std::size_t>(c));
                    epoll_event cev{EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, {.fd = c}};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            bool hup = (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
            if (!pump(fd, conns[static_cast<std::size_t>(fd)], buf, hup)) {
                conns[static_cast<std::size_t>(fd)].pending.clear();
                close(fd);  // also removes it from the epoll set
            }
        }
    }
}
