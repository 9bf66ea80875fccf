// The library's one stderr writer (net/log.hpp). The line is built whole and
// written with one call, so lines from several reactor threads never mix.
#include "net/log.hpp"

#include <cstdarg>
#include <cstdio>
#include <string>

namespace wsring::net {

namespace {

// Written once before the reactor threads start, read by them afterwards
// (thread start is the synchronisation).
std::string& program_name() {
    static std::string name = "wsring";
    return name;
}

}  // namespace

void set_program_name(std::string_view name) { program_name() = name; }

void log_line(const char* fmt, ...) {
    char text[512];
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    std::string line = program_name() + ": " + text + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace wsring::net
