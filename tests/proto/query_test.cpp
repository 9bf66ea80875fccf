// Tests for proto/query: one parameter of a query string, percent-decoded
// (RFC 3986 §2.1, §3.4). find_since's own cases are in wsring_v1_test.cpp.
#include "proto/query.hpp"

#include <gtest/gtest.h>

namespace wsring::proto {
namespace {

query_status param(std::string_view query, std::string_view name, std::string& value) {
    return find_query_param(query, name, value);
}

TEST(Query, FindsADecodedValueAmongOthers) {
    std::string v;
    EXPECT_EQ(param("a=1&token=ab.c%2Dd_e&since=x%3A1", "token", v), query_status::ok);
    EXPECT_EQ(v, "ab.c-d_e");
    EXPECT_EQ(param("%74oken=q", "token", v), query_status::ok) << "an encoded name is the same name";
    EXPECT_EQ(v, "q");
    EXPECT_EQ(param("token", "token", v), query_status::ok);
    EXPECT_EQ(v, "");
    EXPECT_EQ(param("a+b=c+d", "a+b", v), query_status::ok);
    EXPECT_EQ(v, "c+d") << "'+' is not a space in a URI query";
}

TEST(Query, AbsentTwiceOrBadEscape) {
    std::string v;
    EXPECT_EQ(param("", "token", v), query_status::absent);
    EXPECT_EQ(param("tokens=1&xtoken=2", "token", v), query_status::absent);
    EXPECT_EQ(param("token=1&token=1", "token", v), query_status::malformed);
    EXPECT_EQ(param("token=%zz", "token", v), query_status::malformed);
    EXPECT_EQ(param("token=%2", "token", v), query_status::malformed);
    EXPECT_EQ(param("to%zzken=1", "token", v), query_status::absent) << "a bad name is someone else's";
}

}  // namespace
}  // namespace wsring::proto
