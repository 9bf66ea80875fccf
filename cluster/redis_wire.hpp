// What travels through Redis, and nothing else: the key names of a topic,
// the two Lua scripts (publish: offsets + stream + channel in one atomic
// step; sync: a topic's position and stored messages), and the formats of
// what a node reads back (the channel message, the scripts' replies).
// Sans-IO: strings and hiredis reply trees in, views and values out; the
// connection that carries them is cluster/redis_link.hpp, the logic that
// uses them cluster/redis_broker.hpp. docs/cluster.md, "The Lua step".
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/frame_header.hpp"

struct redisReply;

namespace wsring::cluster {

// A topic's Redis names. All carry the hash tag {<topic>}, so one topic's
// keys would share a slot under Redis Cluster too (we shard ourselves).
//   meta    "wsring:{<topic>}:meta"  hash: e = epoch, o = last offset
//   stream  "wsring:{<topic>}:log"   stream: id 0-<offset>, fields m, t
//   channel "wsring:{<topic>}"       pub/sub channel: channel batches
struct topic_keys {
    std::string meta, stream, channel;
};
topic_keys keys_of(std::string_view topic);
// The topic a channel name belongs to; empty view when it is not one of ours.
std::string_view topic_of_channel(std::string_view channel);

// A Lua script: its text (for SCRIPT LOAD / EVAL) and SHA-1 in hex (EVALSHA).
struct script {
    std::string_view source;
    std::string sha1;
};

// publish_script — KEYS: meta, stream. ARGV: channel, candidate epoch,
// max messages (XADD MAXLEN ~), ttl ms (stream PEXPIRE; 0 none), meta ttl
// ms, origin, then one encoded message each (encode_message). Atomically:
// creates the epoch (the candidate) if the topic has none, hands out the
// next offsets, XADDs each message as id 0-<offset> {m, t = Redis time ms},
// PUBLISHes one channel batch, and returns {epoch, first offset}.
const script& publish_script();
// sync_script — KEYS: meta, stream. ARGV: candidate epoch, from offset,
// meta ttl ms. Creates the epoch if none (offset 0), and returns
// {epoch, last offset, Redis time ms, XRANGE stream 0-<from> +}.
const script& sync_script();

// One message as stored and published: op ('t' text, 'b' binary) + payload.
struct wire_message {
    proto::opcode op = proto::opcode::text;
    std::span<const std::byte> payload;
};
void encode_message(proto::opcode op, std::span<const std::byte> payload, std::string& out);
bool decode_message(std::string_view in, wire_message& out);  // false: malformed

// The channel message publish_script sends:
//   "<epoch> <first offset> <origin>\n" then, per message, "<len>:<encoded>"
// (len in decimal bytes of the encoded message). Views point into `in`.
struct channel_batch {
    std::string_view epoch;
    std::uint64_t first = 0;
    std::string_view origin;
    std::vector<wire_message> messages;
};
bool parse_channel_batch(std::string_view in, channel_batch& out);  // false: malformed
// The same, built in C++ (tests, the fuzzer's round trip).
std::string format_channel_batch(std::string_view epoch, std::uint64_t first, std::string_view origin,
                                 std::span<const wire_message> messages);

// publish_script's reply. Views point into the reply.
bool parse_publish_reply(const redisReply& r, std::string_view& epoch, std::uint64_t& first);

// sync_script's reply. Views point into the reply.
struct stored_message {
    std::uint64_t offset = 0;
    std::uint64_t age_ms = 0;  // Redis time now − its t field (0 if in the future)
    wire_message message;
};
struct sync_reply {
    std::string_view epoch;
    std::uint64_t last = 0;
    std::vector<stored_message> messages;  // in offset order
};
bool parse_sync_reply(const redisReply& r, sync_reply& out);  // false: malformed

}  // namespace wsring::cluster
