// Internal to proto/: the vector UTF-8 kernels of utf8_simd.cpp, called by
// utf8_validator::feed (utf8_fast.cpp), which handles code point boundaries
// between chunks and owns the DFA state. Not part of the public interface.
#pragma once
#include <cstddef>

namespace wsring::proto::detail {

// True when [p, p + n) could begin a valid UTF-8 text (RFC 3629 §4), given
// that p is on a code point boundary. A sequence cut at p + n is accepted:
// the caller finishes it with the DFA. Reads no byte outside [p, p + n).
// Call only when the CPU has the instruction set (base/cpu_features.hpp).
bool utf8_valid_prefix_avx2(const std::byte* p, std::size_t n);
bool utf8_valid_prefix_avx512(const std::byte* p, std::size_t n);

}  // namespace wsring::proto::detail
