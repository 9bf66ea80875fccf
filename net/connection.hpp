// One client connection: the per-connection state that both halves share —
// the session logic (net/session.cpp: state, protocol state machine, flags) and the backend
// that moves its bytes (net/reactor_base.cpp and its backends,
// net/epoll_reactor.cpp and net/uring_reactor.cpp: fd, list links, io flags).
//
// Memory per idle connection is a design target (≤ 256 bytes of RSS), so this
// struct is plain data, laid out largest first, and holds no heap while idle:
// the decoder (inside proto::connection) frees its message buffer after each message, the write queue
// frees its blocks once sent, and an HTTP request's parser and body exist
// only while that request is read (net/http_exchange.hpp). Connections live
// in a connection_pool (slab), never alone.
// Read next: net/session.hpp.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/timer_wheel.hpp"
#include "net/write_queue.hpp"
#include "proto/connection.hpp"
#include "proto/handshake.hpp"

namespace wsring::net {

// The lifecycle (RFC 6455 §4, §7). Every transition is in session.cpp
// (outbound's: net/reactor_base.cpp's dial path).
enum class conn_state : std::uint8_t {
    free,       // a pool slot not in use
    handshake,  // reading the HTTP request (§4.2.1)
    open,       // 101 sent: WebSocket OPEN (§4.2.2)
    closing,    // we sent a close frame (ws.close_sent()); waiting for the peer's (§7.1.2)
    draining,   // nothing more to read: send what is queued, then end TCP
    lingering,  // FIN sent (shutdown SHUT_WR): discard input until EOF or timer
    // A client connection (reactor_base::dial): its protocol is a
    // client_session's, reached through a client_link; session.cpp never sees it.
    outbound,
    closed,     // socket closed; the slot is recycled at the end of the loop turn
};

// Session flags (session.cpp owns them).
enum session_flag : std::uint8_t {
    sf_read_only = 1 << 0,      // access: the token's roles may not publish on this topic (1008)
    sf_pinged = 1 << 1,         // a keep-alive ping is out, no byte received since
    sf_counted = 1 << 2,        // counted against --max-connections
    sf_read_paused = 1 << 3,    // backpressure: output above the high-water mark
    sf_linger = 1 << 4,         // draining ends with FIN + linger, not a plain close
    sf_peer_eof = 1 << 5,       // the peer shut its side: nothing more will come
    sf_deferred = 1 << 6,       // an HTTP answer the handler gives later (reading waits)
    sf_expires = 1 << 7,        // access: the token expires (when: session's expiry table)
};

// Backend flags (the reactor owns them; the session only peeks at io_dirty).
enum io_flag : std::uint8_t {
    io_dirty = 1 << 0,          // on the flush list for this turn
    io_write_blocked = 1 << 1,  // the socket is full: wait for writable
    io_read_queued = 1 << 2,    // on the list of connections to read next turn
    io_hup = 1 << 3,            // the poller saw hang-up/error: read until EOF/error
    io_eof = 1 << 4,            // read returned 0: never read again
};

class http_exchange;
class tls_stream;

struct connection : core::timer_node {  // the one timer a connection needs at a time
    proto::connection ws{proto::role::server};  // RFC 6455 framing and close handshake
    write_queue out;
    // From an HTTP request's first byte to its answer (the upgrade request,
    // or each plain request of a keep-alive connection); null in between.
    http_exchange* http = nullptr;
    connection* next_dirty = nullptr;       // the reactor's flush list
    connection* next_read = nullptr;        // the reactor's read-again list
    // wss:// only: the record layer between the socket and this struct's
    // plaintext (net/tls_stream.hpp); null for ws://. Made at accept, freed
    // with the slot (a send may point into its ciphertext until then).
    tls_stream* tls = nullptr;
    std::uint32_t last_rx = 0;              // wheel tick of the last byte received (mod 2^32)
    int fd = -1;
    conn_state state = conn_state::free;
    std::uint8_t flags = 0;  // session_flag
    std::uint8_t io = 0;     // io_flag
    // permessage-deflate (RFC 7692): 0 when not agreed, else what the
    // handshake agreed, packed by net/deflate_contexts.cpp.
    std::uint8_t deflate = 0;
    // The message handler's own bits (pub/sub: which framing this subscriber
    // speaks, modes/pubsub_handler.hpp); 0 at accept.
    std::uint8_t mode = 0;
    // io_uring: bytes read for this connection in this turn so far, from
    // the ring and by plain reads (4 KiB units, rounded up, at most 255):
    // a turn reads at most the receive buffer's size of one connection
    // (uring_reactor::turn_share). In the padding before `send_slot`.
    std::uint8_t turn_read_4k = 0;
    // io_uring: the msghdr slot (+1; 0: a plain send) of the send in flight,
    // so that a close cancels it by its exact user_data (in the padding
    // before `topic`: no bigger for it).
    std::uint16_t send_slot = 0;
    // Broadcast/pub-sub (modes/topic_table.hpp): the reactor-local topic index
    // and this connection's place in that topic's subscriber list.
    std::uint32_t topic = 0xffffffffu;
    std::uint32_t topic_pos = 0;
};

// A slab of connections for one reactor (one thread). Slots are allocated in
// chunks and recycled through a free list threaded through next_dirty; a
// recycled slot gets a fresh proto::connection. Slots stay constructed so a shutdown
// can walk every live connection without a separate index.
class connection_pool {
public:
    explicit connection_pool(proto::decoder_limits limits, std::size_t chunk = 256)
        : limits_(limits), chunk_(chunk) {}
    connection_pool(const connection_pool&) = delete;
    connection_pool& operator=(const connection_pool&) = delete;

    connection* acquire();
    // The slot must be closed and its queue cleared; it becomes free.
    void release(connection* c);
    std::size_t live() const { return live_; }

    // Calls f(connection&) for every slot not free (a shutdown walk).
    template <class F>
    void for_each_live(F&& f) {
        for (auto& chunk : chunks_)
            for (std::size_t i = 0; i < chunk_; ++i)
                if (chunk[i].state != conn_state::free) f(chunk[i]);
    }

private:
    proto::decoder_limits limits_;
    std::size_t chunk_;
    std::vector<std::unique_ptr<connection[]>> chunks_;
    connection* free_ = nullptr;
    std::size_t live_ = 0;
};

}  // namespace wsring::net
