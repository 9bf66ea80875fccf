// One load-generating connection as a worker sees it: its socket, where it is
// in its life (connect → upgrade → open → closing → closed), its send block
// and the tail of a frame cut by a read, its WebSocket protocol state
// (proto::connection: the decoder, pings, the close handshake), and the
// counters each mode keeps per connection. A plain record: the worker
// (worker.hpp, worker_*.cpp) moves it through its states and the mode
// drivers (*_mode.cpp) fill and read it.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/ws_bench/send_buffer.hpp"
#include "apps/ws_bench/v1_cursor.hpp"
#include "net/client_deflate.hpp"
#include "net/tls_stream.hpp"
#include "proto/client_handshake.hpp"
#include "proto/connection.hpp"

namespace wsring::bench {

enum class conn_state : std::uint8_t {
    unused,      // not opened yet (or between connect-mode cycles)
    connecting,  // non-blocking connect() in progress
    upgrading,   // HTTP request sent, waiting for 101 (RFC 6455 §4.1)
    open,        // frames flow
    closing,     // a close frame went out (ours, or our answer to theirs); EOF awaited (§7.1.2)
    closed,      // socket closed; `clean` says how it ended
};

inline bool is_pending(conn_state s) { return s == conn_state::connecting || s == conn_state::upgrading; }
inline bool has_socket(conn_state s) { return s != conn_state::unused && s != conn_state::closed; }

enum class conn_kind : std::uint8_t { echo, receiver, publisher, cycler, idle };

struct upgrade_state {
    // `deflate`: the permessage-deflate offer the request carried, if any;
    // `offered`: its subprotocols; 8192: the checker's usual cap on the
    // response's header block.
    upgrade_state(std::string k, const std::optional<proto::deflate_client_config>& deflate,
                  std::vector<std::string> offered)
        : key(k), checker(std::move(k), std::move(offered), 8192, deflate) {}
    std::string key;
    proto::response_checker checker;
};

struct client_conn {
    int fd = -1;
    conn_state state = conn_state::unused;
    conn_kind kind = conn_kind::echo;
    bool dirty = false;           // on the worker's flush list this turn
    bool want_write = false;      // a write hit EAGAIN: wait for EPOLLOUT
    bool clean = false;           // closed after a full close handshake
    bool failed = false;          // a fault ended it: not counted for fairness
    std::uint32_t publisher = 0;  // publishers: global publisher id
    std::uint64_t started_ns = 0; // when the current connect began
    std::uint64_t state_ns = 0;   // when the current state began (timeouts)

    send_buffer out;
    std::vector<std::byte> tail;               // bytes of a frame cut by a read
    // RFC 6455 framing and the close handshake; built when the connection
    // opens, so it also says whether it ever did.
    std::optional<proto::connection> ws;
    std::unique_ptr<upgrade_state> upgrade;    // only while upgrading
    std::unique_ptr<net::client_deflate_conn> deflate;  // permessage-deflate agreed (RFC 7692), else null
    // wss:// only (null for ws://): the TLS between the socket and `out` /
    // the decoder. Kept after the socket closes (a read may still be inside
    // it) until the slot reconnects.
    std::unique_ptr<net::tls_stream> tls;

    // wsring.v1 (--subprotocol, replay): where this connection stands in its
    // topic. http-publish keeps the last answer's epoch and offset here too.
    v1_cursor v1;

    // echo and http-publish: a ring of send times, FIFO like the replies.
    std::vector<std::uint64_t> sent_at;
    std::uint64_t send_seq = 0, recv_seq = 0;
    std::uint32_t outstanding = 0;
    std::uint64_t completed = 0;  // messages completed in the measured window

    // broadcast receivers: per publisher, the next expected sequence number
    // and the deliveries seen.
    std::vector<std::uint32_t> next_seq;
    std::vector<std::uint64_t> received;
    std::vector<std::uint64_t> reordered;

    // The peer's close frame arrived (RFC 6455 §5.5.1): nothing more will be
    // read but its EOF. The worker answers at once, so this is close_received
    // only until the answer is written, closed from then on.
    bool close_received() const {
        return ws && (ws->state() == proto::ws_state::close_received || ws->state() == proto::ws_state::closed);
    }
};

}  // namespace wsring::bench
