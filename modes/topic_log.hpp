// The topic log: every topic's position (an epoch and the last offset) and
// its bounded history, shared by all reactors of a node. It is the sequencer
// of pub/sub: offsets are handed out here, under one lock, and the publisher
// claims its broadcast-ring sequence inside the same critical section, so
// every reactor (each reading the ring in order) sees a topic's messages in
// offset order. History entries are the ring entries' own wsring.v1 frames
// (refcounted, encoded once): a replay sends them by reference.
//
// Bounds: per topic `max_messages` and `ttl`; all topics together
// `max_bytes` (oldest first). A topic with no subscriber and no history is
// forgotten; if it comes back it gets a new epoch (its offsets restart), so
// a client's old position can never be mistaken for the new run's.
//
// Multi-node (history_options::remote): a broker (modes/broker.hpp) is the
// sequencer instead, and feeds what it learns through the `*_remote` calls;
// the reactors' side (retain, recover) and the wire protocol
// (proto/wsring_v1.hpp) stay the same.
// Read next: modes/pubsub_handler.hpp ("positions"), docs/protocol-v1.md.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/counter.hpp"
#include "core/shared_buffer.hpp"
#include "proto/wsring_v1.hpp"

namespace wsring::modes {

struct history_options {
    std::size_t max_messages = 1000;              // per topic; 0: no history
    std::chrono::milliseconds ttl{300000};        // per message; 0: no age limit
    std::size_t max_bytes = 64u << 20;            // all topics together
    // Offsets come from a broker: a topic starts out of sync (no epoch)
    // until the broker's sync_remote, and only the broker forgets topics.
    bool remote = false;
};

// A run of stored frames to send: bytes [begin, end) of `frames`, holding
// `messages` complete wsring.v1 server frames.
struct frames_slice {
    core::shared_buffer frames;
    std::size_t begin = 0;
    std::size_t end = 0;
    std::uint32_t messages = 0;
};

// A topic's position: its epoch and the offset of its last message (0: none yet).
struct topic_position {
    std::string epoch;
    std::uint64_t offset = 0;
    bool synced = true;  // remote: false until the broker synced the topic (then meaningless)
    // Remote: where the broker's last sync put the topic. A reactor that
    // waited for the sync starts there (what was applied after it is in
    // the ring for that reactor to deliver), not at the position now.
    std::string synced_epoch;
    std::uint64_t synced_at = 0;
};

// What became of a broker's live messages (topic_log::append_remote).
enum class remote_append : std::uint8_t {
    applied,      // in the log (and, through encode, in the ring)
    duplicate,    // all of them were there already: nothing done
    gap,          // they start after the topic's next offset: nothing done
    other_epoch,  // not the topic's epoch: nothing done
    not_synced,   // nobody follows the topic here (or not yet): nothing done
};

// Gauges and totals, written under the log's mutex (one writer at a time),
// read by stats() without it: GET /metrics never waits for a publisher.
struct topic_log_stats {
    core::counter topics = 0;           // known now
    core::counter entries = 0;          // history entries now (one per ring entry)
    core::counter messages = 0;         // history messages now
    core::counter bytes = 0;            // history bytes now (frames + bookkeeping)
    core::counter evicted_bytes = 0;  // bytes of entries dropped by max_bytes (cumulative)
    core::counter expired = 0;        // messages dropped by ttl (cumulative)
    core::counter forgotten = 0;      // topics forgotten (cumulative)
};

class topic_log {
public:
    using clock = std::function<std::chrono::steady_clock::time_point()>;
    using epoch_source = std::function<std::string()>;

    // `now`: empty → steady_clock::now (tests inject one). `new_epoch`:
    // empty → 8 random characters of [A-Za-z0-9] per topic run.
    explicit topic_log(const history_options& o, clock now = {}, epoch_source new_epoch = {});
    ~topic_log();
    topic_log(const topic_log&) = delete;
    topic_log& operator=(const topic_log&) = delete;

    const history_options& options() const { return opts_; }
    bool keeps_history() const { return opts_.max_messages != 0; }

    // ---- publishing ------------------------------------------------------------
    // Hands out the next `messages` offsets of `topic` (a new topic starts an
    // epoch at offset 1) and, still under the lock, calls
    //   encode(std::string_view epoch, std::uint64_t first_offset) -> core::shared_buffer
    // which returns the messages as wsring.v1 frames (or an empty buffer
    // when nobody needs them and there is no history). They become the
    // topic's newest history entry (trimming by count, ttl and bytes).
    // Whatever `encode` does happens in offset order across threads: the
    // publisher claims its ring sequence in there. Keep it short (encode,
    // claim; never wait). Returns the first offset.
    template <class Encode>
    std::uint64_t append(std::string_view topic, std::uint32_t messages, Encode&& encode) {
        using fn_type = std::remove_reference_t<Encode>;
        return append_with(
            topic, messages,
            [](void* fn, std::string_view epoch, std::uint64_t first) {
                return (*static_cast<fn_type*>(fn))(epoch, first);
            },
            const_cast<void*>(static_cast<const void*>(&encode)));
    }

    // ---- subscribing: per reactor and topic, not per connection ---------------
    // A reactor's first local subscriber of `topic`: keeps the topic (and so
    // its epoch) alive, creating it if unknown; returns its position now.
    topic_position retain(std::string_view topic);
    // ... and its last one leaving. True when that was the node's last
    // retain of the topic (a broker may stop following it).
    bool release(std::string_view topic);
    // Where `topic` stands now; nullopt when unknown.
    std::optional<topic_position> position(std::string_view topic) const;

    // ---- a broker's side (remote): it sequences, the log follows -----------------
    // One stored message of the broker's history for sync_remote: its
    // offset, its age, and its wsring.v1 frame.
    struct stored_message {
        std::uint64_t offset = 0;
        std::chrono::milliseconds age{0};
        core::shared_buffer frame;
    };
    // The topic is in sync from now: its epoch and last offset, and the
    // broker's stored messages (contiguous, oldest first, ending at `last`)
    // as its history, replacing what was there. False (nothing changes)
    // when nobody retains the topic.
    bool sync_remote(std::string_view topic, std::string_view epoch, std::uint64_t last,
                     std::vector<stored_message> history);
    // Live messages [first, first + messages) of `epoch`, in the broker's
    // order: applied when they continue the topic exactly (encode is then
    // called under the lock, as in append, with `first`). Anything else is
    // reported and left for the broker to repair.
    template <class Encode>
    remote_append append_remote(std::string_view topic, std::string_view epoch, std::uint64_t first,
                                std::uint32_t messages, Encode&& encode) {
        using fn_type = std::remove_reference_t<Encode>;
        return append_remote_with(
            topic, epoch, first, messages,
            [](void* fn, std::string_view e, std::uint64_t f) { return (*static_cast<fn_type*>(fn))(e, f); },
            const_cast<void*>(static_cast<const void*>(&encode)));
    }
    // The broker could not repair a gap: the topic now stands at
    // `epoch`:`last` with no history, and encode (called under the lock
    // with them, its result not stored) claims the ring entry that tells
    // the subscribers. False when nobody follows the topic here.
    template <class Encode>
    bool reset_remote(std::string_view topic, std::string_view epoch, std::uint64_t last, Encode&& encode) {
        using fn_type = std::remove_reference_t<Encode>;
        return reset_remote_with(
            topic, epoch, last,
            [](void* fn, std::string_view e, std::uint64_t f) { return (*static_cast<fn_type*>(fn))(e, f); },
            const_cast<void*>(static_cast<const void*>(&encode)));
    }
    // The broker stops following `topic`: only if nobody retains it (false
    // otherwise, and nothing changes); its now stale record is forgotten.
    bool try_unsync(std::string_view topic);

    // Whether `since` can be honoured up to `up_to` (the position the
    // reactor's subscribers of `topic` stand at; ≤ the topic's own): the
    // epoch matches, since.offset ≤ up_to, and the history still holds every
    // message of (since.offset, up_to], unexpired. Then `replay` holds them
    // in order (empty when nothing was missed). The topic must be retained.
    struct recovery {
        bool recovered = false;
        std::vector<frames_slice> replay;
    };
    recovery recover(std::string_view topic, proto::v1::position since, std::uint64_t up_to) const;

    // Drops history older than the ttl and forgets topics with no subscriber
    // and no history. Cheap to call every loop turn: runs at most once a second.
    void sweep();

    topic_log_stats stats() const;

    // What one history entry and one topic cost besides their frames (the
    // closing note's figures; bytes counts them against max_bytes).
    static std::size_t entry_overhead();
    static std::size_t topic_overhead(std::size_t name_size);

private:
    using encode_fn = core::shared_buffer (*)(void* fn, std::string_view epoch, std::uint64_t first);
    std::uint64_t append_with(std::string_view topic, std::uint32_t messages, encode_fn encode, void* fn);
    remote_append append_remote_with(std::string_view topic, std::string_view epoch, std::uint64_t first,
                                     std::uint32_t messages, encode_fn encode, void* fn);
    bool reset_remote_with(std::string_view topic, std::string_view epoch, std::uint64_t last,
                           encode_fn encode, void* fn);

    struct impl;  // the records, their history, the global age order (topic_log.cpp)
    history_options opts_;
    mutable std::mutex mutex_;
    std::unique_ptr<impl> impl_;
};

}  // namespace wsring::modes
