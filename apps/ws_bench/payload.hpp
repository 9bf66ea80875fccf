// What ws-bench puts in a message and how it checks what comes back. Every
// field is written as "nibble letters" ('a' + 4 bits), so the same bytes are
// valid UTF-8 for --text and plain bytes for --binary. The stamp:
//   echo:       [8: sequence (32 bits)]
//   broadcast:  [4: publisher (16 bits)] [8: sequence] [16: timestamp ns]
// sits in a payload of exactly -s bytes (--payload):
//   random  [stamp] [random bytes, or printable ASCII for --text ...]
//           fixed per run: only the stamp changes from message to message.
//   json    {"seq":"[stamp]","user":"user0042","text":"lorem ipsum ..."}
//           ASCII text cut or padded to -s bytes (the stamp first when -s
//           is too small for the frame around it): compressible, like the
//           chat and API traffic permessage-deflate is meant for. The user
//           and the words differ per message (same vocabulary): they are a
//           function of the run's seed and the message's key (echo: its
//           sequence; broadcast: publisher and sequence), so a compressor
//           with context takeover cannot send a message as one back-reference
//           to the one before.
// With --verify the receiver reads the key back from the stamp, regenerates
// the message and compares every byte but the stamp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace wsring::bench {

inline constexpr std::size_t echo_header_bytes = 8;
inline constexpr std::size_t broadcast_header_bytes = 28;

// Writes `v`'s low 4*n bits as n letters 'a'..'p', most significant first.
void write_nibbles(std::byte* out, std::uint64_t v, std::size_t n);
// Reads n letters back; false if one is not in 'a'..'p'.
bool read_nibbles(const std::byte* in, std::size_t n, std::uint64_t& v);

struct broadcast_stamp {
    std::uint32_t publisher = 0;
    std::uint32_t sequence = 0;
    std::uint64_t sent_ns = 0;
};
void write_broadcast_stamp(std::byte* out, const broadcast_stamp& s);
bool read_broadcast_stamp(std::span<const std::byte> payload, broadcast_stamp& s);
// A broadcast message's key for payload_template (the time is left out: the
// sender stamps it after the body is written).
inline std::uint64_t message_key(const broadcast_stamp& s) {
    return std::uint64_t{s.publisher} << 32 | s.sequence;
}

enum class payload_kind : std::uint8_t { random, json };

const char* payload_kind_name(payload_kind k);

class payload_template {
public:
    // `size` bytes of `kind` with room for a stamp of `stamp` bytes (random:
    // printable ASCII for text, pseudo-random bytes for binary; json: ASCII).
    payload_template(std::size_t size, payload_kind kind, bool text, std::size_t stamp, std::uint64_t seed);

    std::size_t size() const { return bytes_.size(); }
    // Where the stamp starts (0 for random; 8, inside "seq", for json).
    std::size_t stamp_offset() const { return stamp_offset_; }
    // Message `key`'s bytes in a scratch buffer (json: rewritten for `key`;
    // random: the fixed template). The sender writes the stamp, which must
    // give the receiver `key` back, before encoding. No allocation.
    std::span<std::byte> message(std::uint64_t key);
    // True when `payload` has the template's size and equals message `key`
    // everywhere but the `stamp` bytes at stamp_offset(). json regenerates
    // into a second buffer (not the sender's scratch) without allocating.
    bool body_matches(std::span<const std::byte> payload, std::size_t stamp, std::uint64_t key);

private:
    void write_json(std::span<std::byte> out, std::uint64_t key) const;

    std::vector<std::byte> bytes_;    // the fixed parts (random: all of it)
    std::vector<std::byte> scratch_;  // what the sender sends
    std::vector<std::byte> expect_;   // what the receiver compares with (json)
    std::size_t stamp_offset_ = 0;
    bool json_ = false;
    std::uint64_t seed_ = 0;
    // json: the user's 4 digits start at user_at_; the words fill
    // [text_at_, text_end_). Each is clipped to the payload's size.
    std::size_t user_at_ = 0, text_at_ = 0, text_end_ = 0;
};

// xorshift64*: fast, non-cryptographic. Masking keys for load come from
// here; RFC 6455 §5.3 asks for unpredictable keys to protect proxies from
// crafted traffic, which a benchmark on a loopback does not need. The
// handshake key still comes from the CSPRNG (make_client_key()).
class fast_rng {
public:
    explicit fast_rng(std::uint64_t seed) : state_(seed | 1) {}
    std::uint64_t next() {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545F4914F6CDD1DULL;
    }

private:
    std::uint64_t state_;
};

}  // namespace wsring::bench
