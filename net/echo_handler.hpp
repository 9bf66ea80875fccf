// Echo mode: every message goes back to its sender with the same opcode
// (what Autobahn's test suite and every WebSocket benchmark expect).
#pragma once
#include "net/message_handler.hpp"

namespace wsring::net {

class echo_handler final : public message_handler {
public:
    void on_message(session& s, connection& c, proto::opcode op,
                    std::span<const std::byte> payload) override;
};

}  // namespace wsring::net
