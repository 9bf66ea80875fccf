// What travels through Redis: key names, the two Lua scripts and the three
// formats a node reads back (channel batch, publish reply, sync reply).
// Every parser here is strict — an unexpected shape is false, never a guess —
// because what it returns becomes offsets that clients resume from. No I/O:
// cluster/redis_link.cpp carries the bytes, cluster/redis_broker_*.cpp act.
// Read cluster/redis_wire.hpp first; the scripts' comments are the spec.
#include "cluster/redis_wire.hpp"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <array>
#include <limits>

#include "proto/decimal.hpp"
#include "proto/wsring_v1.hpp"

namespace wsring::cluster {
namespace {

constexpr std::string_view key_prefix = "wsring:{";

// publish_script. Lua 5.1 inside Redis: numbers are doubles, and tostring()
// or `..` writes 1e+15 for big ones, so every number that becomes a stream
// id, a decimal in the channel batch or a reply string goes through
// string.format('%d', n) (a C long here: exact below 2^53, far past any
// offset). A topic without meta starts a new epoch: its old stream (kept by
// a longer TTL, or left from before a flush) belongs to the old epoch and
// would make XADD 0-1 fail, so it goes.
// Both scripts start a topic the same way: the meta's epoch, or, when it
// has none, the node's candidate, the offset at 0 and the old stream gone.
constexpr std::string_view epoch_source = R"lua(
local function epoch_of(meta, stream, candidate)
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    epoch = candidate
    redis.call('DEL', stream)
    redis.call('HSET', meta, 'e', epoch, 'o', 0)
  end
  return epoch
end
)lua";

constexpr std::string_view publish_source = R"lua(
local meta, stream = KEYS[1], KEYS[2]
local channel, candidate, origin = ARGV[1], ARGV[2], ARGV[6]
local max, ttl, meta_ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if not (max and ttl and meta_ttl and origin) then
  return redis.error_reply('wsring publish: bad arguments')
end
local epoch = epoch_of(meta, stream, candidate)
local n = #ARGV - 6
local last = redis.call('HINCRBY', meta, 'o', n)
local first = last - n + 1
local time = redis.call('TIME')
local now = string.format('%d', tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
local parts = {epoch, ' ', string.format('%d', first), ' ', origin, '\n'}
for i = 1, n do
  local m = ARGV[6 + i]
  if max > 0 then
    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[3], string.format('0-%d', first + i - 1), 'm', m, 't', now)
  end
  parts[#parts + 1] = string.format('%d', #m)
  parts[#parts + 1] = ':'
  parts[#parts + 1] = m
end
if max > 0 and ttl > 0 then redis.call('PEXPIRE', stream, ARGV[4]) end
if meta_ttl > 0 then redis.call('PEXPIRE', meta, ARGV[5]) end
redis.call('PUBLISH', channel, table.concat(parts))
return {epoch, first}
)lua";

// sync_script. `last` goes back as the string HGET read (exact at any
// size); `from` is checked to be digits before it becomes an id. Past the
// end there is nothing to read, and XRANGE is not asked.
constexpr std::string_view sync_source = R"lua(
local meta, stream = KEYS[1], KEYS[2]
local candidate, from, meta_ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
if not (candidate and from and meta_ttl and string.match(from, '^%d+$')) then
  return redis.error_reply('wsring sync: bad arguments')
end
local epoch = epoch_of(meta, stream, candidate)
local last = redis.call('HGET', meta, 'o') or '0'
if meta_ttl > 0 then redis.call('PEXPIRE', meta, ARGV[3]) end
local time = redis.call('TIME')
local now = string.format('%d', tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
local entries = {}
if tonumber(from) <= tonumber(last) then
  entries = redis.call('XRANGE', stream, '0-' .. from, '+')
end
return {epoch, last, now, entries}
)lua";

std::string sha1_hex(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha1(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

std::string_view as_view(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// A bulk string reply's bytes; false for any other type.
bool string_of(const redisReply* r, std::string_view& out) {
    if (r == nullptr || r->type != REDIS_REPLY_STRING) return false;
    out = {r->str, r->len};
    return true;
}

bool array_of(const redisReply* r, std::size_t n) {
    return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == n;
}

// Takes "<decimal><stop>" off the front of `in`.
bool take_decimal(std::string_view& in, char stop, std::uint64_t& out) {
    const auto end = in.find(stop);
    if (end == std::string_view::npos || !proto::parse_decimal(in.substr(0, end), out)) return false;
    in.remove_prefix(end + 1);
    return true;
}

// One XRANGE entry: ["0-<offset>", [m, <message>, t, <ms>]] (fields in any order).
bool parse_entry(const redisReply* e, std::uint64_t now_ms, stored_message& out) {
    std::string_view id;
    if (!array_of(e, 2) || !string_of(e->element[0], id) || !id.starts_with("0-") ||
        !proto::parse_decimal(id.substr(2), out.offset) || !array_of(e->element[1], 4))
        return false;
    const redisReply* fields = e->element[1];
    std::string_view m, t;
    bool have_m = false, have_t = false;
    for (std::size_t i = 0; i < 4; i += 2) {
        std::string_view name, value;
        if (!string_of(fields->element[i], name) || !string_of(fields->element[i + 1], value)) return false;
        if (name == "m" && !have_m) {
            have_m = true;
            m = value;
        } else if (name == "t" && !have_t) {
            have_t = true;
            t = value;
        } else {
            return false;
        }
    }
    std::uint64_t t_ms = 0;
    if (!proto::parse_decimal(t, t_ms) || !decode_message(m, out.message)) return false;
    out.age_ms = now_ms > t_ms ? now_ms - t_ms : 0;
    return true;
}

}  // namespace

topic_keys keys_of(std::string_view topic) {
    std::string channel = std::string(key_prefix).append(topic).append("}");
    return {channel + ":meta", channel + ":log", channel};
}

std::string_view topic_of_channel(std::string_view channel) {
    if (channel.size() <= key_prefix.size() + 1 || !channel.starts_with(key_prefix) || !channel.ends_with('}'))
        return {};
    return channel.substr(key_prefix.size(), channel.size() - key_prefix.size() - 1);
}

const script& publish_script() {
    static const std::string text = std::string(epoch_source).append(publish_source);
    static const script s{text, sha1_hex(text)};
    return s;
}

const script& sync_script() {
    static const std::string text = std::string(epoch_source).append(sync_source);
    static const script s{text, sha1_hex(text)};
    return s;
}

void encode_message(proto::opcode op, std::span<const std::byte> payload, std::string& out) {
    out.clear();
    out.reserve(1 + payload.size());
    out += op == proto::opcode::binary ? 'b' : 't';
    out += as_view(payload);
}

bool decode_message(std::string_view in, wire_message& out) {
    if (in.empty() || (in[0] != 't' && in[0] != 'b')) return false;
    out.op = in[0] == 't' ? proto::opcode::text : proto::opcode::binary;
    out.payload = as_bytes(in.substr(1));
    return true;
}

bool parse_channel_batch(std::string_view in, channel_batch& out) {
    out.messages.clear();
    // Header: "<epoch> <first> <origin>\n". Offsets start at 1, so first 0
    // (or a batch whose last offset would pass 2^64 - 1) is not one of ours.
    const auto space = in.find(' ');
    if (space == std::string_view::npos || !proto::v1::valid_epoch(in.substr(0, space))) return false;
    out.epoch = in.substr(0, space);
    in.remove_prefix(space + 1);
    if (!take_decimal(in, ' ', out.first) || out.first == 0) return false;
    const auto newline = in.find('\n');
    if (newline == std::string_view::npos || newline == 0) return false;
    out.origin = in.substr(0, newline);
    in.remove_prefix(newline + 1);
    // Body: "<len>:<encoded>" until the input ends exactly.
    while (!in.empty()) {
        std::uint64_t len = 0;
        wire_message m;
        if (!take_decimal(in, ':', len) || len > in.size() || !decode_message(in.substr(0, len), m)) return false;
        out.messages.push_back(m);
        in.remove_prefix(len);
    }
    return out.messages.size() <= std::numeric_limits<std::uint64_t>::max() - out.first + 1;
}

std::string format_channel_batch(std::string_view epoch, std::uint64_t first, std::string_view origin,
                                 std::span<const wire_message> messages) {
    std::string out;
    out.append(epoch).append(" ").append(std::to_string(first)).append(" ").append(origin).append("\n");
    for (const wire_message& m : messages) {
        out.append(std::to_string(1 + m.payload.size())).append(":");
        out += m.op == proto::opcode::binary ? 'b' : 't';
        out.append(as_view(m.payload));
    }
    return out;
}

bool parse_publish_reply(const redisReply& r, std::string_view& epoch, std::uint64_t& first) {
    // {epoch, first}: a Lua number comes back as an integer reply.
    std::string_view e;
    if (!array_of(&r, 2) || !string_of(r.element[0], e) || !proto::v1::valid_epoch(e) ||
        r.element[1] == nullptr || r.element[1]->type != REDIS_REPLY_INTEGER || r.element[1]->integer < 1)
        return false;
    epoch = e;
    first = static_cast<std::uint64_t>(r.element[1]->integer);
    return true;
}

bool parse_sync_reply(const redisReply& r, sync_reply& out) {
    // {epoch, last, now ms, entries}; the numbers as strings (exact).
    out.messages.clear();
    std::string_view last, now;
    std::uint64_t now_ms = 0;
    if (!array_of(&r, 4) || !string_of(r.element[0], out.epoch) || !proto::v1::valid_epoch(out.epoch) ||
        !string_of(r.element[1], last) || !proto::parse_decimal(last, out.last) ||
        !string_of(r.element[2], now) || !proto::parse_decimal(now, now_ms) || r.element[3] == nullptr ||
        r.element[3]->type != REDIS_REPLY_ARRAY)
        return false;
    const redisReply* entries = r.element[3];
    out.messages.reserve(entries->elements);
    for (std::size_t i = 0; i < entries->elements; ++i) {
        stored_message m;
        // In offset order, none past the topic's last offset.
        if (!parse_entry(entries->element[i], now_ms, m) || m.offset == 0 || m.offset > out.last ||
            (!out.messages.empty() && m.offset <= out.messages.back().offset))
            return false;
        out.messages.push_back(m);
    }
    return true;
}

}  // namespace wsring::cluster
