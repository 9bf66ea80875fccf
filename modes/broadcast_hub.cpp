// broadcast_hub: the ring and the reactor list. Waking goes through
// reactor::wake(), which costs a fence and a load when the reactor is awake
// and one eventfd write when it announced sleep (core/consumer_wakeup.hpp).
#include "modes/broadcast_hub.hpp"

#include "net/reactor.hpp"

namespace wsring::modes {

broadcast_hub::broadcast_hub(std::size_t capacity, std::size_t reactors, const history_options& history,
                             topic_log::clock clock)
    : ring_(capacity, reactors), reactors_(reactors, nullptr), log_(history, std::move(clock)) {
    for (std::size_t i = 0; i < reactors; ++i) inboxes_.push_back(std::make_unique<broker_inbox>());
}

void broadcast_hub::wake(std::uint32_t i) {
    if (reactor* r = reactors_.at(i)) r->wake();
}

void broadcast_hub::wake_all(std::uint32_t except) {
    for (std::uint32_t i = 0; i < reactors_.size(); ++i)
        if (i != except && reactors_[i]) reactors_[i]->wake();
}

}  // namespace wsring::modes
