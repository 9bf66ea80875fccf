// Operator messages from the library: one line on stderr, prefixed with the
// program's name. net/ is a library, so it does not know which binary it
// runs in: the application names itself once at start-up (set_program_name)
// and every line says who is speaking ("ws-server: io_uring unavailable...").
// Lines are for rare events (a fallback, running out of descriptors, a
// fatal poller error), never per connection.
#pragma once
#include <string_view>

namespace wsring::net {

// Before any reactor starts; the default is "wsring". Keeps its own copy.
void set_program_name(std::string_view name);

// printf-style, one line (the newline is added).
[[gnu::format(printf, 1, 2)]] void log_line(const char* fmt, ...);

}  // namespace wsring::net
