// The connection logic, written once for every backend: the HTTP handshake
// (and plain HTTP requests with keep-alive, for a handler's API), the
// WebSocket frames, the close handshake, keep-alive pings, deadlines and
// backpressure — driven only by "these bytes arrived", "the queue was sent",
// "the peer went away" and "the timer fired", and acting only through the
// transport seam (net/transport.hpp). It never touches an fd.
//
// One session object serves all connections of a reactor; the per-connection
// state lives in the connection struct. Every state transition is in
// session.cpp (h11's rule). RFC 6455 §4.2 (handshake), §5.5 (control frames),
// §7 (closing); RFC 9112 §6, §9.3 (request bodies, keep-alive).
// Read next: net/session.cpp, net/session_output.cpp (how output reaches the
// socket), then net/epoll_reactor.cpp.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/counter.hpp"
#include "core/shared_buffer.hpp"
#include "net/access_policy.hpp"
#include "net/address_limits.hpp"
#include "net/connection.hpp"
#include "net/deflate_contexts.hpp"
#include "net/message_handler.hpp"
#include "net/send_batch.hpp"
#include "net/metrics.hpp"
#include "net/transport.hpp"
#include "proto/handshake.hpp"

namespace wsring::net {

using std::chrono::milliseconds;

class static_site;

struct session_options {
    std::size_t max_message = 16u << 20;        // → 1009 beyond it (RFC 6455 §7.4.1), 413 (HTTP)
    std::size_t max_header = 8192;              // HTTP request header block → 431 beyond it
    std::uint64_t max_connections = 100000;     // open WebSockets, all reactors → 503 beyond it
    milliseconds handshake_timeout{10000};      // accept or last answer → request whole (slowloris)
    milliseconds idle_timeout{60000};           // silence → close 1001; 0 = never
    milliseconds ping_interval{30000};          // silence → ping; 0 = never
    milliseconds close_timeout{5000};           // our close → the peer's close, or FIN → EOF
    std::size_t high_water = 1u << 20;          // queued output: stop reading above
    std::size_t low_water = 256u << 10;         // ... resume below
    deflate_options deflate{};                  // permessage-deflate (RFC 7692), off by default
    const static_site* site = nullptr;          // --web: plain GET/HEAD answered from it (outlives us)
    // Who may upgrade (tokens, roles, origins: net/access_policy.hpp); null
    // or an inactive policy: everyone. Outlives us; its policy may be swapped.
    const access_switch* access = nullptr;
    // Wall-clock seconds since the epoch, for token times (exp, nbf); empty:
    // std::chrono::system_clock. Tests inject their own.
    std::function<std::int64_t()> wall_clock{};
    // Per-address limits (shared by every reactor; outlives us), null: none;
    // behind a proxy, the peers whose X-Forwarded-For is believed.
    address_limits* per_address = nullptr;
    std::vector<ip_network> trusted_proxies{};
    // GET /metrics answered from it (outlives us), null: not served here.
    const metrics_registry* metrics = nullptr;
    // false: a plain HTTP listener (--metrics-port): no upgrades, and
    // anything but /metrics and /healthz is 404.
    bool websocket = true;
};

// State shared by the sessions of every reactor (only atomics: no locks).
struct session_shared {
    std::atomic<std::uint64_t> open{0};  // WebSockets open now, for max_connections
};

// Written by the session's reactor only, read by anyone (GET /metrics from
// another reactor): core::counter, relaxed, no locks on the data path.
struct session_stats {
    core::counter accepted = 0;    // TCP connections handed to this session
    core::counter upgraded = 0;    // 101 sent
    core::counter rejected = 0;    // a non-101 HTTP answer
    core::counter messages = 0;    // text/binary messages received
    core::counter bytes_received = 0;  // bytes read (handshakes and frames; after TLS)
    core::counter messages_sent = 0;   // text/binary messages queued to peers
    core::counter bytes_sent = 0;      // bytes queued to peers (answers and frames; before TLS)
    core::counter failed = 0;      // closed for a protocol error
    core::counter inflated = 0;    // compressed messages received (RFC 7692)
    core::counter deflated = 0;    // messages sent compressed, one by one (not shared frames)
    core::counter expired = 0;     // closed 1008 because the token expired
    // Upgrades the access policy refused, by access_refusal (index 0 unused).
    std::array<core::counter, access_refusal_count> refused{};
    core::counter too_fast = 0;          // 429: an address over --max-handshakes-per-ip-per-s
    core::counter too_many_per_ip = 0;   // 503: an address at --max-connections-per-ip
    core::counter at_capacity = 0;       // 503: --max-connections reached
    core::counter bad_handshakes = 0;    // upgrade attempts RFC 6455 §4.2.1 refuses (400, 426)

    session_stats& operator+=(const session_stats& o);  // sums reactors
};

class session {
public:
    session(const session_options& opts, milliseconds tick, transport& t, message_handler& h,
            session_shared& shared);

    // ---- backend → session --------------------------------------------------
    void on_accept(connection& c);                          // a new TCP connection
    void on_data(connection& c, std::span<std::byte> in);   // bytes read (decoded in place)
    void on_flushed(connection& c);                         // a flush ended (queue shrank)
    void on_peer_closed(connection& c, int err);            // EOF (0) or -errno
    void on_timer(connection& c);                           // c's timer fired
    void begin_shutdown(connection& c);                     // server stopping: close 1001
    void abort(connection& c);                              // end now, no goodbye
    // Whether the backend should read `c` now (not paused by backpressure, not done).
    bool wants_read(const connection& c) const {
        return !(c.flags & (sf_read_paused | sf_peer_eof)) && c.state != conn_state::closed;
    }
    // Where c's next bytes can be read straight to: the rest of a large
    // frame, into its place in the decoder's message (proto::decoder::
    // payload_room), so the frame is not copied again out of a read buffer.
    // Empty unless c is open in plaintext (TLS decrypts into buffers of its
    // own) with at least direct_read_min bytes of such a frame to come.
    std::span<std::byte> receive_room(connection& c) {
        if (c.state != conn_state::open || c.tls) return {};
        std::span<std::byte> room = c.ws.payload_room();
        return room.size() >= direct_read_min ? room : std::span<std::byte>{};
    }

    // ---- message handler → session ------------------------------------------
    // Queues one unfragmented message (copied/encoded now), compressed when
    // the connection agreed to permessage-deflate and it is not too short.
    // Dropped once a close was sent (§5.5.1: nothing after a close frame).
    // Inline into the handler (an echo's reply is then one call, queue_frame).
    void send_message(connection& c, proto::opcode op, std::span<const std::byte> payload) {
        if (c.state != conn_state::open || !c.ws.can_send()) return;
        if (deflate_contexts::agreed(c)) return send_compressible(c, op, payload);
        ++stats_.messages_sent;
        queue_frame(c, op, payload);
    }
    // Queues already-encoded server frames by reference (broadcast): all of
    // `frames`, or bytes [begin, end) of it (whole frames: a replay's slice).
    // `messages`: how many messages they hold (for the counters).
    void send_encoded(connection& c, core::shared_buffer frames, std::uint64_t messages);
    void send_encoded(connection& c, core::shared_buffer frames, std::size_t begin, std::size_t end,
                      std::uint64_t messages);
    // The answer a handler deferred (http_answer::deferred) to the request
    // `c` is waiting on; then reading resumes, with what came meanwhile.
    void answer_deferred(connection& c, http_answer a);
    // Starts the closing handshake from our side (§7.1.2).
    void close(connection& c, proto::close_code code, std::string_view reason);

    const session_stats& stats() const { return stats_; }
    // This reactor's permessage-deflate contexts (pub/sub compresses once with them).
    deflate_contexts& deflate() { return deflate_; }
    const session_options& options() const { return opts_; }

private:
    // Frames this large are offered to the socket from where their payload
    // lies when nothing is queued ahead of them (queue_frame, send_batch):
    // below it, one gather write per turn for all of a connection's replies
    // costs less than a send per frame.
    static constexpr std::size_t write_through_min = 16u << 10;
    // Below this, the rest of a cut frame is read with what follows it, into
    // the receive buffer, and copied: a read of its own would cost more.
    static constexpr std::size_t direct_read_min = 16u << 10;

    // The phases of a connection, in the order it meets them.
    void on_request(connection& c, std::span<std::byte> in);
    void upgrade(connection& c, const proto::http_request& req, std::span<std::byte> rest);
    void reject(connection& c, std::string_view response);
    void on_http_head(connection& c, const proto::http_request& req, bool body_unseen);
    void on_http_body(connection& c, std::span<const std::byte> body);
    void send_http_answer(connection& c, http_answer& a);
    void hold_while_deferred(connection& c, std::span<const std::byte> in);
    void answer_http(connection& c, const proto::http_request& req);
    void on_frames(connection& c, std::span<std::byte> in);
    void decode_frames(connection& c, std::span<std::byte> in);
    void on_data_message(connection& c, const proto::event& ev);
    void on_close_frame(connection& c, const proto::event& ev);
    void fail(connection& c, proto::close_code code, std::string_view reason);
    bool admit(connection& c, const proto::http_request& req);
    bool within_rate(connection& c, const proto::http_request& req, std::optional<ip_address>& client);
    bool within_per_address(connection& c, const std::optional<ip_address>& client);
    void release_address(connection& c);
    std::int64_t wall_now_ms() const;  // wall-clock milliseconds since the epoch
    void on_idle_timer(connection& c);
    void arm_idle(connection& c);
    void enter_draining(connection& c, bool linger);
    void finish(connection& c);

    // Output helpers.
    void send_compressible(connection& c, proto::opcode op, std::span<const std::byte> payload);
    void queue_frame(connection& c, proto::opcode op, std::span<const std::byte> payload,
                     bool compressed = false);
    void queue_close(connection& c, proto::close_code code, std::string_view reason);
    void queue_answer(connection& c, const proto::event& ev);
    void queue_bytes(connection& c, std::string_view bytes);
    void send_unprompted(connection& c, std::span<const std::byte> frame);
    void send_batched();
    core::shared_buffer keep_delivered(connection& c, std::span<const std::byte> payload);
    static std::size_t offset_in(const core::shared_buffer& b, std::span<const std::byte> payload);
    // Before anything else joins c's output, c's batched frames go first.
    void settle(connection& c) {
        if (batch_.owner() == &c) send_batched();
    }
    void want_flush(connection& c) {
        if (!(c.io & io_dirty)) t_.flush_soon(c);
    }
    std::uint32_t now32() const { return static_cast<std::uint32_t>(t_.timers().now()); }
    core::tick_t ticks(milliseconds d) const;

    session_options opts_;
    milliseconds tick_;
    transport& t_;
    // t_.pool(), asked once: a virtual call per small reply was 4 % of the
    // session's own time at 16 B (bench_session). The transport is made
    // before its session and its pool lives as long as it does.
    segment_pool& pool_;
    message_handler& handler_;
    session_shared& shared_;
    proto::handshake_policy policy_;
    core::tick_t handshake_ticks_, idle_ticks_, ping_ticks_, close_ticks_;
    session_stats stats_;
    deflate_contexts deflate_;
    // The bytes of the read being decoded (on_frames), and the large frames
    // whose payloads lie in them, sent together when that read is handled.
    std::span<const std::byte> reading_;
    send_batch batch_;
    // When each connection with sf_expires must be closed (wheel tick): a
    // table beside the slab, so connections without a token pay nothing.
    std::unordered_map<const connection*, core::tick_t> expiry_;
    // The client address each connection counted against per_address holds
    // (released at finish); empty without per-address limits.
    std::unordered_map<const connection*, ip_address> per_address_;
};

}  // namespace wsring::net
