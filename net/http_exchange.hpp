// One plain HTTP/1.1 request on a connection while it is read and answered:
// the request parser (the request's fields are views into it) and, for a
// body (RFC 9112 §6.2: Content-Length bytes after the header block), the
// bytes that came in earlier reads. A connection holds one only from a
// request's first byte to its answer, never between keep-alive requests, so
// an idle connection holds no heap. It only keeps and counts bytes: which
// answer, keep-alive or close, is net/session.cpp's ("plain HTTP").
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proto/handshake.hpp"

namespace wsring::net {

class http_exchange {
public:
    explicit http_exchange(std::size_t max_header) : parser_(max_header) {}

    proto::request_parser& parser() { return parser_; }
    const proto::http_request& request() const { return parser_.request(); }

    // The header block is complete and `length` (> 0, within the caller's
    // cap) body bytes follow it.
    void expect_body(std::uint64_t length) { body_left_ = length; }
    bool reading_body() const { return body_left_ > 0; }
    // Takes up to the rest of the body from `in`; `used` says how many bytes.
    // True once the last byte is in, with `body` the whole body: a view of
    // `in` when the body came in this one read (no copy), else of the bytes
    // gathered here. Valid while `in` and this exchange are.
    bool take_body(std::span<const std::byte> in, std::size_t& used,
                   std::span<const std::byte>& body);

    // While an answer is deferred: the bytes that came after the request (a
    // pipelined next request, in one read or several), read again once it
    // is sent. Returns how many are held now.
    std::size_t hold(std::span<const std::byte> rest) {
        held_.insert(held_.end(), rest.begin(), rest.end());
        return held_.size();
    }
    std::vector<std::byte> take_held() { return std::move(held_); }

private:
    proto::request_parser parser_;
    std::vector<std::byte> held_;
    // Grown as bytes arrive, never reserved from Content-Length: a claimed
    // length costs nothing until the bytes are really sent.
    std::vector<std::byte> body_;
    std::uint64_t body_left_ = 0;  // body bytes still to come
};

}  // namespace wsring::net
