// A reactor test suite that runs once per backend: derive the fixture from
// per_backend and instantiate it with backend_kinds() and backend_label.
// The io_uring run is skipped (with the kernel's reason) where this kernel
// or build has no usable io_uring.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "net/reactor.hpp"
#ifdef WSRING_HAVE_URING
#include "net/uring_reactor.hpp"
#endif

namespace wsring::net::test {

class per_backend : public ::testing::TestWithParam<backend_kind> {
protected:
    void SetUp() override {
        if (GetParam() != backend_kind::uring) return;
        std::string why = "built without liburing";
#ifdef WSRING_HAVE_URING
        if (uring_reactor::available(why)) return;
#endif
        GTEST_SKIP() << "io_uring unavailable: " << why;
    }
};

inline auto backend_kinds() { return ::testing::Values(backend_kind::epoll, backend_kind::uring); }

inline std::string backend_label(const ::testing::TestParamInfo<backend_kind>& info) {
    return info.param == backend_kind::uring ? "uring" : "epoll";
}

}  // namespace wsring::net::test
