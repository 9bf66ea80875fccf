// What ws-bench puts in a message and how it checks what comes back. Every
// field is written as "nibble letters" ('a' + 4 bits), so the same bytes are
// valid UTF-8 for --text and plain bytes for --binary:
//   echo:       [8: sequence (32 bits)] [template ...]
//   broadcast:  [4: publisher (16 bits)] [8: sequence] [16: timestamp ns] [template ...]
// The template is fixed per run; with --verify every byte of it is compared.
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

class payload_template {
public:
    // `size` bytes: printable ASCII for text, pseudo-random bytes for binary.
    payload_template(std::size_t size, bool text, std::uint64_t seed);

    std::size_t size() const { return bytes_.size(); }
    // A scratch copy whose header the sender stamps before encoding.
    std::span<std::byte> scratch() { return scratch_; }
    // True when payload[from, size) equals the template's bytes there.
    bool body_matches(std::span<const std::byte> payload, std::size_t from) const;

private:
    std::vector<std::byte> bytes_;
    std::vector<std::byte> scratch_;
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
