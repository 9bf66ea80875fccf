// ws-client's command line: every option, its default, its parsing, and the
// --help text (with the exit-code table) generated from the same table so
// the two cannot disagree. Values are parsed by apps/cmdline.hpp.
#pragma once
#include <string>

#include "net/ws_client.hpp"

namespace wsring::apps {

// Exit codes: how the connection ended (written once, printed by --help).
enum exit_code : int {
    exit_normal = 0,      // closed with 1000 (stdin EOF, or the server's 1000)
    exit_internal = 1,    // setup failed (not a connection outcome): e.g. an unreadable --ca file
    exit_usage = 2,       // bad command line
    exit_no_connect = 3,  // could not connect, or the handshake was refused
    exit_peer_code = 4,   // closed with a code other than 1000: the server's, or ours for a broken rule
    exit_lost = 5,        // connection lost without a close frame (1006), timeouts included
};

struct client_cli {
    net::ws_client_options client;
    bool hex = false;        // binary messages as hex lines
    bool resume = false;     // wsring.v1 positions and ?since= on reconnect
    bool positions = false;  // print each message's position line too
    std::string ca_file;     // wss://: trust these PEM certificates instead of the system's
    bool insecure = false;   // wss://: check no certificate (and no name)
    bool help = false;
};

// On an error returns false with a one-line message ("--backoff-base: ..."):
// the caller prints it and exits 2.
bool parse_cli(int argc, char** argv, client_cli& out, std::string& error);
std::string help_text();

}  // namespace wsring::apps
