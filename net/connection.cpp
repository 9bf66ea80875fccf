// The connection slab: chunks of slots and a free list through next_dirty.
#include "net/connection.hpp"

#include <cassert>

namespace wsring::net {

connection* connection_pool::acquire() {
    if (!free_) {
        // A new chunk; its slots join the free list in address order.
        chunks_.push_back(std::make_unique<connection[]>(chunk_));
        connection* chunk = chunks_.back().get();
        for (std::size_t i = chunk_; i-- > 0;) {
            chunk[i].next_dirty = free_;
            free_ = &chunk[i];
        }
    }
    connection* c = free_;
    free_ = c->next_dirty;
    c->next_dirty = nullptr;
    // A fresh protocol state per connection: the previous tenant's must not leak.
    c->ws = proto::connection(proto::role::server, limits_);
    c->state = conn_state::handshake;
    c->flags = 0;
    c->io = 0;
    c->turn_read_4k = 0;
    c->last_rx = 0;
    c->fd = -1;
    ++live_;
    return c;
}

void connection_pool::release(connection* c) {
    assert(c->out.empty() && c->http == nullptr && c->tls == nullptr && !c->armed());
    assert(!(c->io & (io_dirty | io_read_queued)) && "still on a reactor list");
    c->ws = proto::connection(proto::role::server);  // drop any buffered message now
    c->state = conn_state::free;
    c->next_read = nullptr;
    c->next_dirty = free_;
    free_ = c;
    --live_;
}

}  // namespace wsring::net
