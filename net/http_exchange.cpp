// Reading a request body that may come in any split (net/http_exchange.hpp).
#include "net/http_exchange.hpp"

#include <algorithm>

namespace wsring::net {

bool http_exchange::take_body(std::span<const std::byte> in, std::size_t& used,
                              std::span<const std::byte>& body) {
    used = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), body_left_));
    body_left_ -= used;
    if (body_left_ == 0 && body_.empty()) {  // the whole body in this read
        body = in.first(used);
        return true;
    }
    body_.insert(body_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(used));
    if (body_left_ > 0) return false;
    body = body_;
    return true;
}

}  // namespace wsring::net
