// A WebSocket client for programs (ws-client is one): connect a ws:// URL,
// run one connection at a time on the calling thread, and with `reconnect`
// come back after any loss on core/backoff's schedule (full jitter, reset
// after a stable connection, a 503's Retry-After as a floor). The protocol
// is net/client_session's; this file owns the socket, DNS and the loop.
// send_*/close/stop may be called from any thread (an eventfd wakes the
// loop). Not here: TLS (wss:// is refused), permessage-deflate.
// Read next: client_session.hpp, apps/ws_client.cpp.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/backoff.hpp"
#include "net/client_session.hpp"

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
    std::size_t max_message = 16u << 20;
    bool reconnect = false;
    core::backoff_policy backoff{.base = std::chrono::milliseconds(500),
                                 .cap = std::chrono::milliseconds(30'000),
                                 .stable = std::chrono::milliseconds(10'000)};
    unsigned max_attempts = 0;  // failed attempts in a row before giving up; 0: never
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
    void send_text(std::string_view text) { push({cmd::text, std::string(text)}); }
    void send_binary(std::span<const std::byte> data);
    void close(proto::close_code code = proto::close_code::normal, std::string reason = {});
    void stop();

private:
    enum class cmd : std::uint8_t { text, binary, close };
    struct command {
        cmd kind;
        std::string data;  // the message, or the close reason
        proto::close_code code = proto::close_code::normal;
    };
    using clock = client_session::clock;

    void push(command c);
    client_outcome connect_once(const ws_url& url);
    int open_socket(const ws_url& url, std::string& why);
    void drain_commands(client_session& s);
    bool wait_wakeup(clock::time_point until);
    void clear_wakeup();

    ws_client_options opts_;
    core::backoff backoff_;
    int wake_fd_ = -1;  // eventfd: a command was pushed, or stop()
    std::mutex mu_;
    std::deque<command> queue_;  // guarded by mu_
    bool close_queued_ = false;  // guarded by mu_: no reconnect after it
    std::atomic<bool> stopping_{false};
};

}  // namespace wsring::net
