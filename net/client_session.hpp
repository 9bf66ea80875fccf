// One client WebSocket connection without a socket: bytes in, bytes out,
// deadlines from times the caller passes. It owns the opening handshake
// (RFC 6455 §4.1, via proto/client_handshake), the frames (via
// proto::connection: masking §5.3, ping answers §5.5.2, the close handshake
// §7.1.2), permessage-deflate when offered and agreed (RFC 7692, via
// net/client_deflate), the timers (handshake, ping interval, idle, close) and
// §7.1.1's rule that a client lets the server end TCP first, waiting a
// bounded time. Sockets, DNS, TLS and reconnecting are net/ws_client.cpp's
// and net/client_link.cpp's. Tests feed it byte literals
// (tests/net/client_session_test.cpp). Read next: ws_client.hpp.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/client_deflate.hpp"
#include "proto/client_handshake.hpp"
#include "proto/connection.hpp"

namespace wsring::net {

struct client_session_options {
    std::string host{};  // Host header, "host:port"
    std::string path = "/";  // request-target, query included
    std::vector<std::string> subprotocols{};
    std::vector<std::string> headers{};  // extra "Name: value" lines
    std::chrono::milliseconds handshake_timeout{10'000};  // connect to 101
    std::chrono::milliseconds ping_interval{0};           // 0: never ping
    std::chrono::milliseconds idle_timeout{0};            // 0: never; else nothing read for this long → lost
    std::chrono::milliseconds close_timeout{3'000};       // our close → their close → their TCP FIN
    std::size_t max_message = 16u << 20;  // inflated size, for a compressed message (RFC 7692 §8)
    bool deflate = false;                 // offer permessage-deflate (RFC 7692)
    int deflate_level = 6;                // zlib 1..9 for what we compress
};

// How the connection ended, once finished().
struct client_outcome {
    bool opened = false;          // the handshake completed
    int http_status = 0;          // the response's status (0: none read)
    std::chrono::milliseconds retry_after{0};  // a 503's Retry-After (RFC 9110 §10.2.3), 0 if none
    proto::close_code code = proto::close_code::abnormal;  // §7.1.5 (1006: no close frame)
    std::string reason{};         // §7.1.6 the peer's close reason, or why we gave up
};

class client_session {
public:
    using clock = std::chrono::steady_clock;
    struct handlers {
        std::function<void(const std::string& protocol)> on_open;
        std::function<void(std::span<const std::byte> data, bool text)> on_message;
    };

    client_session(client_session_options opts, handlers h, clock::time_point now);

    // ---- bytes -----------------------------------------------------------
    void feed(std::span<const std::byte> in, clock::time_point now);  // from the socket
    // The peer ended TCP (or the bytes under us failed: `why`, e.g. a TLS
    // alert, replaces the default reason). After both closes, the clean end.
    void eof(clock::time_point now, std::string_view why = {});
    std::span<const std::byte> output() const { return {out_.data() + out_sent_, out_.size() - out_sent_}; }
    void sent(std::size_t n);  // `n` bytes of output() went to the socket

    // ---- time ------------------------------------------------------------
    void tick(clock::time_point now);  // fires whichever deadline passed
    clock::time_point next_deadline() const;

    // ---- the application -------------------------------------------------
    bool is_open() const { return phase_ == phase::open; }
    bool send(std::span<const std::byte> data, bool text);  // false unless open
    void close(proto::close_code code, std::string_view reason, clock::time_point now);

    // Nothing more to do but close the socket (after output() drained).
    bool finished() const { return phase_ == phase::done; }
    const client_outcome& outcome() const { return outcome_; }
    // Once open: the permessage-deflate parameters agreed, or null (none offered or declined).
    const proto::deflate_params* deflate_agreed() const { return agreed_ ? &agreed_->params : nullptr; }
    // Compressed messages both ways, before and after DEFLATE.
    const deflate_tally& deflate_counts() const { return tally_; }

private:
    enum class phase : std::uint8_t {
        handshake,  // request sent, response awaited
        open,       // messages both ways
        closing,    // our close sent: theirs awaited (close_timeout)
        linger,     // §7.1.1: both closes exchanged; the server's FIN awaited (close_timeout)
        done,
    };

    void read_response(std::span<const std::byte>& in, clock::time_point now);
    void read_frames(clock::time_point now);
    void deliver(const proto::event& ev);
    void fail(proto::error e);
    void after_protocol_step(clock::time_point now);
    void finish(std::string why);
    void append(std::size_t max, const std::function<std::size_t(std::span<std::byte>)>& write);

    client_session_options opts_;
    handlers h_;
    std::string key_;
    deflate_tally tally_;
    client_deflate deflate_;                       // the offer and the compressors
    std::unique_ptr<client_deflate_conn> agreed_;  // null: messages go uncompressed
    proto::response_checker checker_;
    proto::connection ws_;
    phase phase_ = phase::handshake;
    std::vector<std::byte> head_;  // the response head so far (for Retry-After)
    std::vector<std::byte> rx_;    // frame bytes not yet decoded
    std::vector<std::byte> out_;   // bytes for the socket; out_sent_ of them gone
    std::size_t out_sent_ = 0;
    clock::time_point deadline_;   // handshake / closing / linger
    clock::time_point last_read_;  // idle timeout
    clock::time_point next_ping_;
    client_outcome outcome_;
};

// The seconds of a Retry-After header in an HTTP response head (the
// delay-seconds form; an HTTP-date is ignored). 0 when absent.
std::chrono::milliseconds retry_after_of(std::string_view head);

}  // namespace wsring::net
