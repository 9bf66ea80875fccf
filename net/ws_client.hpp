// A WebSocket client for programs (ws-client is one): connect a ws:// or
// wss:// URL, run one connection at a time on the calling thread, and with
// `reconnect` come back after any loss on core/backoff's schedule (full
// jitter, reset after a stable connection, a 503's Retry-After as a floor).
// The protocol is net/client_session's, the bytes (and TLS) net/client_link's,
// moved by a reactor (epoll or io_uring: the server's loop and backends, one
// outbound connection on it, reactor::dial); this file owns DNS, connect,
// reconnecting and the bounded queue of messages waiting for a connection.
// send_*/close/stop may be called from any thread (reactor::wake wakes the
// loop). Read next: client_session.hpp, client_link.hpp.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/backoff.hpp"
#include "net/client_session.hpp"
#include "net/reactor.hpp"
#include "net/tls_context.hpp"

namespace wsring::net {

// ws://host[:port][/path][?query] (RFC 6455 §3), split; not resolved here
// (every attempt resolves again: a restarted server may have moved).
struct ws_url {
    std::string host;  // without the [] of an IPv6 literal
    std::uint16_t port = 80;
    std::string path = "/";  // request-target: path and query
    bool tls = false;        // wss://
    std::string host_header() const;
};
// "" or what is wrong with `text`.
std::string parse_ws_url(std::string_view text, ws_url& out);

struct ws_client_options {
    std::string url{};
    std::vector<std::string> subprotocols{};
    std::vector<std::string> headers{};  // "Name: value"
    std::chrono::milliseconds connect_timeout{10'000};  // TCP connect, per address
    std::chrono::milliseconds handshake_timeout{10'000};
    std::chrono::milliseconds ping_interval{0};  // 0: no pings
    std::chrono::milliseconds idle_timeout{0};   // 0: none
    std::chrono::milliseconds close_timeout{3'000};
    std::size_t max_message = 16u << 20;  // a compressed message's inflated size too
    bool deflate = false;                 // offer permessage-deflate (RFC 7692)
    bool reconnect = false;
    core::backoff_policy backoff{.base = std::chrono::milliseconds(500),
                                 .cap = std::chrono::milliseconds(30'000),
                                 .stable = std::chrono::milliseconds(10'000)};
    unsigned max_attempts = 0;  // failed attempts in a row before giving up; 0: never
    // Bytes of messages waiting for the connection (sent while connecting,
    // reconnecting, or faster than the socket takes them) before send_*
    // refuses more; each message counts its size plus its queue entry
    // (sizeof(command), about 48 bytes). A message larger than this is
    // still taken when nothing waits.
    std::size_t max_queued = 16u << 20;
    // wss://: the client context (tls_context::load_client: --ca, --insecure);
    // null: the system's CA store, certificate and host name checked.
    std::shared_ptr<const tls_context> tls{};
    // The loop's backend; uring falls back to epoll where io_uring is
    // unavailable (one log line, as for the server).
    backend_kind backend = backend_kind::epoll;
};

class ws_client {
public:
    // All run on the loop's thread, inside run().
    std::function<void(const std::string& protocol)> on_open;
    std::function<void(std::span<const std::byte> data, bool text)> on_message;
    // Every connection's end, and every attempt that did not open.
    std::function<void(const client_outcome& how)> on_close;
    // Before each wait to reconnect: the attempt about to be made (1-based) and the wait.
    std::function<void(unsigned attempt, std::chrono::milliseconds wait)> on_retry;
    // The request-target of the next attempt, from the URL's (resume adds ?since=).
    std::function<std::string(const std::string& path)> path_for_attempt;

    explicit ws_client(ws_client_options opts);
    ~ws_client();
    ws_client(const ws_client&) = delete;
    ws_client& operator=(const ws_client&) = delete;

    // Connects (and reconnects) until closed, stopped, or out of attempts;
    // returns how the last connection ended. Bad URL: outcome.reason says.
    client_outcome run();

    // Any thread. Messages wait for an open connection (across a
    // reconnect); close() sends after them, then ends run() once the close
    // handshake is done. stop() ends run() at once, dropping the socket.
    // send_* return false, queueing nothing, when max_queued bytes already
    // wait: the caller decides (wait_for_room, drop, give up); the client
    // never decides to lose a message itself.
    bool send_text(std::string_view text) { return push({cmd::text, std::string(text)}); }
    bool send_binary(std::span<const std::byte> data);
    void close(proto::close_code code = proto::close_code::normal, std::string reason = {});
    void stop();
    // Any thread but run()'s (the loop makes the room): blocks until a
    // message of `bytes` would be taken, or run() has returned.
    void wait_for_room(std::size_t bytes);

private:
    enum class cmd : std::uint8_t { text, binary, close };
    struct command {
        cmd kind;
        std::string data;  // the message, or the close reason
        proto::close_code code = proto::close_code::normal;
    };
    using clock = client_session::clock;

    bool push(command c);
    static std::size_t cost(std::size_t bytes);
    bool has_room(std::size_t bytes) const;  // mu_ held
    client_outcome run_attempts();
    client_outcome connect_once(const ws_url& url);
    int open_socket(const ws_url& url, std::string& why);
    void drain_commands(client_session& s);
    bool wait_wakeup(clock::time_point until);
    void clear_wakeup();

    ws_client_options opts_;
    core::backoff backoff_;
    int wake_fd_ = -1;  // eventfd: a command was pushed, or stop()
    std::mutex mu_;
    std::condition_variable room_;  // queue_ shrank, or run() returned
    std::deque<command> queue_;     // guarded by mu_
    std::size_t queued_bytes_ = 0;  // guarded by mu_: cost() of the messages in queue_
    bool close_queued_ = false;     // guarded by mu_: no reconnect after it
    bool ended_ = false;            // guarded by mu_: run() returned
    std::atomic<bool> stopping_{false};
    reactor* live_ = nullptr;  // guarded by mu_: the loop of the connection now, to wake
    std::shared_ptr<const tls_context> tls_;  // wss:// only
    SSL_SESSION* tls_session_ = nullptr;      // the last connection's, to resume (RFC 8446 §2.2)
};

}  // namespace wsring::net
