// The backend choice. io_uring (issue 6) is not built yet: asking for it
// gets epoll, and the caller says so in its start-up log.
#include "net/reactor.hpp"

#include "net/epoll_reactor.hpp"

namespace wsring::net {

std::unique_ptr<reactor> make_reactor(backend_kind /*kind*/, int listen_fd,
                                      const reactor_options& ro, const session_options& so,
                                      session_shared& shared,
                                      std::unique_ptr<message_handler> handler) {
    // TODO(issue 6): backend_kind::uring → an io_uring reactor; epoll for both until then.
    return std::make_unique<epoll_reactor>(listen_fd, ro, so, shared, std::move(handler));
}

}  // namespace wsring::net
