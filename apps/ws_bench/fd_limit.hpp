// File descriptors: ws-bench holds one per connection plus a few of its own.
// Before any socket opens, raise the soft limit as far as the hard limit
// allows, and if that is still too few, say so with the numbers and the fix.
#pragma once
#include <cstddef>
#include <string>

namespace wsring::bench {

// Returns "" when `sockets` connections fit, else a message naming the limit.
std::string ensure_fd_limit(std::size_t sockets, unsigned threads);

}  // namespace wsring::bench
