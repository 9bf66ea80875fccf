// Echo: the session encodes the reply into the connection's write queue
// (copying it out of the receive buffer before that is reused).
#include "net/echo_handler.hpp"

#include "net/session.hpp"

namespace wsring::net {

void echo_handler::on_message(session& s, connection& c, proto::opcode op,
                              std::span<const std::byte> payload) {
    s.send_message(c, op, payload);
}

}  // namespace wsring::net
