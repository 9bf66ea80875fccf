// The cache-line size that lock-free code pads its shared indices to, so two
// threads' hot atomics never share a line (false sharing). One constant for
// every layer: core's broadcast ring and wake-up flag use it today.
// Read next: core/broadcast_ring.hpp.
#pragma once
#include <cstddef>

namespace wsring::base {

// One x86-64 / arm64 cache line. (std::hardware_destructive_interference_size
// makes g++ warn when used in a header, since it may change between flags.)
inline constexpr std::size_t cache_line = 64;

}  // namespace wsring::base
