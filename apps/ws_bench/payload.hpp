// What ws-bench puts in a message and how it checks what comes back. Every
// field is written as "nibble letters" ('a' + 4 bits), so the same bytes are
// valid UTF-8 for --text and plain bytes for --binary. The stamp:
//   echo:       [8: sequence (32 bits)]
//   broadcast:  [4: publisher (16 bits)] [8: sequence] [16: timestamp ns]
// sits in a template fixed per run (--payload):
//   random  [stamp] [random bytes, or printable ASCII for --text ...]
//   json    {"seq":"[stamp]","user":"user0042","text":"lorem ipsum ..."}
//           ASCII text cut or padded to -s bytes (the stamp first when -s
//           is too small for the frame around it): compressible, like the
//           chat and API traffic permessage-deflate is meant for.
// With --verify every byte but the stamp is compared with the template.
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
    // A scratch copy whose stamp the sender writes before encoding.
    std::span<std::byte> scratch() { return scratch_; }
    // True when `payload` has the template's size and equals it everywhere
    // but the `stamp` bytes at stamp_offset().
    bool body_matches(std::span<const std::byte> payload, std::size_t stamp) const;

private:
    std::vector<std::byte> bytes_;
    std::vector<std::byte> scratch_;
    std::size_t stamp_offset_ = 0;
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
